"""Retention per service: a submission's body (in its envelope) and its attachments are
kept until the service's retention ends (``EXPIREAT`` on every key of the submission),
while the evidence log keeps the digests of both for good."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

import httpx

from gateway.runtime import Runtime
from tests.gateway.delivery.support import exchange, submit
from tests.gateway.delivery.test_attachments import PDF


async def test_bodies_and_attachments_expire_with_the_service_and_the_log_keeps_digests(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    before, _ = await runtime.evidence.head()
    ex = await exchange(
        http, runtime, admin_headers, retention_days=30, attachment_types=["application/pdf"]
    )
    answer = (
        await submit(
            http, ex.sender.headers, ex.request(), files=[("a.pdf", PDF, "application/pdf")]
        )
    ).json()
    view = (await http.get(f"/api/v1/submissions/{answer['id']}", headers=ex.sender.headers)).json()
    due = datetime.fromisoformat(view["delete_after"]).timestamp()
    assert abs(due - time.time() - 30 * 86400) < 60
    tag = f"{{gc:sbm:{answer['id']}}}"
    for key in (tag, f"{tag}:timeline", f"{tag}:attachments"):
        assert abs(await runtime.redis.ttl(key) - (due - time.time())) < 5
    logged = [
        e
        for e in await runtime.evidence.entries(before, 1000)
        if e["subject"] == answer["id"] and e["action"] == "submission.accepted"
    ]
    details = logged[0]["details"]
    assert isinstance(details, dict)
    assert details["payload_sha256"] == answer["payload_sha256"]
    assert details["attachments_sha256"] == [hashlib.sha256(PDF).hexdigest()]
