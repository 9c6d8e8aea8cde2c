"""The council API over real HTTP: client credentials with the messages scope, enrolment by a
citizen's token, Idempotency-Key, attachments checked by content and downloaded safely, RFC
9457 problems, and 404 for another council's conversation."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx
import pytest

from gateway.runtime import Runtime
from messaging.models import Upload
from tests.messaging.support import (
    PDF,
    CouncilKit,
    api_token,
    bearer,
    citizen_token,
    new_citizen,
    new_council,
    token_without_messages_scope,
)
from tests.trust_levels.agents.support import signed_in_at
from trust_levels.models import CredentialStrength

BASE = "/api/messaging/v1"


async def _enrolled(http: httpx.AsyncClient, runtime: Runtime, kit: CouncilKit) -> tuple[str, str]:
    """A citizen the council's website enrolled: (account id, pairwise sub)."""
    citizen = await new_citizen(runtime)
    token = await citizen_token(http, runtime, kit, citizen)
    response = await http.post(f"{BASE}/recipients", headers=bearer(token))
    assert response.status_code == 200, response.text
    return citizen.id, response.json()["sub"]


async def _post(
    http: httpx.AsyncClient, token: str, body: dict[str, object], key: str | None = None
) -> httpx.Response:
    """Start a conversation as the council, under ``key`` (a new one unless given)."""
    headers = bearer(token, **{"Idempotency-Key": key or str(uuid.uuid4())})
    return await http.post(f"{BASE}/conversations", json=body, headers=headers)


def _message(kit: CouncilKit, sub: str, **overrides: object) -> dict[str, object]:
    return {
        "team": kit.team.id,
        "to": {"sub": sub},
        "subject": "Your housing benefit claim",
        "reference": "HB-1001",
        "body": "We need one more document.",
        **overrides,
    }


async def test_a_council_sends_by_pairwise_sub_and_a_retry_replays_the_same_message(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    account_id, sub = await _enrolled(http, runtime, kit)
    token = await api_token(http, runtime, kit)
    key = str(uuid.uuid4())
    body = _message(kit, sub, level="Cl.Cm")
    first = await http.post(
        f"{BASE}/conversations", json=body, headers=bearer(token, **{"Idempotency-Key": key})
    )
    assert first.status_code == 201, first.text
    again = await http.post(
        f"{BASE}/conversations", json=body, headers=bearer(token, **{"Idempotency-Key": key})
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["level"] == "Cl.Cm"
    conversation = first.json()["conversation"]
    inbox = await runtime.messaging.inbox(account_id)
    assert [s.conversation.id for s in inbox] == [conversation]
    changed = await _post(http, token, _message(kit, sub, body="something else"), key)
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:govconnect:problem:idempotency-key-reused"


async def test_the_council_reads_the_citizens_reply_and_its_read_receipt(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    account_id, sub = await _enrolled(http, runtime, kit)
    token = await api_token(http, runtime, kit)
    sent = await http.post(
        f"{BASE}/conversations",
        json=_message(kit, sub),
        headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    conversation = sent.json()["conversation"]
    messaging = runtime.messaging
    access = await messaging.as_citizen(account_id, conversation)
    now = signed_in_at(runtime.clock.now(), CredentialStrength.LOW)
    await messaging.open(access, now)
    await messaging.reply(access, "Here it is.", [Upload("../../etc/pass wd\r\n.pdf", PDF)], now)
    read = await http.get(f"{BASE}/conversations/{conversation}", headers=bearer(token))
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    first, reply = read.json()["messages"]
    assert first["read_at"] is not None and reply["body"] == "Here it is."
    (attachment,) = reply["attachments"]
    assert (
        attachment["filename"] == "pass wd_.pdf" and attachment["content_type"] == "application/pdf"
    )
    download = await http.get(
        f"{BASE}/conversations/{conversation}/messages/{reply['id']}/attachments/{attachment['id']}",
        headers=bearer(token),
    )
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="pass wd_.pdf"') and "\r" not in disposition
    listed = await http.get(f"{BASE}/conversations", headers=bearer(token))
    assert conversation in [c["id"] for c in listed.json()["conversations"]]


async def test_multipart_attachments_are_checked_by_content_and_size(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    _, sub = await _enrolled(http, runtime, kit)
    token = await api_token(http, runtime, kit)

    async def send(name: str, data: bytes) -> httpx.Response:
        return await http.post(
            f"{BASE}/conversations",
            data={"message": json.dumps(_message(kit, sub))},
            files={"attachment": (name, data, "application/pdf")},
            headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
        )

    accepted = await send("letter.pdf", PDF)
    assert accepted.status_code == 201, accepted.text
    disguised = await send("letter.pdf", b"<script>alert(1)</script>")
    assert disguised.status_code == 400
    assert disguised.json()["type"] == "urn:govconnect:problem:attachment-refused"
    limit = runtime.settings.messaging_attachment_max_bytes
    oversized = await send("big.pdf", PDF + b"0" * limit)
    assert oversized.status_code == 400
    assert oversized.json()["type"] == "urn:govconnect:problem:attachment-too-large"
    too_many = await http.post(
        f"{BASE}/conversations",
        data={"message": json.dumps(_message(kit, sub))},
        files=[("attachment", (f"{n}.pdf", PDF, "application/pdf")) for n in range(6)],
        headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert too_many.status_code == 400
    assert too_many.json()["type"] == "urn:govconnect:problem:attachment-refused"


async def test_tokens_without_the_messages_scope_or_of_a_person_are_refused(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    citizen = await new_citizen(runtime)
    no_scope = await token_without_messages_scope(http, runtime, kit)
    response = await http.get(f"{BASE}/conversations", headers=bearer(no_scope))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:govconnect:problem:insufficient-scope"
    person = await citizen_token(http, runtime, kit, citizen)
    assert (await http.get(f"{BASE}/conversations", headers=bearer(person))).status_code == 401
    assert (await http.get(f"{BASE}/conversations")).status_code == 401
    missing_key = await http.post(
        f"{BASE}/conversations", json={}, headers=bearer(await api_token(http, runtime, kit))
    )
    assert missing_key.status_code in (400, 422)


async def test_another_councils_conversation_and_guessed_ids_are_404(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit, other = await new_council(runtime), await new_council(runtime)
    _, sub = await _enrolled(http, runtime, kit)
    token, other_token = await api_token(http, runtime, kit), await api_token(http, runtime, other)
    sent = await http.post(
        f"{BASE}/conversations",
        json=_message(kit, sub),
        headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    conversation = sent.json()["conversation"]
    for path in (
        f"{BASE}/conversations/{conversation}",
        f"{BASE}/conversations/cnv_{secrets.token_urlsafe(16)}",
        f"{BASE}/conversations/{conversation}/messages/{sent.json()['message']}/attachments/att_{secrets.token_urlsafe(16)}",
    ):
        response = await http.get(
            path, headers=bearer(other_token if path.endswith(conversation) else token)
        )
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    other_team = await http.post(
        f"{BASE}/conversations",
        json=_message(other, sub),
        headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert other_team.status_code == 404
    reply = await http.post(
        f"{BASE}/conversations/{conversation}/messages",
        json={"body": "not yours"},
        headers=bearer(other_token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert reply.status_code == 404


@pytest.mark.parametrize("sub", ["", "x" * 129])
async def test_a_malformed_recipient_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, sub: str
) -> None:
    kit = await new_council(runtime)
    token = await api_token(http, runtime, kit)
    response = await http.post(
        f"{BASE}/conversations",
        json=_message(kit, sub),
        headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert response.status_code == 422
