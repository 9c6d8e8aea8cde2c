"""The messaging pages with JavaScript off (plain form posts): reading, replying with a file,
archiving and deleting from one's own view, staff assigning and closing, and isolation —
another citizen, another team's staff, an agent without a relationship for the service and a
guessed id all get the same 404 page."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from messaging.models import Upload
from tests.messaging.support import (
    PDF,
    CouncilKit,
    new_citizen,
    new_council,
    new_staff,
    write_to,
)
from tests.support.accounts import sign_in
from tests.support.web import Browser, latest_code
from tests.trust_levels.agents.support import accepted, agency, signed_in_at
from trust_levels.models import CredentialStrength

BrowserFactory = Callable[..., Browser]


@pytest.fixture
async def kit(runtime: Runtime) -> CouncilKit:
    return await new_council(runtime)


@pytest.fixture
async def citizen(runtime: Runtime) -> Account:
    return await new_citizen(runtime)


def _signed_in(open_browser: BrowserFactory, account: Account) -> Browser:
    browser = open_browser()
    sign_in(browser, account.email)
    return browser


def _step_up(browser: Browser, conversation_page: str, email: str) -> None:
    """Answer the step-up page with an emailed code; back on the conversation."""
    page = browser.get(conversation_page)
    assert "Confirm it is you" in page.text
    response = browser.post(conversation_page + "/step-up", {})
    assert response.url.path == "/sign-in/code", response.text
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    browser.get("/sign-in/code?method=email")
    response = browser.post("/sign-in/code", {"code": code, "method": "email"})
    assert response.url.path == conversation_page, response.text


async def test_a_citizen_reads_replies_with_a_file_archives_and_deletes(
    runtime: Runtime, open_browser: BrowserFactory, kit: CouncilKit, citizen: Account
) -> None:
    sent = await write_to(runtime, kit, citizen, "Line one\nLine <b>two</b>")
    browser = _signed_in(open_browser, citizen)
    here = f"/messages/{sent.conversation.id}"
    inbox = browser.get("/messages")
    assert here in inbox.text and "Unread" in inbox.text
    page = browser.get(here)
    assert page.status_code == 200 and "Line one<br>Line &lt;b&gt;two&lt;/b&gt;" in page.text
    response = browser.client.post(
        here + "/reply",
        data={"csrf_token": browser.csrf, "body": "Thanks, see attached."},
        files={"attachment": ("proof.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 200 and "Your message has been sent" in response.text
    assert "proof.pdf" in response.text
    refused = browser.client.post(
        here + "/reply",
        data={"csrf_token": browser.csrf, "body": "again"},
        files={"attachment": ("proof.pdf", b"GIF89a not a pdf", "application/pdf")},
    )
    assert refused.status_code == 400 and "The file must be a PDF, PNG or JPEG" in refused.text
    forged = browser.client.post(here + "/reply", data={"csrf_token": "forged", "body": "x"})
    assert forged.status_code == 403
    browser.get(here)
    assert "Archived" not in browser.post(here + "/archive", {}).text
    assert here in browser.get("/messages?folder=archived").text
    assert here not in browser.get("/messages").text
    browser.get(here)
    browser.post(here + "/delete", {})
    assert here not in browser.get("/messages?folder=archived").text
    assert here not in browser.get("/messages").text
    council = await runtime.messaging.open(
        await runtime.messaging.as_council(kit.council, sent.conversation.id), None
    )
    assert len(council.messages) == 2, "deleting from one's own view keeps the council's record"


async def test_a_password_only_session_is_stepped_up_before_a_cl_cm_message(
    runtime: Runtime, open_browser: BrowserFactory, kit: CouncilKit, citizen: Account
) -> None:
    sent = await write_to(runtime, kit, citizen, "About your benefit", level="Cl.Cm")
    browser = _signed_in(open_browser, citizen)
    here = f"/messages/{sent.conversation.id}"
    page = browser.get(here)
    assert "About your benefit" not in page.text
    _step_up(browser, here, citizen.email)
    assert "About your benefit" in browser.get(here).text


async def test_staff_assign_reply_close_and_reopen_and_see_the_read_receipt(
    runtime: Runtime, open_browser: BrowserFactory, kit: CouncilKit, citizen: Account
) -> None:
    staff = await new_staff(runtime, kit)
    sent = await write_to(runtime, kit, citizen, "Your bill")
    access = await runtime.messaging.as_citizen(citizen.id, sent.conversation.id)
    now = signed_in_at(runtime.clock.now(), CredentialStrength.LOW)
    await runtime.messaging.open(access, now)
    await runtime.messaging.reply(
        access, "Can I pay later?", [Upload("a.png", b"\x89PNG\r\n\x1a\n")], now
    )
    browser = _signed_in(open_browser, staff)
    here = f"/staff/messages/{sent.conversation.id}"
    assert here in browser.get("/staff/messages").text
    _step_up(browser, here, staff.email)
    page = browser.get(here)
    assert "Can I pay later?" in page.text and "Opened" in page.text
    assert "a.png" in page.text
    assigned = browser.post(here + "/assign", {"assignee": staff.id})
    assert "The conversation has been assigned" in assigned.text
    outsider = (await new_citizen(runtime)).id
    refused = browser.post(here + "/assign", {"assignee": outsider})
    assert refused.status_code == 400
    browser.get(here)
    response = browser.client.post(
        here + "/reply", data={"csrf_token": browser.csrf, "body": "Yes, until March."}
    )
    assert "Your message has been sent" in response.text
    closed = browser.post(here + "/close", {})
    assert "The conversation has been closed" in closed.text
    citizen_view = _signed_in(open_browser, citizen)
    page = citizen_view.get(f"/messages/{sent.conversation.id}")
    assert "Yes, until March." in page.text and "This conversation is closed" in page.text
    refused = citizen_view.client.post(
        f"/messages/{sent.conversation.id}/reply",
        data={"csrf_token": citizen_view.csrf, "body": "one more thing"},
    )
    assert refused.status_code == 409
    browser.get(here)
    browser.client.post(here + "/reply", data={"csrf_token": browser.csrf, "body": "Reopened."})
    assert "Your reply" in citizen_view.get(f"/messages/{sent.conversation.id}").text


async def test_others_get_the_same_404_as_a_guessed_id(
    runtime: Runtime, open_browser: BrowserFactory, kit: CouncilKit, citizen: Account
) -> None:
    sent = await write_to(runtime, kit, citizen, "private", uploads=[Upload("p.pdf", PDF)])
    conversation = sent.conversation.id
    guessed = "cnv_" + secrets.token_urlsafe(16)
    stranger = _signed_in(open_browser, await new_citizen(runtime))
    other_team = _signed_in(open_browser, await new_staff(runtime, await new_council(runtime)))
    firm = await agency(runtime)
    relationship = await accepted(runtime, runtime.agents, firm)
    agent = open_browser()
    sign_in(agent, firm.admin.email)
    owner = _signed_in(open_browser, citizen)
    page = owner.get(f"/messages/{conversation}")
    attachment = next(
        line.split('href="')[1].split('"')[0]
        for line in page.text.splitlines()
        if "/attachments/" in line
    )
    assert owner.get(attachment).content == PDF
    assert owner.get(f"/messages/{guessed}").status_code == 404
    for browser, path in (
        (stranger, f"/messages/{conversation}"),
        (stranger, attachment),
        (other_team, f"/staff/messages/{conversation}"),
        (other_team, attachment.replace("/messages/", "/staff/messages/", 1)),
        (agent, f"/messages/for/{relationship.id}/{conversation}"),
        (agent, f"/messages/for/rel_{secrets.token_urlsafe(16)}/{conversation}"),
        (
            owner,
            f"/messages/{conversation}/attachments/{sent.message.id}/att_{secrets.token_urlsafe(16)}",
        ),
    ):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert response.text.count("<h1") == 1 and "private" not in response.text
    posted = stranger.post(f"/messages/{conversation}/archive", {})
    assert posted.status_code == 404
