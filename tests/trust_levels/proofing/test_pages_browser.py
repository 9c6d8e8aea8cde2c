"""The identity pages in Chromium, each checked with axe-core: a citizen's council check and an
officer's in-person record lifting them to P2; the council check's miss and daily limit; the
development provider; the staff step-up page; and the prove-identity step of a council's
sign-in, which continues to the service once the person has proved enough."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, Route, expect

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    RelyingParty,
    authorize_path,
    relying_party,
    request_params,
)
from tests.support.accounts import PASSWORD
from tests.support.browser import assert_accessible
from tests.trust_levels.proofing.support import (
    ResidentRecord,
    new_council,
    new_officer,
    new_person,
    new_resident_record,
    passkey_session,
)
from trust_levels.proofing.models import Officer

pytestmark = pytest.mark.browser

COUNCIL_PAGE = '<!DOCTYPE html><html lang="en-GB"><title>Council</title><h1>Council</h1></html>'


@dataclass(frozen=True)
class Scene:
    """Made through the services before the browser starts (async fixtures share the store's
    event loop; a sync browser test cannot)."""

    person: Account
    council_id: str
    resident: ResidentRecord
    officer: Officer
    officer_email: str
    officer_cookie: str
    rp: RelyingParty


@pytest.fixture
async def scene(runtime: Runtime) -> Scene:
    council = await new_council(runtime)
    officer = await new_officer(runtime, council)
    return Scene(
        person=await new_person(runtime),
        council_id=council,
        resident=await new_resident_record(runtime, council),
        officer=officer,
        officer_email=(await runtime.accounts.get(officer.account_id)).email,
        officer_cookie=await passkey_session(runtime, officer.account_id),
        rp=await relying_party(runtime, council),
    )


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()


def answer_council_questions(page: Page, resident: ResidentRecord, postcode: str) -> None:
    page.get_by_label("Your council").select_option(resident.council_id)
    page.get_by_label("Council tax account number").fill(resident.account_number)
    page.get_by_label("Postcode on the bill").fill(postcode)
    page.get_by_label("Day").fill(str(resident.date_of_birth.day))
    page.get_by_label("Month").fill(str(resident.date_of_birth.month))
    page.get_by_label("Year").fill(str(resident.date_of_birth.year))
    page.get_by_role("button", name="Check my answers").click()


def level(page: Page) -> str:
    return str(page.locator("[data-identity-level]").get_attribute("data-identity-level"))


def test_an_officer_lifts_a_person_to_p2(
    page: Page, browser: Chromium, gateway_url: str, scene: Scene
) -> None:
    person, resident = scene.person, scene.resident

    sign_in(page, gateway_url, person.email)
    page.get_by_role("link", name=re.compile("prove your identity")).click()
    expect(page.get_by_role("heading", name="Your identity", exact=True)).to_be_visible()
    assert level(page) == "P0"
    assert_accessible(page, "your identity, no evidence")
    page.get_by_role("link", name="Answer council tax questions").click()
    assert_accessible(page, "council tax questions")
    answer_council_questions(page, resident, resident.postcode)
    expect(page.get_by_text("Your council tax record matched")).to_be_visible()
    expect(page.get_by_text("Council tax record", exact=True)).to_be_visible()
    assert_accessible(page, "your identity, with a council record")

    desk = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    desk.add_cookies([{"name": "gc_session", "value": scene.officer_cookie, "url": gateway_url}])
    staff = desk.new_page()
    staff.goto(f"{gateway_url}/staff/identity")
    expect(staff.get_by_role("heading", name="Identity checks")).to_be_visible()
    assert_accessible(staff, "staff: find a person")
    staff.get_by_label("Their email address").fill(person.email)
    staff.get_by_role("button", name="Find").click()
    expect(
        staff.get_by_role("heading", name=f"Identity evidence for {person.email}")
    ).to_be_visible()
    assert_accessible(staff, "staff: a person's evidence")
    staff.get_by_label("Document", exact=True).select_option("passport")
    staff.get_by_label("Strength of the evidence").select_option("3")
    staff.get_by_label("Validity").select_option("2")
    staff.get_by_label("Activity history").select_option("0")
    staff.get_by_label("Identity fraud").select_option("1")
    staff.get_by_label("Verification").select_option("2")
    staff.get_by_role("button", name="Record evidence").click()
    expect(staff.get_by_text("The evidence has been recorded")).to_be_visible()
    assert level(staff) == "P2"
    assert_accessible(staff, "staff: evidence recorded")

    staff.get_by_role("button", name=re.compile("Withdraw the passport")).click()
    expect(staff.get_by_text("Enter why you are withdrawing this evidence").first).to_be_visible()
    assert_accessible(staff, "staff: withdrawal without a reason")
    desk.close()

    page.reload()
    assert level(page) == "P2"
    expect(page.get_by_text(re.compile("identity profile M2B"))).to_be_visible()
    expect(page.get_by_text(re.compile("An identity officer at Testshire Council"))).to_be_visible()


def test_council_check_misses_then_the_daily_limit(
    page: Page, gateway_url: str, scene: Scene
) -> None:
    person, resident = scene.person, scene.resident
    sign_in(page, gateway_url, person.email)
    page.goto(f"{gateway_url}/account/identity/council-check")
    page.get_by_role("button", name="Check my answers").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    assert_accessible(page, "council tax questions, unanswered")
    answer_council_questions(page, resident, "ZZ9 9ZZ")
    expect(page.get_by_text("You have 2 tries left today").first).to_be_visible()
    assert_accessible(page, "council tax questions, no match")
    answer_council_questions(page, resident, "ZZ9 9ZZ")
    answer_council_questions(page, resident, "ZZ9 9ZZ")
    expect(page.get_by_text("You have no tries left today").first).to_be_visible()
    answer_council_questions(page, resident, resident.postcode)
    expect(
        page.get_by_role("heading", name="You cannot try the council tax check again today")
    ).to_be_visible()
    assert_accessible(page, "council tax check limit")


def test_the_development_provider_proves_an_identity(
    page: Page, gateway_url: str, scene: Scene
) -> None:
    person = scene.person
    sign_in(page, gateway_url, person.email)
    page.goto(f"{gateway_url}/account/identity")
    page.get_by_role("button", name="Prove your identity online").click()
    expect(page.get_by_role("heading", name="Development identity-proving service")).to_be_visible()
    assert_accessible(page, "development identity provider")
    page.get_by_label("High confidence (GPG 45 profile H1B)").check()
    page.get_by_role("button", name="Send the result to GovConnect").click()
    expect(page.get_by_text("The identity-proving service confirmed who you are")).to_be_visible()
    assert level(page) == "P3"
    expect(page.get_by_text("Identity check by an identity-proving service")).to_be_visible()


def test_the_staff_step_up_page(page: Page, gateway_url: str, scene: Scene) -> None:
    sign_in(page, gateway_url, scene.officer_email)  # a password: below Cl.Cm.Ch
    page.goto(f"{gateway_url}/staff/identity")
    heading = "Sign in with your passkey to record identity evidence"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert_accessible(page, "staff step-up")


def test_a_council_service_asking_for_p2_sends_the_person_to_prove_it(
    page: Page, gateway_url: str, scene: Scene
) -> None:
    person, rp = scene.person, scene.rp

    def at_the_council(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=COUNCIL_PAGE)

    page.route(re.compile(r"^https://permits\.anytown\.example/"), at_the_council)
    params = request_params(rp, login_hint=person.email, vtr='["Cl.P2"]')
    page.goto(gateway_url + authorize_path(params))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    heading = f"Prove your identity to continue to {rp.client.client_name}"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert level(page) == "P0"
    assert_accessible(page, "prove your identity to continue")

    page.get_by_role("button", name="Prove your identity online").click()
    page.get_by_role("button", name="Send the result to GovConnect").click()  # medium: M1B
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert level(page) == "P2"
    page.get_by_role("button", name=f"Continue to {rp.client.client_name}").click()
    expect(
        page.get_by_role("heading", name=f"Share your details with {rp.client.client_name}")
    ).to_be_visible()
