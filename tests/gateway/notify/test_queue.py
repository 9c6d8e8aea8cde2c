"""The notification queue on the real store, delivered over real HTTP to the local GOV.UK
Notify stand-in: sending only queues (Notify hears nothing until a worker runs, and a Notify
outage never reaches the caller); the worker delivers with the right template id and
personalisation, retries a busy or failing Notify, dead-letters what retrying cannot fix,
takes over what a dead consumer left unacknowledged (exactly one delivery), shares the work
with other workers without delivering twice, leaves its group when stopped, and logs no
recipient or personalisation."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from gateway.notify.errors import MissingPersonalisationError, UnknownTemplateError
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Channel, Notification
from gateway.notify.queue import QueuedNotifier
from gateway.notify.services import Notifier
from gateway.notify.store import NotificationQueueStore
from gateway.notify.worker import Drained, NotificationWorker
from gateway.runtime import Runtime
from tests.support.notify_api import NotifyApiStandIn, Received
from tests.support.servers import free_port

CODE = "482913"
_CONSUMERS = itertools.count(1)

WorkerFactory = Callable[..., NotificationWorker]


def code_email(to: str, code: str = CODE) -> Notification:
    return Notification(Channel.EMAIL, to, "sign-in-code", {"code": code})


def sent_to(api: NotifyApiStandIn, to: str) -> list[Received]:
    return [r for r in api.received if r.payload.get("email_address") == to]


@pytest.fixture
def store(runtime: Runtime) -> NotificationQueueStore:
    """A queue of the test's own, so tests sharing the session's Redis do not mix."""
    return NotificationQueueStore(runtime.redis, name=f"test-{secrets.token_hex(6)}")


@pytest.fixture
def queued(store: NotificationQueueStore, runtime: Runtime) -> QueuedNotifier:
    return QueuedNotifier(store, runtime.clock)


@pytest.fixture
def make_worker(
    store: NotificationQueueStore, govuk_notify: GovUkNotify, runtime: Runtime
) -> WorkerFactory:
    """Workers delivering through GOV.UK Notify (the stand-in), retrying without back-off so
    that each drain_once is the next attempt."""

    def factory(
        *, delivery: Notifier | None = None, consumer: str | None = None, **options: Any
    ) -> NotificationWorker:
        options.setdefault("retry_base_seconds", 0.0)
        options.setdefault("retry_max_seconds", 0.0)
        return NotificationWorker(
            store,
            delivery or govuk_notify,
            runtime.clock,
            consumer=consumer or f"test-worker-{next(_CONSUMERS)}",
            **options,
        )

    return factory


async def test_a_queued_notification_is_delivered_with_its_template_id_and_personalisation(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
    email: str,
) -> None:
    await queued.send(code_email(email))  # before any worker (or consumer group) exists
    assert await make_worker().drain_once() == Drained(delivered=1)
    [received] = sent_to(notify_api, email)
    assert received.type == "email"
    assert received.payload["template_id"] == notify_template_ids["sign-in-code"]
    assert received.payload["personalisation"] == {"code": CODE}
    assert await store.length() == 0 and await store.pending() == []


async def test_a_text_message_is_delivered_with_the_sms_template(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
) -> None:
    number = f"07700900{secrets.randbelow(1000):03d}"
    await queued.send(Notification(Channel.SMS, number, "new-message", {"sender": "Anytown"}))
    await make_worker().drain_once()
    received = [r for r in notify_api.received if r.payload.get("phone_number") == number][-1]
    assert received.payload["template_id"] == notify_template_ids["new-message:sms"]
    assert received.payload["personalisation"] == {"sender": "Anytown"}


async def test_send_only_queues_and_notify_hears_nothing_until_a_worker_runs(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    before = (len(notify_api.received), len(notify_api.refused))
    await queued.send(code_email(email))
    await queued.send(Notification(Channel.EMAIL, email, "password-changed", {}))
    assert (len(notify_api.received), len(notify_api.refused)) == before
    assert await store.length() == 2
    assert await make_worker().drain_once() == Drained(delivered=2)
    assert len(sent_to(notify_api, email)) == 2


async def test_a_notification_the_catalogue_cannot_render_fails_in_the_caller_unqueued(
    queued: QueuedNotifier, store: NotificationQueueStore, email: str
) -> None:
    with pytest.raises(MissingPersonalisationError):
        await queued.send(Notification(Channel.EMAIL, email, "verify-email", {}))
    with pytest.raises(UnknownTemplateError):
        await queued.send(Notification(Channel.EMAIL, email, "welcome", {}))
    assert await store.length() == 0


async def test_an_unreachable_notify_never_fails_the_caller_and_the_message_waits_queued(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
    email: str,
) -> None:
    unreachable = GovUkNotify(
        notify_api.api_key, notify_template_ids, base_url=f"http://127.0.0.1:{free_port()}"
    )
    await queued.send(code_email(email))  # no error: the caller never meets the outage
    assert await make_worker(consumer="w1", delivery=unreachable).drain_once() == Drained(
        retrying=1
    )
    [pending] = await store.pending()
    assert (pending.consumer, pending.deliveries) == ("w1", 1)
    # Another worker leaves it alone (it is w1's to retry) ...
    assert await make_worker().drain_once() == Drained()
    assert sent_to(notify_api, email) == []
    # ... and once Notify is back, w1's next attempt delivers it.
    assert await make_worker(consumer="w1").drain_once() == Drained(delivered=1)
    assert len(sent_to(notify_api, email)) == 1


async def test_a_busy_or_failing_notify_is_retried_and_then_delivered_once(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    worker = make_worker()
    notify_api.fail_next(500, "Exception", "Internal server error")
    notify_api.fail_next(429, "RateLimitError", "Exceeded rate limit for key type LIVE")
    await queued.send(code_email(email))
    assert await worker.drain_once() == Drained(retrying=1)
    assert await worker.drain_once() == Drained(retrying=1)
    assert await worker.drain_once() == Drained(delivered=1)
    [received] = sent_to(notify_api, email)
    assert received.payload["personalisation"] == {"code": CODE}
    assert await store.pending() == [] and await store.length() == 0
    assert await store.dead_letters() == []


async def test_a_refusal_retrying_cannot_fix_goes_to_the_dead_letters_at_once(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
) -> None:
    address = f"not-an-address-{secrets.token_hex(4)}@"
    await queued.send(code_email(address))
    assert await make_worker().drain_once() == Drained(dead_lettered=1)
    assert notify_api.refused[-1].status_code == 400
    [dead] = await store.dead_letters()
    assert dead["error"] == "notification-not-delivered" and dead["attempts"] == "1"
    assert "400" in dead["reason"] and "ValidationError" in dead["reason"]
    assert address not in dead["reason"] and CODE not in dead["reason"]
    # The dead letter keeps the notification itself, so an operator can send it again.
    assert json.loads(dead["n"])["to"] == address
    assert await store.length() == 0 and await store.pending() == []


async def test_a_failure_that_outlasts_max_attempts_goes_to_the_dead_letters(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    worker = make_worker(max_attempts=2)
    notify_api.fail_next(500, "Exception", "Internal server error")
    notify_api.fail_next(503, "Exception", "Service unavailable")
    await queued.send(code_email(email))
    assert await worker.drain_once() == Drained(retrying=1)
    assert await worker.drain_once() == Drained(dead_lettered=1)
    [dead] = await store.dead_letters()
    assert dead["attempts"] == "2" and "still failing after 2 attempts" in dead["reason"]
    assert sent_to(notify_api, email) == []
    assert await worker.drain_once() == Drained()


async def test_an_entry_a_dead_consumer_read_is_reclaimed_and_delivered_exactly_once(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    await queued.send(code_email(email))
    await store.ensure_group()
    assert len(await store.read_new("dead-consumer", 10, None)) == 1  # and never acknowledged
    # Within the claim idle time the entry may still be in a live worker's hands: untouched.
    assert await make_worker().drain_once() == Drained()
    assert sent_to(notify_api, email) == []

    rescuer = make_worker(claim_idle_seconds=0.0, stale_consumer_seconds=0.0)
    assert await rescuer.drain_once() == Drained(delivered=1, reclaimed=1)
    assert await rescuer.drain_once() == Drained()
    assert await make_worker(claim_idle_seconds=0.0).drain_once() == Drained()
    [received] = sent_to(notify_api, email)
    assert received.payload["personalisation"] == {"code": CODE}
    assert await store.pending() == [] and await store.length() == 0
    assert "dead-consumer" not in {c.name for c in await store.consumers()}


async def test_an_entry_whose_consumers_keep_dying_goes_to_the_dead_letters_unsent(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    await queued.send(code_email(email))
    await store.ensure_group()
    await store.read_new("died-delivering", 10, None)  # its only delivery, never acknowledged
    rescuer = make_worker(max_attempts=1, claim_idle_seconds=0.0)
    assert await rescuer.drain_once() == Drained(dead_lettered=1, reclaimed=1)
    [dead] = await store.dead_letters()
    assert (dead["error"], dead["attempts"]) == ("too-many-attempts", "2")
    assert sent_to(notify_api, email) == []


async def test_an_entry_that_is_not_a_notification_goes_to_the_dead_letters(
    runtime: Runtime, make_worker: WorkerFactory, store: NotificationQueueStore
) -> None:
    await runtime.redis.xadd(store.key, {"n": '{"v": 99}'})
    await runtime.redis.xadd(store.key, {"other": "field"})
    assert await make_worker().drain_once() == Drained(dead_lettered=2)
    assert {d["error"] for d in await store.dead_letters()} == {"malformed-entry"}
    assert await store.length() == 0


async def test_workers_draining_at_once_deliver_each_notification_once(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    addresses = [f"{i}.{email}" for i in range(12)]
    for index, address in enumerate(addresses):
        await queued.send(code_email(address, f"{index:06d}"))
    workers = [make_worker(batch=4) for _ in range(3)]
    total = Drained()
    for _ in range(10):
        for drained in await asyncio.gather(*(w.drain_once() for w in workers)):
            total += drained
    assert total.delivered == 12
    for index, address in enumerate(addresses):
        [received] = sent_to(notify_api, address)
        assert received.payload["personalisation"] == {"code": f"{index:06d}"}


async def test_a_running_worker_delivers_and_leaves_its_group_when_stopped(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    worker = make_worker(block_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await queued.send(code_email(email))
    for _ in range(200):
        if sent_to(notify_api, email):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(sent_to(notify_api, email)) == 1
    assert worker.consumer not in {c.name for c in await store.consumers()}


async def test_no_log_line_holds_a_recipient_or_personalisation(
    queued: QueuedNotifier,
    make_worker: WorkerFactory,
    store: NotificationQueueStore,
    notify_api: NotifyApiStandIn,
    email: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_address = f"nobody-{secrets.token_hex(4)}@"
    worker = make_worker(max_attempts=2)
    notify_api.fail_next(500, "Exception", "Internal server error")
    await queued.send(code_email(email, "731904"))
    assert await worker.drain_once() == Drained(retrying=1)
    assert await worker.drain_once() == Drained(delivered=1)
    await queued.send(code_email(bad_address, "731905"))
    assert await worker.drain_once() == Drained(dead_lettered=1)
    notify_api.fail_next(500, "Exception", "Internal server error")
    notify_api.fail_next(500, "Exception", "Internal server error")
    await queued.send(code_email(f"x.{email}", "731906"))
    assert await worker.drain_once() == Drained(retrying=1)
    assert await worker.drain_once() == Drained(dead_lettered=1)
    messages = {r.getMessage() for r in caplog.records}
    assert {
        "notification queued",
        "notification not delivered; it stays queued and will be retried",
        "notification delivered from the queue",
        "notification moved to the dead letters",
    } <= messages
    for record in caplog.records:
        logged = record.getMessage() + repr(vars(record))
        for secret in ("731904", "731905", "731906", email, bad_address):
            assert secret not in logged, (secret, record.name, record.getMessage())
