"""The Tell Us Once pages with JavaScript off: the level gate and its step-up, form errors
that say what to do, and attacks — another person's move, a form without its CSRF token, a
step-up that tries to send the person elsewhere, staff looking beyond their organisation."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.moves.models import NewMove
from gateway.runtime import Runtime
from messaging.models import NewTeam
from tests.gateway.moves.support import NEW_UPRN, OLD_UPRN, address_schema, office, signed_in_at
from tests.messaging.support import new_citizen
from tests.support.accounts import create_account, sign_in
from tests.support.web import Browser, latest_code
from trust_levels.models import CredentialStrength

OpenBrowser = Callable[..., Browser]


def _step_up(browser: Browser, email: str, back: str = "/move") -> httpx.Response:
    """The level gate's second step, with the code from the outbox."""
    browser.get("/move")
    browser.post(f"/move/step-up?back={back}", {})
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    browser.get("/sign-in/code?method=email")
    return browser.post("/sign-in/code", {"method": "email", "code": code})


def _at_medium(open_browser: OpenBrowser) -> Browser:
    browser = open_browser()
    email = create_account(browser)
    assert _step_up(browser, email).url.path == "/move"
    return browser


@dataclass
class Scene:
    move_id: str
    organisation_id: str
    other_submission: str
    staff: Account


@pytest.fixture
async def scene(http: httpx.AsyncClient, runtime: Runtime) -> Scene:
    """Someone else's move, sent to two organisations; a staff member of the first."""
    tag = secrets.token_hex(3)
    first = await office(http, runtime, f"Council {tag}", address_schema("new_address"))
    second = await office(http, runtime, f"Department {tag}", address_schema("new_address"))
    owner = await new_citizen(runtime)
    new = NewMove(
        old_uprn=OLD_UPRN, new_uprn=NEW_UPRN, moving_date=date.today() - timedelta(days=1)
    )
    move = await runtime.moves.report(owner.id, new)
    await runtime.moves.consent(owner.id, move.id, [first.org_id, second.org_id])
    await runtime.moves.send(owner.id, move.id, signed_in_at(CredentialStrength.MEDIUM))
    (theirs,) = await runtime.moves.changes(second.org_id)
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=first.org_id, name="Council Tax", service="council-tax"),
        "cli:pytest",
    )
    staff = await new_citizen(runtime)
    await runtime.messaging.add_staff(team.id, staff.id, "cli:pytest")
    return Scene(move.id, first.org_id, theirs.submission_id, staff)


def test_a_password_only_session_is_offered_a_second_step_and_brought_back(
    open_browser: OpenBrowser,
) -> None:
    browser = open_browser()
    email = create_account(browser)
    gate = browser.get("/move")
    assert "Confirm it is you" in gate.text and "Postcode of your old address" not in gate.text
    assert "Postcode of your old address" in _step_up(browser, email).text


def test_a_signed_out_visitor_is_sent_to_sign_in(open_browser: OpenBrowser) -> None:
    response = open_browser().get("/move")
    assert response.url.path == "/sign-in"


def test_postcode_and_date_errors_say_what_to_do(open_browser: OpenBrowser) -> None:
    browser = _at_medium(open_browser)
    bad = browser.post("/move/addresses", {"old_postcode": "<b>", "new_postcode": "ZZ9 9ZZ"})
    assert bad.status_code == 400
    assert "Enter the postcode of your old address" in bad.text
    assert "We could not find any addresses at ZZ9 9ZZ" in bad.text and "<b>" not in bad.text
    details = {
        "old_postcode": "BF1 2AB",
        "new_postcode": "HM3 4CD",
        "old_uprn": OLD_UPRN,
        "new_uprn": NEW_UPRN,
        "day": "31",
        "month": "2",
        "year": "2026",
    }
    wrong_date = browser.post("/move/details", details)
    assert wrong_date.status_code == 400 and "Enter the date you moved" in wrong_date.text
    same = browser.post("/move/details", {**details, "new_uprn": OLD_UPRN, "day": "1"})
    assert same.status_code == 400 and "must be different" in same.text


def test_another_persons_move_is_the_not_found_page_everywhere(
    open_browser: OpenBrowser, scene: Scene
) -> None:
    browser = _at_medium(open_browser)
    base = f"/move/{scene.move_id}"
    for path in (base, base + "/check", base + "/organisations"):
        assert browser.get(path).status_code == 404, path
    for path in (
        base + "/send",
        base + "/organisations",
        f"{base}/consents/{scene.organisation_id}/withdraw",
    ):
        assert browser.post(path, {"organisations": scene.organisation_id}).status_code == 404, path
    assert scene.move_id not in browser.get("/account/moves").text


def test_a_form_without_its_csrf_token_is_refused(open_browser: OpenBrowser) -> None:
    browser = _at_medium(open_browser)
    response = browser.post(
        "/move/addresses", {"old_postcode": "BF1 2AB", "new_postcode": "HM3 4CD"}, csrf=False
    )
    assert response.status_code == 403


def test_the_step_up_never_sends_the_person_off_this_service(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    email = create_account(browser)
    landed = _step_up(browser, email, back="https://evil.example/")
    assert landed.url.host != "evil.example" and landed.url.path == "/move"


def test_staff_see_only_what_their_own_organisation_was_sent(
    open_browser: OpenBrowser, scene: Scene
) -> None:
    browser = open_browser()
    assert sign_in(browser, scene.staff.email) == "/account"
    gate = browser.get("/staff/moves")
    assert "Confirm it is you" in gate.text
    assert _step_up(browser, scene.staff.email, back="/staff/moves").url.path == "/staff/moves"
    page = browser.get("/staff/moves").text
    assert "Changes of address sent to you" in page
    assert page.count("data-submission=") == 1
    assert scene.other_submission not in page


def test_someone_on_no_team_sees_no_changes(open_browser: OpenBrowser) -> None:
    browser = _at_medium(open_browser)
    page = browser.get("/staff/moves").text
    assert "You are not on a team of any organisation." in page
