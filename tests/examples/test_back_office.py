"""The acceptance test of delivery, end to end (issue 6): a council website submits a
citizen's form with a PDF attachment, signed with its own key, using the citizen's access
token; GovConnect pushes it to the example back office (examples/back_office), which checks
the Standard Webhooks signature with ``standardwebhooks``, both envelope signatures with
joserfc against the published JWKS and the attachment's digest, stores it once, acknowledges
it with its own signature and answers with a case reference; the website then sees the
response and the full timeline. The same again by pull."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.back_office.app import BackOffice, create_app
from gateway.delivery.envelope import verify_document
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.examples.conftest import (
    BackOfficeParty,
    back_office_party,
    council_organisation,
    serving,
)
from tests.gateway.delivery.support import Party, detached_signature, payload_for
from tests.gateway.delivery.test_attachments import PDF
from tests.gateway.tokens.support import auth, issue_code, key_client
from tests.support.accounts import PASSWORD
from tests.support.servers import free_port

FORM = {"name": "Ada Lovelace", "street": "1 High St", "permit_type": "resident"}
FILES = [("proof-of-address.pdf", PDF, "application/pdf")]


@dataclass
class Setting:
    """The parties: the council (website and citizen token), the back office (its client
    and key), the service, and an admin client of the gateway."""

    gateway: str
    admin: httpx.AsyncClient
    http: httpx.AsyncClient
    council: Party
    citizen_headers: dict[str, str]
    office: BackOfficeParty


@pytest.fixture
async def setting(
    issuer_gateway: str, admin_headers: dict[str, str], runtime: Runtime, tmp_path: Path
) -> AsyncIterator[Setting]:
    async with (
        httpx.AsyncClient(base_url=issuer_gateway, headers=admin_headers, timeout=10) as admin,
        httpx.AsyncClient(base_url=issuer_gateway, timeout=10) as http,
    ):
        council_org = council_organisation(issuer_gateway, admin_headers)
        office = back_office_party(issuer_gateway, admin_headers, tmp_path, council_org)
        # The council website: its client (with its key) and a signed-in citizen's token.
        website = await key_client(runtime, council_org)
        citizen = await runtime.accounts.create(
            f"citizen-{secrets.token_hex(5)}@example.org",
            PASSWORD,
            verified=True,
            totp_secret=None,
            actor=TEST_ACTOR,
        )
        issued = await issue_code(runtime, website, citizen, scope=("openid",), acr="Cl.Cm")
        form, headers = auth(website, f"{issuer_gateway}/token")
        token = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": issued.code,
                "redirect_uri": issued.grant.redirect_uri,
                "code_verifier": issued.verifier,
                **form,
            },
            headers=headers,
        )
        assert token.status_code == 200, token.text
        access = token.json()["access_token"]
        yield Setting(
            issuer_gateway,
            admin,
            http,
            Party(council_org, website, access),
            {"Authorization": f"Bearer {access}"},
            office,
        )


async def _submit(setting: Setting) -> dict[str, Any]:
    """The council website's submission for the citizen, signed with the website's key."""
    request = {
        "recipient": setting.office.organisation_id,
        "service": setting.office.service,
        "version": "1",
        "reference": "WEB-42",
        "body": FORM,
    }
    payload = payload_for(setting.gateway, setting.council, request, FILES)
    request["sender_signature"] = detached_signature(setting.council.kit, payload)
    response = await setting.http.post(
        "/api/v1/submissions",
        data={"submission": json.dumps(request)},
        files=[("attachment", file) for file in FILES],
        headers={**setting.citizen_headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


async def _view(setting: Setting, submission_id: str, want: str) -> dict[str, Any]:
    """The submission as the website sees it (with the citizen's token), once ``want``."""
    deadline = time.monotonic() + 20
    while True:
        view = await setting.http.get(
            f"/api/v1/submissions/{submission_id}", headers=setting.citizen_headers
        )
        assert view.status_code == 200, view.text
        if view.json()["state"] == want:
            return dict(view.json())
        assert time.monotonic() < deadline, view.json()
        await asyncio.sleep(0.1)


async def _check_the_outcome(
    setting: Setting,
    office: BackOffice,
    answer: dict[str, Any],
    delivered: list[str],
    *,
    pushed: bool,
) -> None:
    view = await _view(setting, answer["id"], "responded")
    record = await office.store.get(answer["id"])
    assert record is not None and record.acknowledged
    assert view["response"]["outcome"] == "accepted"
    assert view["response"]["case_reference"] == record.case_reference
    assert record.case_reference is not None and record.case_reference.startswith("ABO-")
    # The states in the order they were reached; a push's attempt is noted when its 2xx
    # comes back, which a fast back office's acknowledgement may overtake.
    events = [e["event"] for e in view["timeline"]]
    assert [e for e in events if e != "attempt"] == delivered
    attempts = [e["outcome"] for e in view["timeline"] if e["event"] == "attempt"]
    assert attempts == (["delivered"] if pushed else [])
    # The back office stored the attachment it checked, and the signed envelope.
    files = await office.store.files(answer["id"])
    assert [(f.name, f.content) for f in files] == [(FILES[0][0], PDF)]
    opened = await office.gateway.open(record.envelope)
    assert opened.sender_signed and opened.payload_sha256 == answer["payload_sha256"]
    assert opened.facts["subject"]["acr"] == "Cl.Cm"
    # The website checks the signed response offline with the JWKS.
    jwks = (await setting.http.get("/.well-known/jwks.json")).json()
    signed = verify_document(view["response"]["signed"], jwks)
    assert signed.kind == "response" and signed.content["sub"] == answer["id"]
    assert signed.content["response"]["case_reference"] == record.case_reference


async def test_push_a_citizens_submission_to_the_back_office_and_see_the_answer(
    setting: Setting, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/govconnect/submissions"
    pushed = await setting.admin.put(
        f"/admin/v1/recipients/{setting.office.organisation_id}",
        json={"mode": "push", "endpoint": url},
    )
    assert pushed.status_code == 200, pushed.text
    config = setting.office.config(
        setting.gateway, tmp_path, webhook_secret=pushed.json()["webhook_secret"]
    )
    app = create_app(config)
    with serving(app, port):
        answer = await _submit(setting)
        await _check_the_outcome(
            setting,
            app.state.office,
            answer,
            ["accepted", "queued", "delivered", "acknowledged", "responded"],
            pushed=True,
        )
        # A push replayed with its old signature is refused by the back office.
        record = await app.state.office.store.get(answer["id"])
        assert record is not None
        body = json.dumps({"type": "submission.received", "data": record.envelope})
        forged = await setting.http.post(
            url,
            content=body,
            headers={
                "webhook-id": answer["id"],
                "webhook-timestamp": str(int(time.time()) - 3600),
                "webhook-signature": "v1,AAAA",
            },
        )
        assert forged.status_code == 400
        assert len(await app.state.office.store.all()) == 1


async def test_pull_a_citizens_submission_and_see_the_answer(
    setting: Setting, tmp_path: Path
) -> None:
    pulled = await setting.admin.put(
        f"/admin/v1/recipients/{setting.office.organisation_id}", json={"mode": "pull"}
    )
    assert pulled.status_code == 200, pulled.text
    app = create_app(setting.office.config(setting.gateway, tmp_path))
    office: BackOffice = app.state.office
    try:
        answer = await _submit(setting)
        assert await office.pull_once() == 1
        await _check_the_outcome(
            setting,
            office,
            answer,
            ["accepted", "queued", "delivered", "acknowledged", "responded"],
            pushed=False,
        )
        # Polling again finds nothing: acknowledged submissions leave the inbox.
        assert await office.pull_once() == 0
    finally:
        await office.gateway.aclose()
