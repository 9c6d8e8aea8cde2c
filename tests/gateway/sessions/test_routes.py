"""Sign-in pages over real HTTP: second factors, throttling, timeouts, client addresses, logs."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.core.settings import Settings
from tests.conftest import unique_client_address
from tests.support.accounts import (
    PASSWORD,
    create_account,
    next_totp,
    set_up_authenticator,
    sign_in,
)
from tests.support.clock import MovableClock
from tests.support.servers import threaded_gateway
from tests.support.web import Browser, latest_code

OpenBrowser = Callable[..., Browser]


def test_sign_in_with_password_and_authenticator_code(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    secret, _ = set_up_authenticator(browser)
    browser.submit("/account", "/sign-out", {})
    assert sign_in(browser, email) == "/sign-in/code"
    response = browser.submit(
        "/sign-in/code", "/sign-in/code", {"method": "totp", "code": next_totp(secret)}
    )
    assert response.url.path == "/account"
    assert "authenticator app and password" in response.text


def test_a_used_authenticator_code_is_refused(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    secret, _ = set_up_authenticator(browser)
    code = next_totp(secret)
    browser.submit("/account", "/sign-out", {})
    sign_in(browser, email)
    assert (
        browser.submit("/sign-in/code", "/sign-in/code", {"method": "totp", "code": code}).url.path
        == "/account"
    )
    again = open_browser()
    sign_in(again, email)
    replay = again.submit("/sign-in/code", "/sign-in/code", {"method": "totp", "code": code})
    assert replay.status_code == 400 and replay.url.path == "/sign-in/code"


def test_a_recovery_code_works_once(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    _, codes = set_up_authenticator(browser)
    browser.submit("/account", "/sign-out", {})
    sign_in(browser, email)
    used = browser.submit(
        "/sign-in/code?method=recovery", "/sign-in/code", {"method": "recovery", "code": codes[0]}
    )
    assert used.url.path == "/account"
    again = open_browser()
    sign_in(again, email)
    replay = again.submit(
        "/sign-in/code?method=recovery", "/sign-in/code", {"method": "recovery", "code": codes[0]}
    )
    assert replay.status_code == 400 and "already been used" in replay.text


def test_the_second_step_cannot_be_skipped(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    set_up_authenticator(browser)
    browser.submit("/account", "/sign-out", {})
    assert sign_in(browser, email) == "/sign-in/code"
    assert browser.get("/account").url.path == "/sign-in"


def test_an_emailed_code_is_an_alternative_second_factor(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    set_up_authenticator(browser)
    browser.submit("/account", "/sign-out", {})
    sign_in(browser, email)
    browser.submit("/sign-in/code", "/sign-in/email-code", {})
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    response = browser.submit(
        "/sign-in/code?method=email", "/sign-in/code", {"method": "email", "code": code}
    )
    assert response.url.path == "/account" and "emailed code" in response.text


def test_many_wrong_passwords_slow_the_attacker_but_not_the_owner(
    open_browser: OpenBrowser, web_settings: Settings
) -> None:
    """50 wrong passwords from an attacker's address are throttled with growing waits; the
    owner, on a browser that signed in before, still signs in with the right password."""
    owner = open_browser()
    email = create_account(owner)
    owner.submit("/account", "/sign-out", {})
    attacker = open_browser()
    statuses, waits = [], []
    for attempt in range(50):
        response = attacker.submit(
            "/sign-in", "/sign-in", {"email": email, "password": f"guess {attempt}"}
        )
        statuses.append(response.status_code)
        if wait := re.search(r"Wait (\d+) seconds", response.text):
            waits.append(int(wait.group(1)))
    assert statuses.count(429) > 0, "the attacker was never slowed down"
    assert 200 not in statuses
    assert sign_in(owner, email) == "/account"


def test_after_the_wait_the_right_password_works_even_without_a_device_cookie(
    open_browser: OpenBrowser, web_settings: Settings
) -> None:
    email = create_account(open_browser())
    attacker = open_browser()
    for attempt in range(10):
        attacker.submit("/sign-in", "/sign-in", {"email": email, "password": f"guess {attempt}"})
    time.sleep(web_settings.signin_account_max_delay_seconds + 0.2)
    assert sign_in(open_browser(), email) == "/account"


def test_a_spoofed_forwarded_for_does_not_change_the_client_address(gateway_url: str) -> None:
    """With no trusted proxies, X-Forwarded-For is ignored: the sessions page shows the peer."""
    browser = Browser(gateway_url, {"X-Forwarded-For": "203.0.113.77"})
    create_account(browser)
    page = browser.get("/account/sessions").text
    assert "127.0.0.1" in page and "203.0.113.77" not in page
    browser.close()


def test_the_session_ends_after_the_idle_timeout(settings: Settings) -> None:
    clock = MovableClock()
    with threaded_gateway(settings, clock) as base_url:
        browser = Browser(base_url)
        create_account(browser)
        assert browser.get("/account").url.path == "/account"
        clock.advance(seconds=settings.session_idle_seconds + 1)
        assert browser.get("/account").url.path == "/sign-in"
        browser.close()


def test_no_password_code_secret_or_session_id_reaches_the_logs(
    open_browser: OpenBrowser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = open_browser()
    email = create_account(browser)
    secret, codes = set_up_authenticator(browser)
    totp = next_totp(secret)
    browser.submit("/account", "/sign-out", {})
    sign_in(browser, email)
    browser.submit("/sign-in/code", "/sign-in/code", {"method": "totp", "code": totp})
    cookies = list(browser.client.cookies.jar)
    secrets_seen = [
        PASSWORD,
        secret,
        totp,
        codes[1],
        browser.csrf,
        *(c.value for c in cookies if c.value),
    ]
    gateway_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert gateway_records, "the gateway wrote no logs at all"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in gateway_records)
    for value in secrets_seen:
        assert value not in logged


def test_many_people_behind_one_address_sign_in_at_once(open_browser: OpenBrowser) -> None:
    """An office or mobile network puts many people behind one address: eight sign-ins at the
    same moment, all with the right password, are all let in."""
    office = unique_client_address()
    people = [(open_browser(office), create_account(open_browser(office))) for _ in range(8)]
    for browser, _ in people:
        browser.get("/sign-in")
    with ThreadPoolExecutor(len(people)) as pool:
        ended = list(
            pool.map(
                lambda p: p[0].post("/sign-in", {"email": p[1], "password": PASSWORD}).url.path,
                people,
            )
        )
    assert ended == ["/account"] * len(people)
