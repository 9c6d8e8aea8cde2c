"""Submitting (DESIGN.md §3.1-3.2): routing rule, level, size and schema checks with clear
problem responses; the Idempotency-Key; the signed receipt returned once stored and queued."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.delivery.envelope import open_envelope
from gateway.delivery.models import Sender, SubmissionRequest
from gateway.delivery.services import Submissions
from gateway.delivery.store import DeliveryQueue, DeliveryStore
from gateway.runtime import Runtime
from tests.gateway.delivery.support import FORM, exchange, party, submit


async def test_a_back_office_submission_is_stored_queued_and_answered_with_a_signed_receipt(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await submit(http, ex.sender.headers, ex.request(reference="APP-1"))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["correlation_id"] == answer["id"] and answer["reference"] == "APP-1"
    assert response.headers["location"] == f"/api/v1/submissions/{answer['id']}"
    # The receipt verifies with the published JWKS alone, with an independent JOSE library.
    jwks = (await http.get("/.well-known/jwks.json")).json()
    receipt = jwt.decode(answer["receipt"], KeySet.import_key_set(jwks), algorithms=["ES256"])
    assert receipt.header["typ"] == "receipt+jwt"
    assert receipt.claims["correlation_id"] == answer["id"]
    assert receipt.claims["payload_sha256"] == answer["payload_sha256"]
    assert receipt.claims["sender"] == ex.sender.org_id
    stored = await runtime.delivery.submissions.stored(answer["id"])
    assert stored is not None and stored.queued
    opened = open_envelope(stored.envelope, jwks)
    assert opened.payload_sha256 == answer["payload_sha256"]
    assert opened.submission["body"] == FORM and opened.submission["subject"] is None
    assert opened.submission["service"] == {"name": ex.service, "version": "1"}
    shown = await http.get(f"/api/v1/submissions/{answer['id']}", headers=ex.sender.headers)
    assert shown.json()["state"] == "queued"
    assert [e["event"] for e in shown.json()["timeline"]] == ["accepted", "queued"]


async def test_acceptance_and_queueing_are_in_the_evidence_log(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await submit(http, ex.sender.headers, ex.request())
    # The suite shares one log: read from just before its head, wherever that is by now.
    seq, _ = await runtime.evidence.head()
    recent = await runtime.evidence.entries(max(0, seq - 50), 100)
    actions = [e["action"] for e in recent if e["subject"] == response.json()["id"]]
    assert actions == ["submission.accepted", "submission.queued"]
    assert (await runtime.evidence.verify()).ok


async def test_a_retry_with_the_same_key_and_body_returns_the_original_receipt(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    key = str(uuid.uuid4())
    first = await submit(http, ex.sender.headers, ex.request(), key)
    again = await submit(http, ex.sender.headers, ex.request(), key)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    inbox = await http.get("/api/v1/inbox", headers=ex.recipient.headers)
    assert [s["id"] for s in inbox.json()["submissions"]] == [first.json()["id"]]


async def test_the_same_key_with_a_different_body_is_a_conflict(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    key = str(uuid.uuid4())
    await submit(http, ex.sender.headers, ex.request(), key)
    changed = await submit(http, ex.sender.headers, ex.request({**FORM, "name": "Eve"}), key)
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:govconnect:problem:idempotency-key-reused"


async def test_a_submission_without_an_idempotency_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await http.post("/api/v1/submissions", json=ex.request(), headers=ex.sender.headers)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:govconnect:problem:idempotency-key-required"


async def test_a_sender_no_routing_rule_allows_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    stranger = await party(http, runtime)
    response = await submit(http, stranger.headers, ex.request())
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "urn:govconnect:problem:no-routing-rule"
    assert problem["sender"] == stranger.org_id and problem["recipient"] == ex.recipient.org_id
    # The rule is one way: the recipient cannot send the service back.
    back = await submit(http, ex.recipient.headers, ex.request(recipient=ex.sender.org_id))
    assert back.status_code == 403


async def test_a_removed_rule_stops_the_next_submission(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    await http.delete(f"/admin/v1/routes/{ex.route_id}", headers=admin_headers)
    response = await submit(http, ex.sender.headers, ex.request())
    assert response.status_code == 403


async def test_a_body_that_fails_the_schema_is_refused_with_each_problem(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    body = {"name": "", "permit_type": "lorry", "extra": True}
    response = await submit(http, ex.sender.headers, ex.request(body))
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:govconnect:problem:schema-validation-failed"
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/name", "/permit_type"} <= pointers
    assert any(e["keyword"] == "additionalProperties" for e in problem["errors"])


async def test_an_oversized_body_is_refused_with_413(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers, max_body_bytes=200)
    body = {**FORM, "street": "x" * 500}
    response = await submit(http, ex.sender.headers, ex.request(body))
    assert response.status_code == 413
    assert response.json()["type"] == "urn:govconnect:problem:submission-too-large"
    assert response.json()["limit"] == 200


async def test_an_unknown_service_version_is_not_found(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await submit(http, ex.sender.headers, ex.request(version="9"))
    assert response.status_code == 404
    assert response.json()["type"] == "urn:govconnect:problem:service-not-found"


async def test_a_submission_without_a_token_or_with_a_forged_one_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await http.post(
        "/api/v1/submissions", json=ex.request(), headers={"Idempotency-Key": "k" * 16}
    )
    assert response.status_code == 401
    header, payload, signature = ex.sender.token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    response = await submit(http, {"Authorization": f"Bearer {forged}"}, ex.request())
    assert response.status_code == 401


async def test_another_organisation_cannot_read_a_submission(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    submitted = (await submit(http, ex.sender.headers, ex.request())).json()
    stranger = await party(http, runtime)
    path = f"/api/v1/submissions/{submitted['id']}"
    assert (await http.get(path, headers=stranger.headers)).status_code == 404
    made_up = f"/api/v1/submissions/sbm_{secrets.token_urlsafe(16)}"
    assert (await http.get(made_up, headers=stranger.headers)).status_code == 404
    assert (await http.get(path, headers=ex.recipient.headers)).status_code == 200


async def test_the_same_idempotency_key_from_two_clients_makes_two_submissions(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    # The submission id is derived from the client and the key: each client has its own.
    key = str(uuid.uuid4())
    first = await exchange(http, runtime, admin_headers)
    second = await exchange(http, runtime, admin_headers)
    one = await submit(http, first.sender.headers, first.request(), key)
    other = await submit(http, second.sender.headers, second.request(), key)
    assert one.status_code == other.status_code == 202
    assert "idempotent-replayed" not in other.headers
    assert one.json()["id"] != other.json()["id"]


async def test_only_a_push_recipient_s_submissions_go_on_the_push_queue(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    queue = DeliveryQueue(runtime.redis, name=f"test-{secrets.token_hex(4)}")
    delivery = runtime.delivery
    submissions = Submissions(
        DeliveryStore(runtime.redis),
        queue,
        delivery.registry,
        runtime.clock,
        runtime.evidence,
        keys=runtime.keys,
        subjects=runtime.subjects,
        clients=runtime.clients,
        client_keys=runtime.client_keys,
        box=SecretBox.load(runtime.settings.pki_dir / DATA_KEY_FILE_NAME),
        issuer=runtime.settings.issuer,
    )
    sender = Sender(ex.sender.kit.client.client_id, ex.sender.org_id)
    pulled = await submissions.submit(sender, SubmissionRequest(**ex.request()), "pull-" * 4)
    assert await queue.length() == 0  # a pull recipient: nothing to push
    assert (await submissions.stored(pulled.submission.id)) is not None
    answer = await http.put(
        f"/admin/v1/recipients/{ex.recipient.org_id}",
        json={"mode": "push", "endpoint": "https://back-office.example/hooks"},
        headers=admin_headers,
    )
    assert answer.status_code == 200, answer.text
    pushed = await submissions.submit(sender, SubmissionRequest(**ex.request()), "push-" * 4)
    await queue.ensure_group()
    jobs = [json.loads(entry.data or "null") for entry in await queue.read_new("test", 10, None)]
    assert [job["submission"] for job in jobs] == [pushed.submission.id]
