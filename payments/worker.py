"""The payments worker: sends webhook messages to council services, and runs the periodic
jobs of payments (due webhook retries back onto the queue; the mop-up that expires abandoned
payments).

Messages are read from :class:`~payments.store.WebhookStore` through the consumer group of
:mod:`gateway.core.queue` (``XREADGROUP``; entries of a worker that stopped mid-delivery are
taken by another with ``XAUTOCLAIM``). GOV.UK Pay retries on a fixed schedule of up to two
days (:data:`payments.webhooks.RETRY_SCHEDULE`), far longer than an entry should sit in a
consumer's pending list, so a failed attempt is not left pending: the next attempt goes into
a sorted set by due time, the entry is acknowledged, and :meth:`PaymentsWorker.tick` moves
due attempts back onto the queue with one script. A message still refused at its sixth
attempt goes to the dead letters.

Delivery is at least once (a worker killed between the ``POST`` and the acknowledgement sends
again): the message ``id`` is the same on every attempt, so the council drops a duplicate.
The mop-up is idempotent: expiring is a compare-and-set, so workers in many processes may
run it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from gateway.core.clock import Clock
from gateway.core.queue import (
    Delivered,
    Drained,
    Failed,
    QueueEntry,
    StreamWorker,
    Tuning,
    consumer_name,
)
from gateway.core.queue.worker import DEFAULT_BLOCK_SECONDS
from gateway.core.secretbox import UnsealError
from payments.errors import WebhookNotFoundError
from payments.services import PaymentService
from payments.store import WebhookStore
from payments.webhooks import RETRY_SCHEDULE, WebhookJob, WebhookSender, WebhookService

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 15.0
# An entry is pending only for the length of one attempt (5-second timeout): a stopped
# worker's entry is taken by another after a minute.
DEFAULT_CLAIM_IDLE_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


class PaymentsWorker(StreamWorker[WebhookJob]):
    """Sends queued webhook messages; see the module docstring."""

    limit_unacknowledged = True
    maintenance_every_pass = False
    stop_grace_seconds = STOP_GRACE_SECONDS
    noun = "payment webhook"
    task_name = "payment-webhooks"
    malformed_reason = "not a payment webhook message"
    retry_message = "payment webhook not sent; will retry"
    defaults = Tuning(
        # Attempts of one queue entry (a worker stopping mid-send); the schedule of the
        # message itself is RETRY_SCHEDULE.
        max_attempts=5,
        retry_base_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
        retry_max_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
        claim_idle_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
    )

    def __init__(
        self,
        store: WebhookStore,
        webhooks: WebhookService,
        payments: PaymentService,
        sender: WebhookSender,
        clock: Clock,
        *,
        consumer: str,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        tick_seconds: float = DEFAULT_TICK_SECONDS,
        **tuning: Unpack[Tuning],
    ) -> None:
        super().__init__(store, consumer=consumer, log=log, now=clock.now, **tuning)
        self._queue = store
        self._webhooks = webhooks
        self._payments = payments
        self._sender = sender
        self._clock = clock
        self._schedule = tuple(schedule)
        self._tick_seconds = tick_seconds

    # --- the queue ------------------------------------------------------------------------

    def decode(self, entry: QueueEntry, attempt: int) -> WebhookJob:
        return WebhookJob.from_json(json.loads(entry.data or "null"))

    def facts(self, job: WebhookJob, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        return {
            "webhook": job.webhook_id,
            "webhook_message": job.message_id,
            "event_type": job.event_type,
            "attempt": job.attempt,
            "queue_entry": entry.id,
        }

    async def deliver(self, job: WebhookJob, attempt: int) -> Delivered | Failed:
        try:
            webhook = await self._webhooks.get(job.webhook_id)
        except WebhookNotFoundError:
            return Delivered("payment webhook gone; message not sent")
        if not webhook.active:
            return Delivered("payment webhook inactive; message not sent")
        try:
            secret = self._webhooks.signing_secret(webhook)
        except UnsealError:
            return Failed("secret-unreadable", "the signing secret would not unseal", False)
        sent = await self._sender.post(webhook.url, secret, job.body.encode())
        now = self._clock.now()
        await self._queue.log_attempt(
            webhook.id,
            {
                "message": job.message_id,
                "event_type": job.event_type,
                "resource_id": job.resource_id,
                "attempt": job.attempt,
                "status": sent.status,
                "result": "delivered" if sent.ok else "failed",
                "detail": sent.detail,
                "at": now.isoformat(),
            },
        )
        if sent.ok:
            return Delivered("payment webhook sent")
        if job.attempt > len(self._schedule):
            return Failed(
                "webhook-refused",
                f"still failing after {job.attempt} attempts: {sent.detail}",
                retryable=False,
            )
        wait = self._schedule[job.attempt - 1]
        due_ms = int(now.timestamp() * 1000 + wait * 1000)
        await self._queue.schedule(job.next_attempt().encoded(), due_ms)
        self.log.warning(
            "payment webhook not sent; next attempt scheduled",
            extra={
                "webhook": job.webhook_id,
                "webhook_message": job.message_id,
                "attempt": job.attempt,
                "reason": sent.detail,
                "retry_in_seconds": wait,
            },
        )
        return Delivered("payment webhook attempt settled; retry scheduled")

    async def close(self) -> None:
        await self._sender.aclose()

    # --- the periodic jobs ----------------------------------------------------------------

    async def tick(self) -> tuple[int, int]:
        """Due webhook retries back onto the queue, then the mop-up: (messages moved,
        payments expired)."""
        moved = await self._queue.promote(int(self._clock.now().timestamp() * 1000))
        expired = await self._payments.expire_abandoned()
        if moved or expired:
            log.info(
                "payments periodic jobs ran",
                extra={"webhook_retries_queued": moved, "payments_expired": expired},
            )
        return moved, expired

    async def drain(self) -> Drained:
        """The periodic jobs once, then one pass over the queue without waiting."""
        await self.tick()
        return await super().drain()

    async def run(self, stop: asyncio.Event) -> None:
        """Send messages until ``stop`` is set, running :meth:`tick` every ``tick_seconds``
        beside; a failed tick is logged and tried again at the next."""
        ticker = asyncio.create_task(self._ticking(stop), name=f"payments-tick:{self.consumer}")
        try:
            await super().run(stop)
        finally:
            stop.set()
            await ticker

    async def _ticking(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("payments periodic jobs failed", extra={"error": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._tick_seconds)


def payments_worker(
    runtime: Runtime,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    store: WebhookStore | None = None,
    schedule: Sequence[float] = RETRY_SCHEDULE,
    tick_seconds: float = DEFAULT_TICK_SECONDS,
    **tuning: Unpack[Tuning],
) -> PaymentsWorker:
    """The worker ``govconnect serve`` and ``govconnect worker`` run, on the runtime's queue
    unless given another (tests run their own beside a live gateway's)."""
    payments = runtime.payments
    # XREADGROUP's BLOCK must end before the connection's socket timeout.
    tuning.setdefault(
        "block_seconds", min(DEFAULT_BLOCK_SECONDS, runtime.settings.redis_timeout_seconds / 2)
    )
    return PaymentsWorker(
        store or payments.webhooks.store,
        payments.webhooks,
        payments.payments,
        WebhookSender(transport),
        runtime.clock,
        consumer=consumer_name(),
        schedule=schedule,
        tick_seconds=tick_seconds,
        **tuning,
    )
