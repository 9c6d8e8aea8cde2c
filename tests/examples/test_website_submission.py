"""The acceptance test of issue 6, end to end in a real browser: a citizen signs in to the Demo
Borough Council website (examples/council_website) with GovConnect, fills in the parking
permit form and attaches a PDF; the website signs the submission with its own key and sends
it with the citizen's access token; the example back office (examples/back_office) receives
it by push (and, in the second test, by pull), checks the webhook signature, both envelope
signatures and the attachment's digest, stores it, acknowledges it with its own signature and
answers with a case reference; the website's status page then shows "responded", the case
reference and the full timeline, with GovConnect's signed receipt and response checked. A
refusal by GovConnect is shown with its detail and what to do next. Every new page passes
axe-core."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from examples.back_office.app import BackOffice, create_app
from examples.back_office.config import Config as BackOfficeConfig
from examples.back_office.govconnect import open_envelope
from tests.examples.conftest import (
    BackOfficeParty,
    CouncilSite,
    back_office_party,
    council_organisation,
    council_site,
    serving,
    sign_in_at_govconnect,
)
from tests.support.browser import assert_accessible
from tests.support.servers import free_port

pytestmark = pytest.mark.browser

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]
FORM = {"name": "Ada Lovelace", "street": "1 High Street", "permit_type": "resident"}
STATES = ["accepted", "queued", "delivered", "acknowledged", "responded"]


def one_page_pdf(text: str) -> bytes:
    """A small but complete PDF 1.4 (ISO 32000-1 §7.5: header, objects, cross-reference
    table with each object's byte offset, trailer): one A4 page showing ``text``."""
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    document = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(document)


PDF = one_page_pdf("Council tax bill 2026-27: Ada Lovelace, 1 High Street")


def proof(name: str) -> FilePayload:
    """The PDF, as the citizen's browser uploads it."""
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF}


@contextmanager
def event_loop() -> Iterator[Run[Any]]:
    """An event loop in a thread of its own, for the back office's async code: this test's
    own thread belongs to Playwright's sync API."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    try:
        yield run
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass(frozen=True)
class Council:
    """The council's website, set up to send its parking permit form to the back office
    (which a routing rule allows), beside the live gateway."""

    gateway: str
    admin_headers: dict[str, str]
    workdir: Path
    site: CouncilSite
    office: BackOfficeParty

    def receive_by(self, mode: dict[str, str]) -> BackOfficeConfig:
        """The back office set to receive by ``mode`` at GovConnect; its settings."""
        response = httpx.put(
            f"{self.gateway}/admin/v1/recipients/{self.office.organisation_id}",
            json=mode,
            headers=self.admin_headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        secret = response.json().get("webhook_secret")
        return self.office.config(self.gateway, self.workdir, webhook_secret=secret)


@contextmanager
def council_with(
    gateway: str, admin_headers: dict[str, str], workdir: Path, **settings: Any
) -> Iterator[Council]:
    """The council, its website started with ``settings`` (its own service unless told)."""
    organisation = council_organisation(gateway, admin_headers)
    office = back_office_party(gateway, admin_headers, workdir, organisation)
    with council_site(
        gateway,
        admin_headers,
        workdir,
        organisation_id=organisation,
        recipient=office.organisation_id,
        **{"service": office.service, **settings},
    ) as site:
        yield Council(gateway, admin_headers, workdir, site, office)


@pytest.fixture
def council(
    issuer_gateway: str, admin_headers: dict[str, str], tmp_path: Path
) -> Iterator[Council]:
    with council_with(issuer_gateway, admin_headers, tmp_path) as started:
        yield started


def apply_for_a_permit(
    page: Page, gateway: str, site: CouncilSite, citizen: tuple[str, str]
) -> str:
    """Sign in, fill in the form (once wrongly), attach the PDF, send; the submission id."""
    page.goto(site.url)
    sign_in_at_govconnect(page, gateway, citizen)
    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("#no-applications")).to_be_visible()
    page.get_by_role("link", name="Apply for a parking permit").click()
    expect(page.get_by_role("heading", name="Apply for a parking permit")).to_be_visible()
    assert_accessible(page, "the parking permit form")

    # Sent with nothing filled in: the GOV.UK error summary, linked to each field.
    page.get_by_label("Full name").fill("")
    page.get_by_role("button", name="Send application").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Enter your full name")
    expect(summary).to_contain_text("Select the type of permit you want")
    expect(summary).to_contain_text("Select a PDF that shows your address")
    expect(page).to_have_title(re.compile("^Error: "))
    assert_accessible(page, "the parking permit form, with errors")

    page.get_by_label("Full name").fill(FORM["name"])
    page.get_by_label("Street address (optional)").fill(FORM["street"])
    page.get_by_label("Resident permit").check()
    page.get_by_label("Proof of address").set_input_files(files=proof("proof-of-address.pdf"))
    page.get_by_role("button", name="Send application").click()
    expect(page).to_have_url(re.compile(f"^{re.escape(site.url)}/applications/sbm_"))
    expect(page.locator("#notice")).to_contain_text("has been sent")
    return page.url.rsplit("/", 1)[1]


def see_the_answer(
    page: Page,
    council: Council,
    office: BackOffice,
    run: Run[Any],
    submission_id: str,
    *,
    pushed: bool,
) -> None:
    """The status page, reloaded until the back office has answered, against what the back
    office stored."""
    deadline = time.monotonic() + 30
    while page.locator("#state").text_content() != "responded":
        assert time.monotonic() < deadline, page.locator("#timeline").inner_text()
        time.sleep(0.2)
        page.get_by_role("link", name="Check again").click()
    record = run(office.store.get(submission_id))
    assert record is not None and record.acknowledged
    assert record.case_reference is not None and record.case_reference.startswith("ABO-")
    expect(page.locator("#outcome")).to_have_text("accepted")
    expect(page.locator("#case-reference")).to_have_text(record.case_reference)
    # The full timeline, in order; a push's attempt is noted when its 2xx comes back, which
    # a fast back office's acknowledgement may overtake.
    events = page.locator("#timeline tr[data-event]").evaluate_all(
        "rows => rows.map(row => row.dataset.event)"
    )
    assert [e for e in events if e != "attempt"] == STATES
    assert events.count("attempt") == (1 if pushed else 0)
    via = "sent by GovConnect" if pushed else "collected by the back office"
    expect(page.locator('#timeline tr[data-event="delivered"]')).to_contain_text(via)
    expect(page.locator('#timeline tr[data-event="responded"]')).to_contain_text(
        f"case reference {record.case_reference}"
    )
    # The website checked GovConnect's signed receipt and response.
    expect(page.locator("#receipt-checked")).to_contain_text(record.payload_sha256)
    expect(page.locator("#response-checked")).to_be_visible()
    assert_accessible(page, "an application, answered")

    # The back office holds the form, the PDF byte for byte, and an envelope whose two
    # signatures verify (the website's and GovConnect's) for a citizen signed in at Cl.Cm.
    files = run(office.store.files(submission_id))
    assert [(f.name, f.media_type, f.content) for f in files] == [
        ("proof-of-address.pdf", "application/pdf", PDF)
    ]
    jwks = httpx.get(f"{council.gateway}/.well-known/jwks.json", timeout=10).json()
    opened = open_envelope(record.envelope, jwks)
    assert opened.sender_signed and opened.payload_sha256 == record.payload_sha256
    assert opened.content["body"] == FORM
    assert opened.content["sender"]["client_id"] == council.site.client_id
    reference = page.locator("#reference").inner_text()
    assert opened.content["reference"] == reference and reference.startswith("DBC-")
    assert opened.facts["subject"]["acr"] == "Cl.Cm"

    # The home page lists the application; another id is no one's here.
    page.get_by_role("link", name="Back to your council account").click()
    page.get_by_role("link", name=f"Parking permit application {reference}").click()
    expect(page).to_have_url(f"{council.site.url}/applications/{submission_id}")
    page.goto(f"{council.site.url}/applications/sbm_someone-elses")
    expect(page.locator("#no-application")).to_be_visible()


def test_a_citizens_form_is_pushed_to_the_back_office_and_answered(
    page: Page, council: Council, citizen: tuple[str, str]
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/govconnect/submissions"
    app = create_app(council.receive_by({"mode": "push", "endpoint": endpoint}))
    with serving(app, port), event_loop() as run:
        submission_id = apply_for_a_permit(page, council.gateway, council.site, citizen)
        see_the_answer(page, council, app.state.office, run, submission_id, pushed=True)


def test_a_citizens_form_is_pulled_by_the_back_office_and_answered(
    page: Page, council: Council, citizen: tuple[str, str]
) -> None:
    office: BackOffice = create_app(council.receive_by({"mode": "pull"})).state.office
    with event_loop() as run:
        try:
            submission_id = apply_for_a_permit(page, council.gateway, council.site, citizen)
            expect(page.locator("#state")).to_have_text("queued")
            expect(page.locator("#check-again")).to_be_visible()
            assert_accessible(page, "an application, waiting")
            assert run(office.pull_once()) == 1  # fetched, checked, stored, acknowledged, answered
            page.get_by_role("link", name="Check again").click()
            see_the_answer(page, council, office, run, submission_id, pushed=False)
            assert run(office.pull_once()) == 0  # acknowledged submissions leave the inbox
        finally:
            run(office.gateway.aclose())


def test_an_ending_token_is_refreshed_and_a_refusal_is_explained(
    page: Page,
    issuer_gateway: str,
    admin_headers: dict[str, str],
    citizen: tuple[str, str],
    tmp_path: Path,
) -> None:
    """A site that finds every access token about to expire refreshes it before it sends;
    a form for a service GovConnect does not know is refused, and the page gives the
    problem's detail, what the citizen can do and the request id to quote."""
    with council_with(
        issuer_gateway,
        admin_headers,
        tmp_path,
        service="no-such-permit",
        refresh_margin_seconds=3600,
    ) as council:
        site = council.site
        page.goto(site.url)
        sign_in_at_govconnect(page, issuer_gateway, citizen)
        page.get_by_role("link", name="Apply for a parking permit").click()
        page.get_by_label("Full name").fill(FORM["name"])
        page.get_by_label("Visitor permit").check()
        page.get_by_label("Proof of address").set_input_files(files=proof("proof.pdf"))
        page.get_by_role("button", name="Send application").click()
        expect(page.get_by_role("heading", name=re.compile("there is a problem"))).to_be_visible()
        expect(page.locator("#problem")).to_contain_text("no-such-permit")
        expect(page.locator("#advice")).to_contain_text("Try again later")
        expect(page.locator("#request-id")).not_to_be_empty()
        assert_accessible(page, "an application GovConnect refused")
        page.get_by_role("link", name="Go back to your council account").click()
        expect(page.locator("#no-applications")).to_be_visible()
        expect(page.locator("#refreshed-at")).not_to_have_text("never")
