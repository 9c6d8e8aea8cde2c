"""A business account's whole journey in Chromium, each page checked with axe-core.

create a business (a wrong number first) → invite a colleague → the colleague opens the link
from the development outbox, signs in and joins → a member is told who can invite → the
administrator makes the colleague an administrator and enrols the business in a service →
the colleague chooses to act for the business when a council's service asks.
"""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from gateway.runtime import Runtime
from tests.gateway.authorize.support import relying_party, request_params
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import PASSWORD
from tests.support.browser import assert_accessible
from tests.trust_levels.businesses.support import Person, link_token, person
from trust_levels.businesses.services import JOIN_PATH

pytestmark = pytest.mark.browser


@pytest.fixture
async def colleagues(runtime: Runtime) -> tuple[Person, Person]:
    return await person(runtime), await person(runtime)


@pytest.fixture
async def business_client(runtime: Runtime) -> dict[str, str]:
    """A council's client asking for the business scope: the parameters of its request."""
    rp = await relying_party(runtime, await new_organisation(runtime), scope="openid business")
    return request_params(rp, scope="openid business")


def _sign_in(page: Page, base_url: str, who: Person, path: str = "/sign-in") -> None:
    page.goto(base_url + path)
    page.get_by_label("Email address").fill(who.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _invitation_path(page: Page, base_url: str, email: str) -> str:
    page.goto(f"{base_url}/dev/outbox")
    message = page.locator("[data-outbox-message]").filter(has_text=email).first
    return f"{JOIN_PATH}/{link_token(message.locator('[data-body]').inner_text())}"


def test_create_invite_join_change_role_enrol_and_act_for_the_business(
    page: Page,
    browser: Chromium,
    gateway_url: str,
    colleagues: tuple[Person, Person],
    business_client: dict[str, str],
) -> None:
    owner, colleague = colleagues
    name = f"Anytown Bakery {secrets.token_hex(3)} Ltd"

    _sign_in(page, gateway_url, owner)
    page.get_by_role("link", name="Businesses you belong to").click()
    expect(page.get_by_role("heading", name="Your businesses")).to_be_visible()
    assert_accessible(page, "your businesses, none yet")
    page.get_by_role("button", name="Create a business").click()
    assert_accessible(page, "create a business")
    page.get_by_label("Name of the business").fill(name)
    page.get_by_label("Company").check()
    page.get_by_label("Registered number").fill("XX123")
    page.get_by_label("This is an agent organisation").check()
    page.get_by_role("button", name="Create business").click()
    expect(
        page.get_by_text("Enter a Companies House number in the correct format").first
    ).to_be_visible()
    assert_accessible(page, "create a business, with an error")
    page.get_by_label("Registered number").fill(f"{secrets.randbelow(10**8):08d}")
    page.get_by_role("button", name="Create business").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("Your business has been created")).to_be_visible()
    assert_accessible(page, "the business")

    page.get_by_role("button", name="Invite someone").click()
    assert_accessible(page, "invite someone")
    page.get_by_label("Email address").fill(colleague.email)
    page.get_by_label("Member", exact=True).check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent")).to_be_visible()
    expect(page.locator(f"[data-invitation='{colleague.email}']")).to_be_visible()
    assert_accessible(page, "the business, with an invitation waiting")

    # The colleague, in a browser of their own, follows the emailed link.
    other = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    theirs = other.new_page()
    path = _invitation_path(theirs, gateway_url, colleague.email)
    theirs.goto(gateway_url + path)
    expect(theirs.get_by_role("heading", name=f"Join {name}")).to_be_visible()
    assert_accessible(theirs, "an invitation, not signed in")
    theirs.get_by_role("button", name="Sign in").click()
    theirs.get_by_label("Email address").fill(colleague.email)
    theirs.get_by_label("Password", exact=True).fill(PASSWORD)
    theirs.get_by_role("button", name="Sign in").click()
    expect(theirs.get_by_role("button", name="Accept and join")).to_be_visible()
    assert_accessible(theirs, "an invitation, signed in with the invited address")
    theirs.get_by_role("button", name="Accept and join").click()
    expect(theirs.get_by_text("You have joined the business")).to_be_visible()

    theirs.goto(theirs.url.split("?")[0] + "/invite")
    expect(theirs.get_by_role("heading", name="Only administrators can do that")).to_be_visible()
    expect(theirs.locator("[data-administrators]")).to_contain_text(owner.email)
    assert_accessible(theirs, "only administrators can invite")

    page.reload()
    page.locator(f"[data-member='{colleague.email}']").get_by_role("link", name="Change").click()
    assert_accessible(page, "change a member's access")
    page.get_by_label("Administrator", exact=True).check()
    page.get_by_role("button", name="Change role").click()
    expect(page.get_by_text("The member's access has been changed")).to_be_visible()
    expect(page.locator(f"[data-member='{colleague.email}'] [data-role]")).to_have_text(
        "Administrator"
    )

    page.get_by_label("Enrol the business in a service").fill("Parking permits")
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_text("Enter the service's name as its scope").first).to_be_visible()
    assert_accessible(page, "the business, with a bad service name")
    page.get_by_label("Enrol the business in a service").fill("parking-permits")
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("[data-services]")).to_contain_text("parking-permits")
    assert_accessible(page, "the business, enrolled in a service")

    # A council's service asks whom the colleague acts for.
    held = httpx.post(f"{gateway_url}/authorize", data=business_client)
    request_id = re.search(r"request=([A-Za-z0-9_-]+)", held.headers["location"])
    assert request_id is not None, held.text
    theirs.goto(f"{gateway_url}/authorize/business?request={request_id.group(1)}")
    expect(theirs.get_by_role("heading", name="Who are you acting for?")).to_be_visible()
    assert_accessible(theirs, "who are you acting for")
    theirs.get_by_role("button", name="Continue").click()
    expect(theirs.get_by_text("Select who you are acting for").first).to_be_visible()
    assert_accessible(theirs, "who are you acting for, with an error")
    theirs.get_by_label(name).check()
    theirs.get_by_role("button", name="Continue").click()
    expect(theirs).not_to_have_url(re.compile(r"/authorize/business"))
    other.close()
