"""Passkeys in Chromium with the DevTools Protocol's virtual authenticator, each page checked
with axe-core: the page's own script runs the ceremonies (W3C WebAuthn Level 3 §5.1.3,
§5.1.4) against a gateway whose issuer is ``http://localhost:<port>``.

create an account → set up an authenticator app → confirm it with the second step from
"Your passkeys" → add a passkey → sign out → sign in with the passkey alone → "Your
passkeys" shows it, used → a council's request steps up with the passkey → rename it →
remove it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import CDPSession, Page, expect

from gateway.runtime import Runtime
from tests.conftest import unique_client_address
from tests.gateway.authorize.support import (
    RelyingParty,
    authorize_path,
    relying_party,
    request_params,
)
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import PASSWORD, new_email, next_totp
from tests.support.browser import TIMEOUT_MS, assert_accessible

pytestmark = pytest.mark.browser

# A platform authenticator with discoverable credentials and user verification (CTAP 2.1),
# which answers at once as if the person touched it (WebAuthn.addVirtualAuthenticator).
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture
def chromium(browser: Chromium) -> Iterator[tuple[Page, CDPSession, str]]:
    """A JavaScript-enabled page of its own context, with a virtual authenticator attached;
    yields the page, its DevTools session and the authenticator's id."""
    context = browser.new_context(
        locale="en-GB",
        timezone_id="Europe/London",
        java_script_enabled=True,
        extra_http_headers={"X-Forwarded-For": unique_client_address()},
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable")
        added: dict[str, Any] = devtools.send(
            "WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR}
        )
        yield page, devtools, added["authenticatorId"]
    finally:
        context.close()


@pytest.fixture
async def council(runtime: Runtime) -> RelyingParty:
    """A council's service (a third-party client) to start authorization requests from."""
    return await relying_party(runtime, await new_organisation(runtime))


def _code_from_outbox(page: Page, base_url: str, email: str) -> str:
    page.goto(f"{base_url}/dev/outbox?to={email}")
    body = page.locator("[data-outbox-message] [data-body]").first.inner_text()
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def test_add_a_passkey_sign_in_with_it_alone_step_up_rename_and_remove(
    chromium: tuple[Page, CDPSession, str], passkey_url: str, council: RelyingParty
) -> None:
    page, devtools, authenticator_id = chromium
    email = new_email()

    page.goto(f"{passkey_url}/create-account")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    outbox = page.context.new_page()
    page.get_by_label("Code from the email").fill(_code_from_outbox(outbox, passkey_url, email))
    outbox.close()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()

    page.goto(f"{passkey_url}/account/authenticator")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()

    # Signed in with a password only: the passkeys page asks for the second step first.
    page.goto(f"{passkey_url}/account/passkeys")
    expect(page.get_by_role("heading", name="Your passkeys")).to_be_visible()
    assert_accessible(page, "your passkeys, second step needed")
    page.get_by_role("link", name="Confirm it is you").click()
    expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    page.get_by_label("6-digit code").fill(next_totp(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account/passkeys$"))
    expect(page.get_by_text("Adding a passkey needs JavaScript")).to_be_hidden()
    assert_accessible(page, "your passkeys, ready to add one")

    page.get_by_label("Name this passkey (optional)").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Your passkey has been added")).to_be_visible()
    expect(page.locator("tr[data-passkey-row]")).to_have_count(1)
    expect(page.locator("tr[data-passkey-row]")).to_contain_text("Not used yet")
    assert_accessible(page, "your passkeys, one added")
    stored = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    [credential] = stored["credentials"]
    assert credential["isResidentCredential"] is True  # discoverable, as asked

    page.get_by_role("link", name="Sign out").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()

    page.goto(f"{passkey_url}/sign-in?next=/account/passkeys")
    expect(page.get_by_role("heading", name="Use a passkey instead")).to_be_visible()
    assert_accessible(page, "sign in, with a passkey offered")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(re.compile(r"/account/passkeys$"))
    row = page.locator("tr[data-passkey-row]")
    expect(row).to_contain_text("Work laptop")
    expect(row).not_to_contain_text("Not used yet")
    assert_accessible(page, "your passkeys, signed in with one")
    # The passkey alone reached the high, phishing-resistant level.
    page.goto(f"{passkey_url}/account")
    expect(page.get_by_text("GPG 44 high (Cl.Cm.Ch)")).to_be_visible()

    # The council's request is held while the person consents; its step-up page asks for
    # the passkey and goes back to the request.
    page.goto(passkey_url + authorize_path(request_params(council)))
    expect(page).to_have_url(re.compile(r"/authorize/consent\?request="))
    request_id = page.url.split("request=", 1)[1]
    page.goto(f"{passkey_url}/authorize/passkey?request={request_id}")
    expect(page.get_by_role("heading", name="Confirm it is you with a passkey")).to_be_visible()
    expect(page.get_by_text("Passkeys need JavaScript")).to_be_hidden()
    assert_accessible(page, "step-up with a passkey")
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(re.compile(r"/authorize/consent\?request="))

    page.goto(f"{passkey_url}/account/passkeys")
    page.get_by_role("link", name="Rename Work laptop").click()
    assert_accessible(page, "rename a passkey")
    page.get_by_label("Rename passkey").fill("Home laptop")
    page.get_by_role("button", name="Save name").click()
    expect(page.locator("tr[data-passkey-row]")).to_contain_text("Home laptop")
    page.get_by_role("link", name="Remove Home laptop").click()
    assert_accessible(page, "remove a passkey")
    page.get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_text("The passkey has been removed")).to_be_visible()
    expect(page.locator("tr[data-passkey-row]")).to_have_count(0)


def test_a_cancelled_ceremony_says_so_on_the_page(
    chromium: tuple[Page, CDPSession, str], passkey_url: str
) -> None:
    """No passkey on the authenticator for this site: the browser's ceremony fails and the
    page shows what to do, in an alert, without leaving the page."""
    page, _, _ = chromium
    page.goto(f"{passkey_url}/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("sign in with your email address and password")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    assert_accessible(page, "sign in, passkey cancelled")
