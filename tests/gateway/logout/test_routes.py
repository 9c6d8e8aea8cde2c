"""/logout over real HTTP against a live gateway (RP-Initiated Logout 1.0): an untrustworthy
request gets an error page and no redirect; a hint naming this sign-in ends it at once,
clears the cookie, redirects to the registered URI with state and tells the relying parties
by back-channel logout; anything else asks the person first, with a CSRF-protected form;
sessions ended from the account pages are announced too."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import httpx

from gateway.clients.models import Client
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from tests.gateway.logout.receiver import Receiver
from tests.gateway.logout.support import (
    SIGNED_OUT_URI,
    id_token,
    register_client,
    verified_logout_token,
)
from tests.support.accounts import create_account, sign_in
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]
REFUSED = "Sorry, we could not sign you out from that link"


async def handed_to(runtime: Runtime, browser: Browser, client: Client) -> Session:
    """The browser's session, marked as handed to ``client`` (as /authorize does)."""
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None and session.signed_in
    return await runtime.sessions.record_client(session, client.client_id)


def logout(browser: Browser, **params: str) -> httpx.Response:
    return browser.client.get("/logout?" + urlencode(params), follow_redirects=False)


def still_signed_in(browser: Browser) -> bool:
    return browser.client.get("/account", follow_redirects=False).status_code == 200


async def test_a_bad_hint_gets_an_error_page_and_no_redirect(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    create_account(browser)
    response = logout(
        browser, id_token_hint="eyJhbGciOiJub25lIn0.e30.", post_logout_redirect_uri=SIGNED_OUT_URI
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert REFUSED in response.text and "not an ID token signed by this gateway" in response.text
    assert still_signed_in(browser)
    assert client.client_id not in response.text


async def test_an_unregistered_uri_gets_an_error_page_and_no_redirect(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    create_account(browser)
    session = await handed_to(runtime, browser, client)
    assert session.account_id is not None
    hint = id_token(runtime, client, session.account_id, session.sid)
    for uri in ("https://evil.example/", SIGNED_OUT_URI + "/"):
        response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=uri)
        assert response.status_code == 400 and "location" not in response.headers
        assert "is not registered" in response.text
    assert still_signed_in(browser)


async def test_a_hint_for_this_sign_in_signs_out_at_once_and_redirects_with_state(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, receiver: Receiver
) -> None:
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    browser = open_browser()
    create_account(browser)
    session = await handed_to(runtime, browser, client)
    assert session.account_id is not None
    hint = id_token(runtime, client, session.account_id, session.sid, lifetime=-3600)
    response = logout(
        browser, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT_URI, state="af0ifjsldkj"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{SIGNED_OUT_URI}?state=af0ifjsldkj"
    assert 'gc_session=""' in response.headers["set-cookie"]  # the cookie is cleared
    assert await runtime.sessions.load(session.id) is None
    # The relying party hears of it on the back channel, from the gateway's own worker.
    (received,) = await receiver.arrival(1)
    claims = verified_logout_token(received.logout_token or "", runtime.keys.jwks()).claims
    assert claims["sid"] == session.sid and claims["aud"] == client.client_id


async def test_without_a_hint_the_person_confirms_with_a_csrf_protected_form(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    create_account(browser)
    session = await handed_to(runtime, browser, client)
    params = {"client_id": client.client_id, "post_logout_redirect_uri": SIGNED_OUT_URI}
    page = browser.get("/logout?" + urlencode({**params, "state": "s"}))
    assert page.status_code == 200 and "Sign out of GovConnect?" in page.text
    assert f"{client.client_name} asked GovConnect to sign you out" in page.text
    assert still_signed_in(browser)
    forged = browser.client.post("/logout/confirm", data={}, follow_redirects=False)
    assert forged.status_code == 403 and still_signed_in(browser)
    confirmed = browser.client.post(
        "/logout/confirm", data={"csrf_token": browser.csrf}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{SIGNED_OUT_URI}?state=s"
    assert await runtime.sessions.load(session.id) is None and not still_signed_in(browser)


async def test_a_hint_for_another_sign_in_asks_first(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """A copy of an old ID token cannot sign someone out without their say."""
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    create_account(browser)
    session = await handed_to(runtime, browser, client)
    assert session.account_id is not None
    old = id_token(runtime, client, session.account_id, "an-earlier-sign-in")
    response = logout(browser, id_token_hint=old, post_logout_redirect_uri=SIGNED_OUT_URI)
    assert response.status_code == 200 and "Sign out of GovConnect?" in response.text
    assert still_signed_in(browser)


async def test_when_nobody_is_signed_in_the_person_is_sent_straight_back(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    response = logout(
        browser, client_id=client.client_id, post_logout_redirect_uri=SIGNED_OUT_URI, state="z"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{SIGNED_OUT_URI}?state=z"
    # Without a post-logout URI the gateway says it is done, and sets no new cookie.
    done = logout(browser, client_id=client.client_id)
    assert done.status_code == 200 and "You have signed out" in done.text
    assert "set-cookie" not in done.headers


async def test_a_form_post_without_the_cookie_is_sent_on_to_the_get_form(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """A cross-site form post carries no SameSite=Lax cookie: the gateway passes the same
    parameters on to GET /logout, where the browser's cookie goes along."""
    client = await register_client(runtime, organisation_id)
    params = {"client_id": client.client_id, "post_logout_redirect_uri": SIGNED_OUT_URI}
    browser = open_browser()
    response = browser.client.post("/logout", data=params, follow_redirects=False)
    assert response.status_code == 303 and "set-cookie" not in response.headers
    assert response.headers["location"] == "/logout?" + urlencode(params)
    refused = browser.client.post(
        "/logout", data={**params, "post_logout_redirect_uri": "https://evil.example/"}
    )
    assert refused.status_code == 400 and REFUSED in refused.text


async def test_a_signed_in_form_post_is_handled_in_place(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    create_account(browser)
    session = await handed_to(runtime, browser, client)
    assert session.account_id is not None
    hint = id_token(runtime, client, session.account_id, session.sid)
    response = browser.client.post(
        "/logout",
        data={"id_token_hint": hint, "post_logout_redirect_uri": SIGNED_OUT_URI},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == SIGNED_OUT_URI
    assert not still_signed_in(browser)


async def test_a_repeated_parameter_is_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    client = await register_client(runtime, organisation_id)
    browser = open_browser()
    response = browser.client.get(
        f"/logout?client_id={client.client_id}&state=a&state=b", follow_redirects=False
    )
    assert response.status_code == 400 and "state was sent more than once" in response.text


async def test_ending_another_session_or_signing_out_is_announced(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, receiver: Receiver
) -> None:
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    laptop = open_browser()
    email = create_account(laptop)
    on_laptop = await handed_to(runtime, laptop, client)
    phone = open_browser()
    assert sign_in(phone, email) == "/account"
    on_phone = await handed_to(runtime, phone, client)
    # From the phone, end the laptop's session on the "Your sessions" page.
    phone.get("/account/sessions")
    ended = phone.post("/account/sessions/end", {"handle": on_laptop.handle})
    assert ended.url.path == "/account/sessions"
    (first,) = await receiver.arrival(1)
    assert (
        verified_logout_token(first.logout_token or "", runtime.keys.jwks()).claims["sid"]
        == on_laptop.sid
    )
    # Then sign out on the phone itself.
    phone.submit("/account", "/sign-out", {})
    second = (await receiver.arrival(2))[1]
    assert (
        verified_logout_token(second.logout_token or "", runtime.keys.jwks()).claims["sid"]
        == on_phone.sid
    )
