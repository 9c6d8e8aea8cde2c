"""The account pages over real HTTP: password rules, no enumeration, CSRF, fresh session ids."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.support.accounts import PASSWORD, create_account, new_email, sign_in
from tests.support.web import Browser, latest_code

OpenBrowser = Callable[..., Browser]


def _create(browser: Browser, email: str, password: str) -> httpx.Response:
    return browser.submit(
        "/create-account", "/create-account", {"email": email, "password": password}
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [("seven77", "8 characters or more"), ("password1", "harder to guess")],
    ids=["seven-characters", "common"],
)
def test_weak_passwords_are_refused_with_guidance(
    open_browser: OpenBrowser, password: str, message: str
) -> None:
    response = _create(open_browser(), new_email(), password)
    assert response.status_code == 400
    assert message in response.text
    assert "There is a problem" in response.text


def test_a_100_character_password_is_accepted(open_browser: OpenBrowser) -> None:
    response = _create(open_browser(), new_email(), "long passphrase " * 6 + "abcd")
    assert response.url.path == "/create-account/check-email"


def _without(text: str, *values: str) -> str:
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    text = re.sub(r'nonce="[^"]+"', "", text)
    for value in values:
        text = text.replace(value, "EMAIL")
    return text


def test_creating_an_account_for_a_taken_address_looks_the_same(open_browser: OpenBrowser) -> None:
    """No enumeration: the second registrant sees what the first did; the owner is told."""
    owner = open_browser()
    email = create_account(owner)
    fresh = new_email()
    taken = _create(open_browser(), email, PASSWORD)
    free = _create(open_browser(), fresh, PASSWORD)
    assert (taken.status_code, taken.url.path) == (free.status_code, free.url.path)
    assert _without(taken.text, email) == _without(free.text, fresh)
    assert "already" in owner.get(f"/dev/outbox?to={email}").text.lower()


def test_sign_in_failure_is_the_same_for_unknown_and_known_addresses(
    open_browser: OpenBrowser,
) -> None:
    email = create_account(open_browser())
    unknown = new_email()
    known = open_browser().submit(
        "/sign-in", "/sign-in", {"email": email, "password": "wrong password 1"}
    )
    other = open_browser().submit(
        "/sign-in", "/sign-in", {"email": unknown, "password": "wrong password 1"}
    )
    assert known.status_code == other.status_code == 400
    assert _without(known.text, email) == _without(other.text, unknown)


def test_password_reset_looks_the_same_for_unknown_and_known_addresses(
    open_browser: OpenBrowser,
) -> None:
    email = create_account(open_browser())
    unknown = new_email()
    known = open_browser().submit("/forgot-password", "/forgot-password", {"email": email})
    other = open_browser().submit("/forgot-password", "/forgot-password", {"email": unknown})
    assert (known.status_code, known.url.path) == (other.status_code, other.url.path)
    assert _without(known.text, email) == _without(other.text, unknown)


def test_a_form_post_without_the_csrf_token_is_refused(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    browser.get("/sign-in")
    response = browser.post(
        "/sign-in", {"email": "a@example.org", "password": PASSWORD}, csrf=False
    )
    assert response.status_code == 403
    assert "Your form has expired" in response.text


def test_a_csrf_token_from_another_session_is_refused(open_browser: OpenBrowser) -> None:
    attacker, victim = open_browser(), open_browser()
    attacker.get("/sign-in")
    victim.get("/sign-in")
    victim.csrf = attacker.csrf
    response = victim.post("/sign-in", {"email": "a@example.org", "password": PASSWORD})
    assert response.status_code == 403


def test_the_pre_sign_in_session_cookie_is_dead_after_sign_in(
    open_browser: OpenBrowser, web_url: str
) -> None:
    email = create_account(open_browser())
    browser = open_browser()
    browser.get("/sign-in")
    before = dict(browser.client.cookies)
    assert sign_in(browser, email) == "/account"
    after = dict(browser.client.cookies)
    name = next(n for n in before if n.endswith("gc_session"))
    assert before[name] != after[name]
    replayed = Browser(web_url, {"X-Forwarded-For": browser.headers["X-Forwarded-For"]})
    replayed.client.cookies.set(name, before[name])
    assert replayed.get("/account").url.path == "/sign-in"
    replayed.close()


def test_account_pages_send_a_stranger_to_sign_in_and_back(open_browser: OpenBrowser) -> None:
    response = open_browser().get("/account/sessions")
    assert response.url.path == "/sign-in"
    assert 'name="next" value="/account/sessions"' in response.text


def test_changing_the_password_ends_the_other_sessions(open_browser: OpenBrowser) -> None:
    first = open_browser()
    email = create_account(first)
    second = open_browser()
    assert sign_in(second, email) == "/account"
    new_password = "violet harbour eleven 7"
    response = first.submit(
        "/account/password",
        "/account/password",
        {"current_password": PASSWORD, "new_password": new_password},
    )
    assert response.url.path == "/account" and "password has been changed" in response.text
    assert second.get("/account").url.path == "/sign-in"
    assert first.get("/account").url.path == "/account"
    assert sign_in(open_browser(), email, new_password) == "/account"


def test_ending_another_session_from_the_sessions_page(open_browser: OpenBrowser) -> None:
    first = open_browser()
    email = create_account(first)
    second = open_browser()
    assert sign_in(second, email) == "/account"
    page = first.get("/account/sessions").text
    handle = re.search(r'name="handle" value="([0-9a-f]+)"', page)
    assert handle is not None
    first.post("/account/sessions/end", {"handle": handle.group(1)})
    assert second.get("/account").url.path == "/sign-in"
    assert first.get("/account").url.path == "/account"


def test_deleting_the_account_frees_the_address(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    response = browser.submit("/account/delete", "/account/delete", {"password": PASSWORD})
    assert "Your account has been deleted" in response.text
    assert sign_in(open_browser(), email) == "/sign-in"
    assert create_account(open_browser(), email) == email


def test_changing_the_email_address_needs_the_code_and_a_new_sign_in(
    open_browser: OpenBrowser,
) -> None:
    browser = open_browser()
    old = create_account(browser)
    new = new_email()
    response = browser.submit(
        "/account/email", "/account/email", {"new_email": new, "password": PASSWORD}
    )
    assert response.url.path == "/account/email/confirm"
    code = latest_code(browser.get(f"/dev/outbox?to={new}").text)
    browser.get("/account/email/confirm")
    response = browser.post("/account/email/confirm", {"code": code})
    assert response.url.path == "/sign-in" and "email address has been changed" in response.text
    assert browser.get("/account").url.path == "/sign-in"
    assert sign_in(open_browser(), old) == "/sign-in"
    assert sign_in(open_browser(), new) == "/account"


def test_a_new_account_made_from_a_sign_in_link_returns_where_the_person_was_going(
    open_browser: OpenBrowser,
) -> None:
    browser = open_browser()
    page = browser.get("/sign-in?next=/account/sessions").text
    assert 'href="/create-account?next=/account/sessions"' in page
    email = new_email()
    browser.get("/create-account?next=/account/sessions")
    response = browser.post(
        "/create-account", {"email": email, "password": PASSWORD, "next": "/account/sessions"}
    )
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    browser.get(response.url.path)
    assert (
        browser.post("/create-account/check-email", {"code": code}).url.path == "/account/sessions"
    )


def test_an_off_site_next_is_never_followed(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    browser.get("/create-account")
    email = new_email()
    browser.post(
        "/create-account", {"email": email, "password": PASSWORD, "next": "//evil.example/"}
    )
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    browser.get("/create-account/check-email")
    assert browser.post("/create-account/check-email", {"code": code}).url.path == "/account"


def test_a_non_ascii_csrf_token_is_a_clean_refusal(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    browser.get("/sign-in")
    browser.csrf = "é" * 10
    response = browser.post("/sign-in", {"email": "a@example.org", "password": PASSWORD})
    assert response.status_code == 403 and "Your form has expired" in response.text
