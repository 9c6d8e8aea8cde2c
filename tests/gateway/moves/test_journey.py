"""The issue's end-to-end journey in Chromium, every page checked with axe-core.

A citizen signed in with a password only is stepped up to ``Cl.Cm`` with an emailed code,
reports a move (addresses by postcode, with their UPRNs), agrees to tell three organisations
and sends → each organisation's own instance of the example back office (examples/back_office:
its own key, client and SQLite store) pulls its envelope from the inbox, verifies it with
joserfc against the gateway's published keys, stores it, acknowledges it with its own signed
acknowledgement and answers ``accepted`` with a case reference → each store holds only the
fields its organisation's service declared and a subject no other organisation got → the
citizen sees three "Updated" with those references and the confirmation in their messages.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from examples.back_office.app import BackOffice, create_app
from examples.back_office.config import Config
from examples.back_office.govconnect import open_envelope
from examples.back_office.store import Record
from gateway.runtime import Runtime
from tests.gateway.moves.support import Office, address_schema, back_office, office
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


def _pull_and_answer(configs: list[Config]) -> list[list[Record]]:
    """Each back office polls its inbox once, as ``python -m examples.back_office pull``
    does: verify, store, acknowledge, answer. Returns each one's stored records."""

    async def run(config: Config) -> list[Record]:
        office: BackOffice = create_app(config).state.office
        try:
            assert await office.pull_once() == 1, "one copy for this organisation"
            assert await office.pull_once() == 0, "acknowledged, so gone from its inbox"
            return await office.store.all()
        finally:
            await office.gateway.aclose()

    async def all_of_them() -> list[list[Record]]:
        return [await run(config) for config in configs]

    return asyncio.run(all_of_them())


@pytest.fixture
async def back_offices(
    runtime: Runtime, web_url: str, offices: list[Office], tmp_path: Path
) -> list[Config]:
    """One example back office per organisation, each in a folder of its own."""
    return [
        await back_office(runtime, o, web_url, tmp_path / f"office-{i}")
        for i, o in enumerate(offices)
    ]


def test_a_move_reported_once_reaches_three_back_offices_who_each_answer_updated(
    page: Page, web_url: str, offices: list[Office], back_offices: list[Config]
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
    subjects = set()
    references = []
    for o, stored in zip(offices, _pull_and_answer(back_offices), strict=True):
        assert len(stored) == 1, "each back office stored one copy, its own"
        record = stored[0]
        assert record.acknowledged and record.case_reference is not None
        references.append(record.case_reference)
        # What the back office kept is checked again from its store, with its own verifier.
        opened = open_envelope(record.envelope, jwks)
        content = opened.content
        body = content["body"]
        assert isinstance(body, dict) and set(body) <= set(o.fields) and "new_address" in body
        assert content["recipient"] == {"organisation": o.org_id}
        others = [x.org_id for x in offices if x is not o]
        assert not any(other in f"{content} {opened.facts}" for other in others)
        subjects.add(str(opened.facts["subject"]["sub"]))
    assert len(subjects) == 3

    page.reload()
    expect(page.locator("[data-status='updated']")).to_have_count(3)
    for reference in references:
        expect(page.get_by_text(reference, exact=True)).to_be_visible()
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
