"""The sign-in and consent pages for a council's service in Chromium, checked with axe-core,
ending at the council's redirect URI with a code and ``iss``."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    RelyingParty,
    authorize_path,
    relying_party,
    request_params,
)
from tests.support.accounts import PASSWORD, new_email
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.browser

COUNCIL_PAGE = '<!DOCTYPE html><html lang="en-GB"><title>Council</title><h1>Council</h1></html>'


@pytest.fixture
async def council(runtime: Runtime, organisation_id: str) -> tuple[RelyingParty, str]:
    """A third-party council client and a verified account to sign in with."""
    rp = await relying_party(runtime, organisation_id)
    email = new_email()
    await runtime.accounts.create(
        email, PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )
    return rp, email


def test_the_consent_page_is_accessible_and_allow_returns_a_code(
    page: Page, gateway_url: str, council: tuple[RelyingParty, str], issuer: str
) -> None:
    rp, email = council

    def at_the_council(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=COUNCIL_PAGE)

    # The council's website is not running: Chromium is answered for it here.
    page.route(re.compile(r"^https://permits\.anytown\.example/"), at_the_council)
    params = request_params(rp, scope="openid email profile", login_hint=email)
    page.goto(gateway_url + authorize_path(params))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(email)
    assert_accessible(page, "sign in to continue to a council service")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    heading = f"Share your details with {rp.client.client_name}"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_text("see your email address")).to_be_visible()
    assert_accessible(page, "consent")

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"^https://permits\.anytown\.example/"))
    landed = urlsplit(page.url)
    answer = {name: values[0] for name, values in parse_qs(landed.query).items()}
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == REDIRECT_URI
    assert answer["state"] == params["state"] and answer["iss"] == issuer
    assert answer["code"]


def test_the_page_shown_instead_of_an_unsafe_redirect_is_accessible(
    page: Page, gateway_url: str, council: tuple[RelyingParty, str]
) -> None:
    rp, _ = council
    params = request_params(rp, redirect_uri="https://attacker.example/steal")
    response = page.goto(gateway_url + authorize_path(params))
    assert response is not None and response.status == 400
    expect(
        page.get_by_role("heading", name="We cannot send you back to the service")
    ).to_be_visible()
    assert_accessible(page, "refused authorization request")
