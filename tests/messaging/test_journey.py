"""The issue's end-to-end journey in Chromium, every page checked with axe-core.

A council system sends a message demanding ``Cl.Cm`` → the outbox shows a content-free
notification → the citizen signs in with a password only, is stepped up with an emailed code,
reads, and replies with a PDF → staff see the reply in the team inbox and the read receipt,
and the evidence log shows the staff read.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.messaging.support import (
    PDF,
    CouncilKit,
    api_token,
    bearer,
    citizen_token,
    new_citizen,
    new_council,
    new_staff,
)
from tests.support.accounts import PASSWORD
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.browser

BODY = "We have reviewed your housing benefit claim. Please send your latest payslip."
SUBJECT = "Your housing benefit claim"


@dataclass
class Scene:
    kit: CouncilKit
    citizen: Account
    staff: Account
    conversation: str


@pytest.fixture
async def scene(http: httpx.AsyncClient, runtime: Runtime) -> Scene:
    """The council's website enrolled the citizen at sign-in; its back office then sent a
    message demanding Cl.Cm; the notification sweep has run once the batch was due."""
    kit = await new_council(runtime, "housing-benefit")
    citizen, staff = await new_citizen(runtime), await new_staff(runtime, kit)
    enrolled = await http.post(
        "/api/messaging/v1/recipients",
        headers=bearer(await citizen_token(http, runtime, kit, citizen)),
    )
    message = {
        "team": kit.team.id,
        "to": {"sub": enrolled.json()["sub"]},
        "subject": SUBJECT,
        "reference": "HB-4471",
        "body": BODY,
        "level": "Cl.Cm",
    }
    headers = bearer(await api_token(http, runtime, kit), **{"Idempotency-Key": str(uuid.uuid4())})
    sent = await http.post("/api/messaging/v1/conversations", json=message, headers=headers)
    assert sent.status_code == 201, sent.text
    batch = timedelta(seconds=runtime.settings.messaging_notify_batch_seconds + 1)
    await runtime.messaging.sweep_notifications(runtime.clock.now() + batch)
    return Scene(kit, citizen, staff, sent.json()["conversation"])


def _newest_email(page: Page, base_url: str, email: str) -> str:
    outbox = page.context.new_page()
    outbox.goto(f"{base_url}/dev/outbox?to={email}")
    body = outbox.locator("[data-outbox-message] [data-body]").first.inner_text()
    outbox.close()
    return body


def _sign_in(page: Page, base_url: str, email: str, path: str) -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _step_up_with_emailed_code(page: Page, base_url: str, email: str) -> None:
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert_accessible(page, "step up before reading")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    code = re.search(r"\b(\d{6})\b", _newest_email(page, base_url, email))
    assert code is not None
    page.get_by_label("Code from the email").fill(code.group(1))
    page.get_by_role("button", name="Continue").click()


def test_council_message_step_up_read_reply_and_staff_see_it(
    page: Page, browser: Chromium, web_url: str, admin_headers: dict[str, str], scene: Scene
) -> None:
    citizen, staff = scene.citizen, scene.staff

    notification = _newest_email(page, web_url, citizen.email)
    assert "You have a new message from Anytown Council. Sign in to read it." in notification
    assert (
        BODY not in notification and SUBJECT not in notification and "HB-4471" not in notification
    )

    _sign_in(page, web_url, citizen.email, "/messages")
    expect(page.get_by_role("heading", name="Your messages")).to_be_visible()
    assert_accessible(page, "inbox")
    page.get_by_role("link", name=SUBJECT).click()
    _step_up_with_emailed_code(page, web_url, citizen.email)
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()
    expect(page.get_by_text(BODY)).to_be_visible()
    assert_accessible(page, "conversation")

    page.get_by_label("Your reply").fill("Here is my payslip.")
    page.get_by_label("Attach a file (optional)").set_input_files(
        {"name": "payslip.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your message has been sent")).to_be_visible()
    expect(page.get_by_role("link", name="payslip.pdf")).to_be_visible()
    assert_accessible(page, "conversation after replying")

    other = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    staff_page = other.new_page()
    try:
        _sign_in(staff_page, web_url, staff.email, "/staff/messages")
        expect(staff_page.get_by_role("heading", name="Team messages")).to_be_visible()
        row = staff_page.get_by_role("row").filter(has_text=SUBJECT)
        expect(row.get_by_text("New reply")).to_be_visible()
        assert_accessible(staff_page, "team inbox")
        row.get_by_role("link", name=SUBJECT).click()
        _step_up_with_emailed_code(staff_page, web_url, staff.email)
        expect(staff_page.get_by_text("Here is my payslip.")).to_be_visible()
        council_message = staff_page.locator("[data-message]").first
        expect(council_message.locator("[data-read-receipt]")).to_contain_text("Opened")
        expect(staff_page.get_by_role("link", name="payslip.pdf")).to_be_visible()
        assert_accessible(staff_page, "staff conversation")
    finally:
        other.close()

    with httpx.Client(base_url=web_url, headers=admin_headers) as admin:
        entries, after = [], 0
        while True:
            page_of = admin.get("/admin/v1/audit", params={"after": after, "limit": 1000}).json()
            entries += page_of["entries"]
            if len(page_of["entries"]) < 1000:
                break
            after = page_of["entries"][-1]["seq"]
    reads = [
        e for e in entries if e["action"] == "message.read" and e["subject"] == scene.conversation
    ]
    assert [e["actor"] for e in reads] == [f"account:{staff.id}"]
