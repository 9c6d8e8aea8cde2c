"""The payments worker on the real store, posting over real HTTP to a council's endpoint: a
refused message is sent again on GOV.UK Pay's schedule (shortened here) with the same bytes
and signature, then given up on into the dead letters; a deactivated webhook gets nothing;
the mop-up expires abandoned payments once, however often it runs, and says so by webhook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.queue import consumer_name
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.runtime import Runtime
from payments.models import Mode, NewPayment, PaymentAccount
from payments.providers.sandbox import SandboxProvider
from payments.services import PaymentService
from payments.states import Status
from payments.store import PaymentStore
from payments.webhooks import EventType, WebhookSender, WebhookService
from payments.worker import PaymentsWorker
from tests.conftest import TEST_ACTOR
from tests.gateway.delivery.receiver import Receiver, running_receiver
from tests.payments.support import Keyed, own_queue, payment_body
from tests.support.clock import MovableClock

SCHEDULE = (0.2, 0.2, 0.2, 0.2, 0.2)  # GOV.UK Pay's 1 min … 2 days, shortened


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _worker(
    runtime: Runtime, webhooks: WebhookService, payments: PaymentService | None = None
) -> PaymentsWorker:
    return PaymentsWorker(
        webhooks.store,
        webhooks,
        payments or runtime.payments.payments,
        WebhookSender(),
        runtime.clock,
        consumer=consumer_name(),
        schedule=SCHEDULE,
    )


async def _hook(webhooks: WebhookService, keyed: Keyed, url: str) -> tuple[str, str]:
    issued = await webhooks.create(
        keyed.org_id, keyed.service, Mode.TEST, url, [e.value for e in EventType], TEST_ACTOR
    )
    return issued.webhook.id, issued.signing_secret


async def _emit(webhooks: WebhookService, keyed: Keyed) -> None:
    account = f"{keyed.org_id}:{keyed.service}:test"
    resource = {"payment_id": "pay1", "state": {"status": "success", "finished": True}}
    await webhooks.emit(account, (EventType.CAPTURED,), "payment", "pay1", resource)


async def test_a_refused_message_is_retried_on_schedule_with_the_same_bytes_then_dead_lettered(
    runtime: Runtime, keyed: Keyed, queue_name: str, receiver: Receiver
) -> None:
    webhooks = own_queue(runtime, queue_name)
    hook_id, secret = await _hook(webhooks, keyed, receiver.url)
    receiver.status = 500
    await _emit(webhooks, keyed)
    worker = _worker(runtime, webhooks)
    try:
        for attempt in range(1, 7):
            await worker.drain()
            assert len(receiver.received) == attempt
            await worker.drain()  # the next attempt is not due yet: nothing is sent
            assert len(receiver.received) == attempt
            await asyncio.sleep(0.25)
        await worker.drain()
    finally:
        await worker.close()
    assert len(receiver.received) == 6, "six attempts in all, as GOV.UK Pay makes"
    bodies = {sent.body for sent in receiver.received}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    body = bodies.pop()
    for sent in receiver.received:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(sent.headers["pay-signature"], expected)
        assert sent.headers["content-type"] == "application/json"
    assert await webhooks.store.waiting() == 0
    dead = await webhooks.store.dead_letters()
    assert len(dead) == 1 and json.loads(dead[0]["j"])["attempt"] == 6
    assert dead[0]["error"] == "webhook-refused"
    attempts = await webhooks.attempts(hook_id)
    assert [a["attempt"] for a in attempts] == [6, 5, 4, 3, 2, 1]
    assert {a["status"] for a in attempts} == {500}


async def test_a_message_accepted_on_its_second_attempt_is_not_sent_again(
    runtime: Runtime, keyed: Keyed, queue_name: str, receiver: Receiver
) -> None:
    webhooks = own_queue(runtime, queue_name)
    await _hook(webhooks, keyed, receiver.url)
    receiver.status = 503
    await _emit(webhooks, keyed)
    worker = _worker(runtime, webhooks)
    try:
        await worker.drain()
        receiver.status = 204
        await asyncio.sleep(0.25)
        await worker.drain()
        await asyncio.sleep(0.25)
        await worker.drain()
    finally:
        await worker.close()
    assert len(receiver.received) == 2
    assert json.loads(receiver.received[0].body) == json.loads(receiver.received[1].body)
    assert await webhooks.store.waiting() == 0
    assert await webhooks.store.dead_letters() == []
    assert await webhooks.store.length() == 0


async def test_a_webhook_deactivated_after_its_message_was_queued_gets_nothing(
    runtime: Runtime, keyed: Keyed, queue_name: str, receiver: Receiver
) -> None:
    webhooks = own_queue(runtime, queue_name)
    hook_id, _ = await _hook(webhooks, keyed, receiver.url)
    await _emit(webhooks, keyed)
    await webhooks.set_active(hook_id, False, TEST_ACTOR)
    worker = _worker(runtime, webhooks)
    try:
        drained = await worker.drain()
    finally:
        await worker.close()
    assert drained.delivered == 1 and receiver.received == []
    assert await webhooks.store.length() == 0


async def test_the_mop_up_expires_an_abandoned_payment_once_and_sends_card_payment_expired(
    runtime: Runtime, keyed: Keyed, queue_name: str, receiver: Receiver
) -> None:
    webhooks = own_queue(runtime, queue_name)
    _, secret = await _hook(webhooks, keyed, receiver.url)
    now = datetime.now(UTC)

    def service(clock: MovableClock) -> PaymentService:
        return PaymentService(
            PaymentStore(runtime.redis),
            clock,
            runtime.evidence,
            SecretBox.load(runtime.settings.pki_dir / DATA_KEY_FILE_NAME),
            {Mode.TEST: SandboxProvider()},
            webhooks=webhooks,
            base_url=runtime.settings.issuer,
        )

    # Made 89 minutes ago; this worker's clock runs 2 minutes ahead, so it finds the payment
    # abandoned a minute before the live gateways' mop-up (on the system clock) would.
    account = PaymentAccount(keyed.org_id, keyed.service, Mode.TEST, keyed.key_id)
    made = service(MovableClock(now - timedelta(minutes=89)))
    abandoned, _ = await made.create(account, NewPayment.parse(payment_body(), Mode.TEST))
    fresh, _ = await made.create(account, NewPayment.parse(payment_body(), Mode.TEST))
    await made.cancel(account, fresh.id)  # finished: the mop-up only drops it from its index
    ahead = service(MovableClock(now + timedelta(minutes=2)))
    worker = _worker(runtime, webhooks, ahead)
    try:
        await worker.drain()
        await worker.drain()  # idempotent: nothing more happens
        await asyncio.gather(worker.tick(), worker.tick())
        await worker.drain()
    finally:
        await worker.close()
    expired = await ahead.get(account, abandoned.id)
    assert expired.status is Status.FAILED and expired.code == "P0020"
    events = await ahead.events(account, abandoned.id)
    assert [e.status for e in events] == [Status.CREATED, Status.FAILED]
    kinds = [json.loads(sent.body)["event_type"] for sent in receiver.received]
    assert kinds.count("card_payment_expired") == 1
    sent = next(s for s in receiver.received if b"card_payment_expired" in s.body)
    message = json.loads(sent.body)
    assert message["resource_id"] == abandoned.id
    assert message["resource"]["state"] == {
        "status": "failed",
        "finished": True,
        "code": "P0020",
        "message": "Payment expired",
    }
    assert (
        sent.headers["pay-signature"]
        == hmac.new(secret.encode(), sent.body, hashlib.sha256).hexdigest()
    )
    for payment_id in (abandoned.id, fresh.id):
        shard_hits = [
            await runtime.redis.zscore(f"{{gc:payopen:{n}}}", payment_id) for n in range(16)
        ]
        assert shard_hits == [None] * 16, "finished payments leave the mop-up's index"
