"""Push delivery (DESIGN.md §3.4): a Standard Webhooks signed POST to the recipient's
endpoint, verified here with the independent ``standardwebhooks`` package; secret rotation;
a replayed (old) timestamp refused; retries with back-off, then the dead letters and a
``failed`` state both sides see."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.delivery.envelope import open_envelope
from gateway.delivery.services import Job
from gateway.delivery.store import DeliveryQueue
from gateway.delivery.webhooks import signed_headers
from gateway.delivery.worker import delivery_worker
from gateway.runtime import Runtime
from tests.gateway.delivery.receiver import Receiver, running_receiver
from tests.gateway.delivery.support import Exchange, acknowledgement, exchange, submit


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def _push_to(
    http: httpx.AsyncClient, admin_headers: dict[str, str], ex: Exchange, url: str
) -> str:
    """Make the recipient a push recipient; its webhook secret."""
    response = await http.put(
        f"/admin/v1/recipients/{ex.recipient.org_id}",
        json={"mode": "push", "endpoint": url},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["webhook_secret"])


async def _state(http: httpx.AsyncClient, ex: Exchange, submission_id: str, want: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        view = await http.get(f"/api/v1/submissions/{submission_id}", headers=ex.sender.headers)
        if view.json()["state"] == want:
            return
        assert time.monotonic() < deadline, view.json()
        await asyncio.sleep(0.05)


async def test_a_submission_is_pushed_signed_per_standard_webhooks_and_then_acknowledged(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    secret = await _push_to(http, admin_headers, ex, receiver.url)
    sent = (await submit(http, ex.sender.headers, ex.request())).json()
    pushed = (await receiver.arrival(1))[0]
    event = Webhook(secret).verify(pushed.body, pushed.headers)
    assert pushed.headers["webhook-id"] == sent["id"]
    assert event["type"] == "submission.received"
    jwks = (await http.get("/.well-known/jwks.json")).json()
    opened = open_envelope(event["data"], jwks)
    assert opened.submission["id"] == sent["id"]
    assert opened.payload_sha256 == sent["payload_sha256"]
    await _state(http, ex, sent["id"], "delivered")
    ack = acknowledgement(
        ex.recipient.kit, runtime.settings.issuer, sent["id"], opened.payload_sha256
    )
    acked = await http.post(
        f"/api/v1/submissions/{sent['id']}/acknowledgement",
        json={"acknowledgement": ack},
        headers=ex.recipient.headers,
    )
    assert acked.json()["state"] == "acknowledged"
    view = (await http.get(f"/api/v1/submissions/{sent['id']}", headers=ex.sender.headers)).json()
    events = [e["event"] for e in view["timeline"]]
    assert events == ["accepted", "queued", "attempt", "delivered", "acknowledged"]


async def test_one_changed_byte_or_an_old_timestamp_fails_the_webhook_signature(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    secret = await _push_to(http, admin_headers, ex, receiver.url)
    await submit(http, ex.sender.headers, ex.request())
    pushed = (await receiver.arrival(1))[0]
    changed = bytearray(pushed.body)
    changed[changed.index(b"submission.received")] = ord("S")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(bytes(changed), pushed.headers)
    # A push captured and replayed ten minutes later carries its old timestamp.
    old = int(time.time()) - 600
    replayed = signed_headers([secret], pushed.headers["webhook-id"], old, pushed.body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(pushed.body, replayed)


async def test_after_a_rotation_pushes_verify_with_the_new_and_the_old_secret(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    old = await _push_to(http, admin_headers, ex, receiver.url)
    rotated = await http.post(
        f"/admin/v1/recipients/{ex.recipient.org_id}/rotate-secret", headers=admin_headers
    )
    new = rotated.json()["webhook_secret"]
    assert new != old and len(rotated.json()["secrets"]) == 2
    assert "sealed" not in json.dumps(rotated.json())
    await submit(http, ex.sender.headers, ex.request())
    pushed = (await receiver.arrival(1))[0]
    assert len(pushed.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(pushed.body, pushed.headers)
    Webhook(old).verify(pushed.body, pushed.headers)
    stranger = "whsec_" + "A" * 43 + "="
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(pushed.body, pushed.headers)


async def test_a_refused_push_is_retried_then_dead_lettered_and_failed_for_both_sides(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = (await submit(http, ex.sender.headers, ex.request())).json()
    receiver.status = 503  # before push is on, so no push of the live gateway's succeeds
    await _push_to(http, admin_headers, ex, receiver.url)
    queue = DeliveryQueue(runtime.redis, name=f"test-{secrets.token_hex(4)}")
    await queue.add(Job(sent["id"]).to_json())
    worker = delivery_worker(
        runtime,
        queue=queue,
        max_attempts=2,
        retry_base_seconds=0.05,
        retry_max_seconds=0.05,
        claim_idle_seconds=60,
    )
    try:
        first = await worker.drain()
        assert first.retrying == 1
        await asyncio.sleep(0.2)
        second = await worker.drain()
        assert second.dead_lettered == 1
    finally:
        await worker.leave()
        await worker.close()
    letters = await queue.dead_letters()
    assert json.loads(letters[0]["j"])["submission"] == sent["id"]
    assert letters[0]["attempts"] == "2"
    await _state(http, ex, sent["id"], "failed")
    view = (
        await http.get(f"/api/v1/submissions/{sent['id']}", headers=ex.recipient.headers)
    ).json()
    assert [e for e in view["timeline"] if e["event"] == "attempt"][-1]["outcome"] == "failed"
    # A failed push can still be pulled.
    fetched = await http.get(
        f"/api/v1/submissions/{sent['id']}/envelope", headers=ex.recipient.headers
    )
    assert fetched.status_code == 200
    await _state(http, ex, sent["id"], "delivered")


async def test_a_delivered_submission_queued_again_is_not_pushed_twice(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    await _push_to(http, admin_headers, ex, receiver.url)
    sent = (await submit(http, ex.sender.headers, ex.request())).json()
    await receiver.arrival(1)
    await _state(http, ex, sent["id"], "delivered")
    queue = DeliveryQueue(runtime.redis, name=f"test-{secrets.token_hex(4)}")
    await queue.add(Job(sent["id"]).to_json())
    worker = delivery_worker(runtime, queue=queue)
    try:
        drained = await worker.drain()
    finally:
        await worker.leave()
        await worker.close()
    assert drained.delivered == 1
    assert len(receiver.received) == 1
