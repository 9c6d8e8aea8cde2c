"""The issue's end-to-end journey in Chromium, every page checked with axe-core.

A citizen signed in with a password only is stepped up to ``Cl.Cm`` with an emailed code,
reports a move (addresses by postcode, with their UPRNs), agrees to tell three organisations
and sends → each organisation's back office pulls its envelope over the submissions API,
verifies it against the gateway's published keys, finds only the fields its service declared
and a subject no other organisation got, acknowledges with its own signed acknowledgement and
answers "updated" → the citizen sees three "Updated" and the confirmation in their messages.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from gateway.delivery.envelope import open_envelope
from gateway.runtime import Runtime
from tests.gateway.delivery.support import acknowledgement
from tests.gateway.moves.support import Office, address_schema, office
from tests.support.accounts import PASSWORD, new_email
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.browser

MOVED = date.today() - timedelta(days=2)


@pytest.fixture
async def offices(http: httpx.AsyncClient, runtime: Runtime) -> list[Office]:
    """Three organisations registered for change of address, each declaring other fields."""
    tag = secrets.token_hex(3)
    return [
        await office(
            http,
            runtime,
            f"Council Tax {tag}",
            address_schema("old_address", "new_address", "moving_date"),
        ),
        await office(
            http,
            runtime,
            f"Electoral Services {tag}",
            address_schema("new_address", "people_moving"),
        ),
        await office(
            http, runtime, f"Vehicle Licensing {tag}", address_schema("email", "new_address")
        ),
    ]


def _newest_code(page: Page, base_url: str, email: str) -> str:
    outbox = page.context.new_page()
    outbox.goto(f"{base_url}/dev/outbox?to={email}")
    body = outbox.locator("[data-outbox-message] [data-body]").first.inner_text()
    outbox.close()
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def _create_account(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/create-account")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from the email").fill(_newest_code(page, base_url, email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()


def _receive_and_answer(
    base_url: str, issuer: str, o: Office, jwks: dict[str, object]
) -> tuple[str, dict[str, object]]:
    """The back office's side over HTTP: pull, verify, acknowledge (signed), answer."""
    with httpx.Client(base_url=base_url, headers=o.headers, timeout=10) as http:
        inbox = http.get("/api/v1/inbox").json()["submissions"]
        assert len(inbox) == 1, "one copy for this organisation, and only its own"
        submission = inbox[0]["id"]
        envelope = http.get(f"/api/v1/submissions/{submission}/envelope").json()
        opened = open_envelope(envelope, jwks)
        ack = acknowledgement(o.kit, issuer, submission, opened.payload_sha256)
        acked = http.post(
            f"/api/v1/submissions/{submission}/acknowledgement", json={"acknowledgement": ack}
        )
        assert acked.status_code == 200, acked.text
        answered = http.post(
            f"/api/v1/submissions/{submission}/response",
            json={
                "outcome": "accepted",
                "case_reference": f"{o.name[:2].upper()}-{secrets.token_hex(2)}",
            },
        )
        assert answered.status_code == 200, answered.text
        return str(opened.facts["subject"]["sub"]), opened.content


def test_a_move_reported_once_reaches_three_organisations_who_each_answer_updated(
    page: Page, web_url: str, offices: list[Office]
) -> None:
    email = new_email()
    _create_account(page, web_url, email)
    page.get_by_role("link", name="Changes of address you have reported").click()
    assert_accessible(page, "your changes of address (none yet)")
    page.get_by_role("link", name="Report a change of address").click()

    # A password alone is below the service's Cl.Cm: a second step, then back.
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert_accessible(page, "step up")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from the email").fill(_newest_code(page, web_url, email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Tell us you have moved")).to_be_visible()
    assert_accessible(page, "postcodes")

    page.get_by_label("Postcode of your old address").fill("bf1 2ab")
    page.get_by_label("Postcode of your new address").fill("HM34CD")
    page.get_by_role("button", name="Find addresses").click()
    expect(page.get_by_role("heading", name="Your move")).to_be_visible()
    assert_accessible(page, "your move")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Select your old address").first).to_be_visible()
    assert_accessible(page, "your move, with errors")
    page.get_by_label("1 Orchard Row, Brookfield, BF1 2AB").check()
    page.get_by_label("4 Station Road, Hollowmere, HM3 4CD").check()
    page.get_by_label("Day").fill(str(MOVED.day))
    page.get_by_label("Month").fill(str(MOVED.month))
    page.get_by_label("Year").fill(str(MOVED.year))
    page.get_by_label("Who is moving with you? (optional)").fill("Sam Lovelace\nAlex Lovelace")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Who should we tell?")).to_be_visible()
    assert_accessible(page, "who should we tell")
    for o in offices:
        page.get_by_label(o.name).check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Check your answers before sending")).to_be_visible()
    assert_accessible(page, "check your answers")
    expect(page.locator("tr[data-organisation]")).to_have_count(3)
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_text("Your change of address has been sent.")).to_be_visible()
    assert_accessible(page, "progress, sent")
    expect(page.locator("[data-status='sent']")).to_have_count(3)

    jwks = httpx.get(f"{web_url}/.well-known/jwks.json").json()
    issuer = httpx.get(f"{web_url}/.well-known/openid-configuration").json()["issuer"]
    subjects = set()
    for o in offices:
        sub, content = _receive_and_answer(web_url, issuer, o, jwks)
        body = content["body"]
        assert isinstance(body, dict) and set(body) <= set(o.fields) and "new_address" in body
        assert content["recipient"] == {"organisation": o.org_id}
        others = [x.org_id for x in offices if x is not o]
        assert not any(other in str(content) for other in others)
        subjects.add(sub)
    assert len(subjects) == 3

    page.reload()
    expect(page.locator("[data-status='updated']")).to_have_count(3)
    expect(page.locator("[data-confirmed]")).to_be_visible()
    assert_accessible(page, "progress, all updated")

    page.get_by_role("link", name="Go to your messages").click()
    page.get_by_role("link", name="Your change of address").click()
    for o in offices:
        expect(page.get_by_text(o.name)).to_be_visible()
    assert_accessible(page, "the confirmation")

    page.goto(f"{web_url}/account/moves")
    expect(page.locator("tr[data-organisation]")).to_have_count(3)
    assert_accessible(page, "your changes of address")
