"""The logout pages in Chromium: the confirmation page ("Sign out of GovConnect?") and the
error page pass axe-core, and the confirmation's button signs the person out and sends them
to the relying party's registered URI."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from gateway.clients.models import Client
from gateway.runtime import Runtime
from tests.gateway.logout.support import register_client
from tests.support.accounts import create_account
from tests.support.browser import assert_accessible
from tests.support.web import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
async def client(runtime: Runtime, organisation_id: str, web_url: str) -> Client:
    """A client whose post-logout URI is the gateway's own sign-in page, so Chromium can
    load where it lands."""
    return await register_client(
        runtime, organisation_id, post_logout_redirect_uris=[f"{web_url}/sign-in"]
    )


def test_the_confirmation_and_error_pages_are_accessible_and_work(
    page: Page, web_url: str, client: Client
) -> None:
    browser = Browser(web_url)
    try:
        create_account(browser)
        cookie = browser.client.cookies.get("gc_session")
    finally:
        browser.close()
    assert cookie is not None
    page.context.add_cookies(
        [{"name": "gc_session", "value": cookie, "domain": urlsplit(web_url).hostname, "path": "/"}]
    )
    query = {"client_id": client.client_id, "post_logout_redirect_uri": f"{web_url}/sign-in"}
    page.goto(f"{web_url}/logout?{urlencode({**query, 'state': 'abc'})}")
    expect(page.get_by_role("heading", name="Sign out of GovConnect?")).to_be_visible()
    assert_accessible(page, "logout confirmation")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(re.escape(f"{web_url}/sign-in?state=abc")))
    page.goto(f"{web_url}/account")
    expect(page).to_have_url(re.compile(r"/sign-in"))

    page.goto(f"{web_url}/logout?{urlencode({**query, 'id_token_hint': 'not-a-token'})}")
    expect(page.get_by_role("heading", name=re.compile("could not sign you out"))).to_be_visible()
    assert_accessible(page, "logout error page")
