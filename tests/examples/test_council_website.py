"""The acceptance test of sign-in with GovConnect, end to end, in a real browser: Chromium
goes to the Demo Borough Council website (examples/council_website, a relying party built
on authlib), which sends it to a live GovConnect; the citizen signs in with password and
authenticator app and agrees to share their details; the website, authenticating with
private_key_jwt, gets tokens, shows the ID token's claims and the level reached, refreshes
its tokens, and signs out through GovConnect (RP-initiated logout), after which GovConnect
tells the website on the back channel, and prompt=none finds no session. Every GovConnect
page on the way passes axe-core."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.examples.conftest import CouncilSite, council_site, sign_in_at_govconnect

pytestmark = pytest.mark.browser


@pytest.fixture
def site(
    issuer_gateway: str, admin_headers: dict[str, str], tmp_path: Path
) -> Iterator[CouncilSite]:
    with council_site(issuer_gateway, admin_headers, tmp_path) as started:
        yield started


def claim(page: Page, name: str) -> str:
    return page.locator(f'#claims td[data-claim="{name}"]').inner_text()


def test_a_citizen_signs_in_refreshes_and_signs_out_of_the_council_website(
    page: Page,
    issuer_gateway: str,
    site: CouncilSite,
    citizen: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    email, _ = citizen
    page.goto(site.url)
    expect(page.locator("#no-backchannel")).to_be_visible()

    # GovConnect: sign in, second factor, consent; each page accessible.
    sign_in_at_govconnect(page, issuer_gateway, citizen, check_pages=True)

    # Back at the council: the ID token's claims and the level of assurance.
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("#notice")).to_have_text("You have signed in with GovConnect.")
    assert page.locator('#userinfo td[data-claim="email"]').inner_text() == email
    assert claim(page, "iss") == issuer_gateway and claim(page, "aud") == site.client_id
    assert page.locator('#level td[data-claim="acr"]').inner_text() == "Cl.Cm"
    assert set(page.locator('#level td[data-claim="amr"]').inner_text().split()) >= {
        "pwd",
        "otp",
    }
    sid = claim(page, "sid")
    assert sid and claim(page, "sub") == page.locator('#userinfo td[data-claim="sub"]').inner_text()
    first_expiry = page.locator("#access-expiry").inner_text()

    # Refresh: a rotated refresh token and a new access token with its expiry.
    time.sleep(1.1)  # so the new access token's expiry differs by at least a second
    page.get_by_role("button", name="Refresh tokens").click()
    expect(page.locator("#notice")).to_have_text("Your tokens have been refreshed.")
    assert page.locator("#refreshed-at").inner_text() != "never"
    assert page.locator("#access-expiry").inner_text() != first_expiry

    # Sign out: GovConnect ends its session at once (the ID token names it) and comes back.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(f"^{re.escape(site.url)}/\\?state="))
    expect(page.locator("#notice")).to_have_text(
        "You have signed out of Demo Borough Council and GovConnect."
    )
    expect(page.get_by_role("link", name="Sign in with GovConnect")).to_be_visible()
    assert "could not revoke" not in caplog.text  # the refresh token was revoked first

    # The back channel: GovConnect's worker posts a logout token naming the sign-in.
    deadline = time.monotonic() + 15
    while page.locator(f'#backchannel td[data-sid="{sid}"]').count() == 0:
        assert time.monotonic() < deadline, "no back-channel logout reached the website"
        time.sleep(0.2)
        page.reload()

    # GovConnect's session is gone: its account page wants a sign-in, and prompt=none fails.
    page.goto(f"{issuer_gateway}/account")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    silent = {
        "client_id": site.client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": site.config.redirect_uri,
        "state": "silent-check",
        "prompt": "none",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    with page.expect_response(re.compile(re.escape(site.config.redirect_uri))) as answer:
        page.goto(f"{issuer_gateway}/authorize?{urlencode(silent)}")
    assert "error=login_required" in answer.value.url
