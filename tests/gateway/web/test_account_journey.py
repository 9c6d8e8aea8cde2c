"""A citizen's whole account journey in Chromium, each page checked with axe-core.

create account → verify the email with the code from the outbox → set up an authenticator
app → sign out → sign in with password and authenticator code → see the sessions → end
another session.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD, new_email, next_totp
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.browser


def _code_from_outbox(page: Page, base_url: str, email: str) -> str:
    page.goto(f"{base_url}/dev/outbox?to={email}")
    body = page.locator("[data-outbox-message] [data-body]").first.inner_text()
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def test_create_verify_enrol_sign_in_and_end_another_session(
    page: Page, browser: Chromium, gateway_url: str
) -> None:
    email = new_email()

    page.goto(f"{gateway_url}/create-account")
    assert_accessible(page, "create account")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/create-account/check-email$"))
    assert_accessible(page, "check your email")

    outbox = page.context.new_page()
    code = _code_from_outbox(outbox, gateway_url, email)
    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    assert_accessible(page, "your account")

    # A second browser signs in now, with the password alone: the session to end later.
    other = browser.new_context()
    other_page = other.new_page()
    other_page.goto(f"{gateway_url}/sign-in")
    other_page.get_by_label("Email address").fill(email)
    other_page.get_by_label("Password", exact=True).fill(PASSWORD)
    other_page.get_by_role("button", name="Sign in").click()
    expect(other_page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()

    page.get_by_role("link", name="Set up an authenticator app").click()
    assert_accessible(page, "set up an authenticator app")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    assert_accessible(page, "recovery codes")
    page.get_by_role("link", name="I have saved my recovery codes").click()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    assert_accessible(page, "signed out")

    page.goto(f"{gateway_url}/sign-in")
    assert_accessible(page, "sign in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    assert_accessible(page, "enter your code")
    page.get_by_label("6-digit code").fill(next_totp(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()

    page.get_by_role("link", name="Your sessions").first.click()
    assert_accessible(page, "your sessions")
    rows = page.locator("tr[data-session]")
    expect(rows).to_have_count(2)
    page.locator("tr[data-session='other']").get_by_role("button", name=re.compile("End")).click()
    expect(page.get_by_text("That session has been ended")).to_be_visible()
    expect(page.locator("tr[data-session]")).to_have_count(1)

    other_page.reload()
    expect(other_page).to_have_url(re.compile(r"/sign-in"))
    other.close()
