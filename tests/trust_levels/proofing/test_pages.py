"""The identity pages with JavaScript off, over real HTTP: the council check (match, a miss
that never says which answer was wrong, the daily limit), the provider's signed result
(forged, replayed and someone else's refused), and the staff pages' gates."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.runtime import Runtime
from tests.support.accounts import sign_in
from tests.support.web import Browser
from tests.trust_levels.proofing.support import (
    ResidentRecord,
    new_officer,
    new_person,
    new_resident_record,
    passkey_session,
)

COUNCIL_CHECK = "/account/identity/council-check"


def answers(resident: ResidentRecord, **changes: str) -> dict[str, str]:
    born = resident.date_of_birth
    form = {
        "council": resident.council_id,
        "account_number": resident.account_number,
        "postcode": resident.postcode.lower(),
        "birth-day": str(born.day),
        "birth-month": str(born.month),
        "birth-year": str(born.year),
    }
    form.update(changes)
    return form


@pytest.fixture
async def citizen(runtime: Runtime, open_browser: Callable[..., Browser]) -> tuple[Browser, str]:
    """A signed-in citizen's browser and account id."""
    person = await new_person(runtime)
    browser = open_browser()
    assert sign_in(browser, person.email) == "/account"
    return browser, person.id


def level_of(html: str) -> str:
    match = re.search(r'data-identity-level="(P\d)"', html)
    assert match is not None, html[:2000]
    return match.group(1)


async def test_the_identity_page_needs_a_sign_in(open_browser: Callable[..., Browser]) -> None:
    response = open_browser().get("/account/identity")
    assert response.url.path == "/sign-in"
    assert parse_qs(response.url.query.decode())["next"] == ["/account/identity"]


async def test_matching_council_answers_add_evidence(
    runtime: Runtime, citizen: tuple[Browser, str], council_id: str
) -> None:
    browser, _ = citizen
    resident = await new_resident_record(runtime, council_id)
    response = browser.submit(COUNCIL_CHECK, COUNCIL_CHECK, answers(resident))
    assert response.url.path == "/account/identity", response.text[:2000]
    assert "Your council tax record matched" in response.text
    assert "Council tax record" in response.text and "records" in response.text
    assert level_of(response.text) == "P0"  # modest: alone it meets no profile


async def test_a_miss_says_the_same_whichever_answer_was_wrong(
    runtime: Runtime, citizen: tuple[Browser, str], council_id: str
) -> None:
    browser, _ = citizen
    resident = await new_resident_record(runtime, council_id)
    wrong_postcode = browser.submit(
        COUNCIL_CHECK, COUNCIL_CHECK, answers(resident, postcode="ZZ9 9ZZ")
    )
    wrong_year = browser.submit(
        COUNCIL_CHECK, COUNCIL_CHECK, answers(resident, **{"birth-year": "1979"})
    )
    for response, left in ((wrong_postcode, 2), (wrong_year, 1)):
        assert response.status_code == 400
        assert f"You have {left} tries left today" in response.text
        assert "postcode is" not in response.text.lower()
        assert "date of birth is" not in response.text.lower()


async def test_the_council_check_stops_after_three_tries(
    runtime: Runtime, citizen: tuple[Browser, str], council_id: str
) -> None:
    browser, account_id = citizen
    resident = await new_resident_record(runtime, council_id)
    for _ in range(3):
        browser.submit(COUNCIL_CHECK, COUNCIL_CHECK, answers(resident, postcode="ZZ9 9ZZ"))
    limited = browser.submit(COUNCIL_CHECK, COUNCIL_CHECK, answers(resident))
    assert limited.status_code == 429
    assert "You cannot try the council tax check again today" in limited.text
    assert await runtime.proofing.evidence.records(account_id) == []


async def test_missing_answers_are_asked_for_without_using_a_try(
    runtime: Runtime, citizen: tuple[Browser, str]
) -> None:
    browser, account_id = citizen
    response = browser.submit(COUNCIL_CHECK, COUNCIL_CHECK, {"birth-day": "31", "birth-month": "2"})
    assert response.status_code == 400
    for text in (
        "Select your council",
        "Enter your council tax account number",
        "Enter the postcode",
        "Date of birth must be a real date",
    ):
        assert text in response.text
    assert await runtime.proofing.council_check.tries_left(account_id) == 3


async def test_the_council_check_form_needs_its_csrf_token(
    citizen: tuple[Browser, str], council_id: str
) -> None:
    browser, _ = citizen
    browser.get(COUNCIL_CHECK)
    response = browser.post(COUNCIL_CHECK, {"council": council_id}, csrf=False)
    assert response.status_code == 403


# --- The provider --------------------------------------------------------------------------


def start_provider(browser: Browser) -> str:
    """Press "Prove your identity online"; returns the development provider's transaction."""
    response = browser.submit("/account/identity", "/account/identity/provider", {})
    assert response.url.path == "/dev/identity-provider", response.text[:1000]
    return parse_qs(response.url.query.decode())["transaction"][0]


def provider_result(browser: Browser, transaction: str, outcome: str) -> str:
    """The signed result the development provider sends back (without following it)."""
    browser.get(f"/dev/identity-provider?transaction={transaction}")
    response = browser.client.post(
        "/dev/identity-provider",
        data={"csrf_token": browser.csrf, "transaction": transaction, "outcome": outcome},
        follow_redirects=False,
    )
    location = urlsplit(response.headers["location"])
    assert location.path == "/account/identity/provider/return"
    return parse_qs(location.query)["result"][0]


async def test_the_provider_flow_works_with_javascript_off(citizen: tuple[Browser, str]) -> None:
    browser, _ = citizen
    result = provider_result(browser, start_provider(browser), "medium")
    response = browser.get(f"/account/identity/provider/return?result={result}")
    assert response.url.path == "/account/identity"
    assert "The identity-proving service confirmed who you are" in response.text
    assert level_of(response.text) == "P2"


async def test_a_forged_provider_result_is_refused(citizen: tuple[Browser, str]) -> None:
    browser, _ = citizen
    genuine = provider_result(browser, start_provider(browser), "low")
    header, payload, signature = genuine.split(".")
    forged = f"{header}.{payload[:-4]}AAAA.{signature}"
    for result in (forged, "eyJhbGciOiJub25lIn0.e30.", "x" * 9000):
        response = browser.get(f"/account/identity/provider/return?result={result}")
        assert response.status_code in (400, 422), response.status_code
    assert level_of(browser.get("/account/identity").text) == "P0"


async def test_a_provider_result_cannot_be_replayed_or_used_by_someone_else(
    runtime: Runtime, citizen: tuple[Browser, str], open_browser: Callable[..., Browser]
) -> None:
    browser, _ = citizen
    result = provider_result(browser, start_provider(browser), "high")
    other = open_browser()
    assert sign_in(other, (await new_person(runtime)).email) == "/account"
    stolen = other.get(f"/account/identity/provider/return?result={result}")
    assert stolen.status_code == 400
    assert "We could not use the answer" in stolen.text
    assert browser.get(f"/account/identity/provider/return?result={result}").status_code == 200
    replayed = browser.get(f"/account/identity/provider/return?result={result}")
    assert replayed.status_code == 400


# --- Staff pages ---------------------------------------------------------------------------


async def test_a_non_officer_is_told_the_staff_pages_are_for_officers(
    citizen: tuple[Browser, str],
) -> None:
    browser, _ = citizen
    response = browser.get("/staff/identity")
    assert response.status_code == 403
    assert "This page is for identity officers" in response.text


async def test_an_officer_signed_in_with_a_password_is_sent_to_step_up(
    runtime: Runtime, open_browser: Callable[..., Browser], council_id: str
) -> None:
    officer = await new_officer(runtime, council_id)
    browser = open_browser()
    account = await runtime.accounts.get(officer.account_id)
    assert sign_in(browser, account.email) == "/account"
    person = await new_person(runtime)
    for path in ("/staff/identity", f"/staff/identity/people/{person.id}"):
        response = browser.get(path)
        assert response.status_code == 403
        assert "Sign in with your passkey" in response.text
        assert 'href="/account/passkeys"' in response.text
    recorded = browser.post(
        f"/staff/identity/people/{person.id}/evidence",
        {
            "kind": "passport",
            "strength": "4",
            "validity": "4",
            "activity": "4",
            "fraud": "4",
            "verification": "4",
        },
    )
    assert recorded.status_code == 403
    assert await runtime.proofing.evidence.records(person.id) == []


def officer_browser(open_browser: Callable[..., Browser], cookie: str) -> Browser:
    browser = open_browser()
    browser.client.cookies.set("gc_session", cookie)
    return browser


async def test_an_officer_at_the_high_level_records_and_withdraws_evidence(
    runtime: Runtime, open_browser: Callable[..., Browser], council_id: str
) -> None:
    officer = await new_officer(runtime, council_id)
    person = await new_person(runtime)
    browser = officer_browser(open_browser, await passkey_session(runtime, officer.account_id))
    found = browser.submit("/staff/identity", "/staff/identity/find", {"email": person.email})
    assert found.url.path == f"/staff/identity/people/{person.id}", found.text[:1000]
    recorded = browser.post(
        f"/staff/identity/people/{person.id}/evidence",
        {
            "kind": "passport",
            "strength": "3",
            "validity": "2",
            "activity": "0",
            "fraud": "1",
            "verification": "2",
        },
    )
    assert "The evidence has been recorded" in recorded.text
    assert level_of(recorded.text) == "P1"
    [record] = await runtime.proofing.evidence.records(person.id)
    no_reason = browser.post(
        f"/staff/identity/people/{person.id}/withdraw", {"record": record.id, "reason": ""}
    )
    assert no_reason.status_code == 400
    assert "Enter why you are withdrawing" in no_reason.text
    withdrawn = browser.post(
        f"/staff/identity/people/{person.id}/withdraw",
        {"record": record.id, "reason": "Scanned the wrong passport"},
    )
    assert "The evidence has been withdrawn" in withdrawn.text
    assert level_of(withdrawn.text) == "P0"


async def test_out_of_range_scores_on_the_staff_form_are_refused(
    runtime: Runtime, open_browser: Callable[..., Browser], council_id: str
) -> None:
    officer = await new_officer(runtime, council_id)
    person = await new_person(runtime)
    browser = officer_browser(open_browser, await passkey_session(runtime, officer.account_id))
    browser.get(f"/staff/identity/people/{person.id}")
    for form in (
        {
            "kind": "passport",
            "strength": "9",
            "validity": "2",
            "activity": "0",
            "fraud": "0",
            "verification": "0",
        },
        {
            "kind": "council_record",
            "strength": "2",
            "validity": "2",
            "activity": "0",
            "fraud": "0",
            "verification": "0",
        },
        {
            "kind": "passport",
            "strength": "",
            "validity": "2",
            "activity": "0",
            "fraud": "0",
            "verification": "0",
        },
    ):
        response = browser.post(f"/staff/identity/people/{person.id}/evidence", form)
        assert response.status_code == 400, form
        assert "There is a problem" in response.text
    assert await runtime.proofing.evidence.records(person.id) == []


async def test_an_officer_cannot_record_their_own_evidence_on_the_page(
    runtime: Runtime, open_browser: Callable[..., Browser], council_id: str
) -> None:
    officer = await new_officer(runtime, council_id)
    browser = officer_browser(open_browser, await passkey_session(runtime, officer.account_id))
    page = browser.get(f"/staff/identity/people/{officer.account_id}")
    assert "Record a document you have checked" not in page.text
    browser.get("/staff/identity")  # a page with a form, for a CSRF token to post with
    response = browser.post(
        f"/staff/identity/people/{officer.account_id}/evidence",
        {
            "kind": "passport",
            "strength": "4",
            "validity": "4",
            "activity": "4",
            "fraud": "4",
            "verification": "4",
        },
    )
    assert response.status_code == 400
    assert await runtime.proofing.evidence.records(officer.account_id) == []


async def test_an_unknown_held_request_shows_the_expired_page(
    citizen: tuple[Browser, str],
) -> None:
    browser, _ = citizen
    response = browser.get("/authorize/prove-identity?request=authz_AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 400
