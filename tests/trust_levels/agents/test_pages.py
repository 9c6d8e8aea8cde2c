"""The agent and client pages in Chromium, each checked with axe-core: an agency administrator
asks a client for authority; the client opens the emailed link, signs in, steps up to the
level the service demands, gets a known fact wrong, then accepts; both sides see the
relationship and the client withdraws it. A member who is not an administrator cannot
invite."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from gateway.runtime import Runtime
from tests.support.accounts import PASSWORD
from tests.support.browser import assert_accessible
from tests.trust_levels.agents.support import SERVICE, Agency, agency, staff
from tests.trust_levels.businesses.support import Person, person

pytestmark = pytest.mark.browser


@pytest.fixture
async def firm(runtime: Runtime) -> Agency:
    return await agency(runtime)


@pytest.fixture
async def client(runtime: Runtime) -> Person:
    return await person(runtime)


@pytest.fixture
async def member(runtime: Runtime, firm: Agency) -> Person:
    return await staff(runtime, firm)


def _sign_in(page: Page, base_url: str, email: str, path: str) -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _newest_email(page: Page, base_url: str, email: str) -> str:
    outbox = page.context.new_page()
    outbox.goto(f"{base_url}/dev/outbox?to={email}")
    body = outbox.locator("[data-outbox-message] [data-body]").first.inner_text()
    outbox.close()
    return body


def _fill_facts(page: Page, postcode: str, day: str, month: str, year: str) -> None:
    page.get_by_label("Postcode").fill(postcode)
    page.get_by_label("Day").fill(day)
    page.get_by_label("Month").fill(month)
    page.get_by_label("Year").fill(year)


def test_invite_step_up_wrong_fact_accept_and_withdraw(
    page: Page, browser: Chromium, web_url: str, firm: Agency, client: Person
) -> None:
    clients = f"/account/businesses/{firm.business.id}/clients"
    _sign_in(page, web_url, firm.admin.email, clients)
    expect(page.get_by_role("heading", name=re.compile("Clients of"))).to_be_visible()
    assert_accessible(page, "agency clients, empty")

    page.get_by_role("link", name="Ask a client for authority").click()
    assert_accessible(page, "invite a client")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "invite a client, with errors")
    page.get_by_label("Client's email address").fill(client.email)
    page.get_by_label(SERVICE).check()
    page.get_by_label("Client's postcode").fill("SW1A 1AA")
    birth = page.get_by_role("group", name="Client's date of birth")
    birth.get_by_label("Day").fill("27")
    birth.get_by_label("Month").fill("3")
    birth.get_by_label("Year").fill("1980")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent")).to_be_visible()
    expect(page.locator("[data-relationship] [data-state]")).to_have_text("Pending")
    assert_accessible(page, "agency clients, one pending")

    link = re.search(
        r"https?://\S+/account/agents/invitations/\S+", _newest_email(page, web_url, client.email)
    )
    assert link is not None
    path = link.group(0)[link.group(0).index("/account/") :]

    other = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    client_page = other.new_page()
    _sign_in(client_page, web_url, client.email, path)
    expect(
        client_page.get_by_role("heading", name="Confirm it is you before you answer")
    ).to_be_visible()
    assert_accessible(client_page, "invitation, step-up needed")
    client_page.get_by_role("button", name="Continue").click()
    code = re.search(r"\b(\d{6})\b", _newest_email(client_page, web_url, client.email))
    assert code is not None
    client_page.get_by_label("Code from the email").fill(code.group(1))
    client_page.get_by_role("button", name="Continue").click()

    expect(
        client_page.get_by_role("heading", name=re.compile("has asked to act for you"))
    ).to_be_visible()
    assert_accessible(client_page, "invitation")
    _fill_facts(client_page, "SW1A 1AA", "28", "3", "1980")
    client_page.get_by_label(re.compile("Your name, as")).fill("Jo Client")
    client_page.get_by_role("button", name="Accept").click()
    expect(client_page.get_by_text("does not match what the agent gave").first).to_be_visible()
    assert_accessible(client_page, "invitation, facts do not match")

    _fill_facts(client_page, "sw1a1aa", "27", "03", "1980")
    client_page.get_by_role("button", name="Accept").click()
    expect(client_page.get_by_text("You have given the agent authority")).to_be_visible()
    expect(client_page.locator("[data-relationship]")).to_contain_text(firm.business.name)
    assert_accessible(client_page, "who can act for you")

    page.reload()
    expect(page.locator("[data-relationship] [data-state]")).to_have_text("Active")
    expect(page.locator("[data-relationship] h2")).to_have_text("Jo Client")

    client_page.get_by_role("button", name=re.compile("Withdraw authority")).click()
    expect(client_page.get_by_text("The authority has been withdrawn")).to_be_visible()
    expect(client_page.locator("[data-relationship]")).to_have_count(0)
    page.reload()
    expect(page.locator("[data-relationship] [data-state]")).to_have_text("Revoked")

    client_page.goto(f"{web_url}{path}")
    expect(
        client_page.get_by_role("heading", name="This invitation link is not valid")
    ).to_be_visible()
    assert_accessible(client_page, "used invitation link")
    other.close()


def test_a_member_who_is_not_an_administrator_cannot_invite(
    page: Page, web_url: str, firm: Agency, member: Person
) -> None:
    clients = f"/account/businesses/{firm.business.id}/clients"
    _sign_in(page, web_url, member.email, clients)
    expect(page.get_by_role("link", name="Ask a client for authority")).to_have_count(0)
    page.goto(f"{web_url}{clients}/invite")
    expect(page.get_by_role("heading", name="Only administrators can do that")).to_be_visible()
    assert_accessible(page, "invite refused to a member")
