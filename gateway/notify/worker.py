"""The delivery worker: reads the notification queue through a Redis Streams consumer group
and delivers each notification through the real notifier (GOV.UK Notify, or the local
outbox).

How it uses the consumer group (Redis Streams, "Consumer groups"; all in Redis 6.2):

- the group is created at ``0`` with ``XGROUP CREATE … MKSTREAM``, once and idempotently
  (``BUSYGROUP`` means it exists), so entries queued before any worker ran are delivered;
- new entries arrive with ``XREADGROUP … BLOCK``; each is then pending for this consumer
  until it is acknowledged, and Redis counts its deliveries;
- a delivered entry is acknowledged and deleted in one script (``XACK`` + ``XDEL``);
- an entry that failed with a retryable error stays pending (GOV.UK Notify's API
  documentation, "Error codes": retry a ``429`` ``RateLimitError``/``TooManyRequestsError``
  and a ``500``; Notify out of reach is retried too: a
  :class:`~gateway.notify.errors.NotifyDeliveryError` with ``retryable``). Once it has been
  idle for the back-off of its delivery count (doubling from ``retry_base_seconds`` up to
  ``retry_max_seconds``) the worker takes it again with ``XCLAIM`` (found with
  ``XPENDING … IDLE``), which counts the new delivery;
- entries of a consumer that stopped without acknowledging (a killed process) are taken by
  any worker with ``XAUTOCLAIM`` once idle for ``claim_idle_seconds``;
- an entry that fails with an error that retrying cannot fix (Notify's ``400``
  ``BadRequestError``/``ValidationError`` or ``403`` ``AuthError``, a template the catalogue
  does not know) or is still failing at ``max_attempts`` is moved to the dead-letter
  stream, with the reason, in one script (``XACK`` + ``XDEL`` + ``XADD``);
- a consumer left holding nothing is removed from the group (``XGROUP DELCONSUMER``, only
  while it has no pending entry): this worker's own at a clean stop, others once idle for
  ``stale_consumer_seconds``.

Delivery is at least once: a worker that stops after Notify accepted a message but before
the acknowledgement leaves it pending, and another worker delivers it again. Several
processes may run workers on one queue; each needs its own consumer name
(:func:`~gateway.notify.queue.consumer_name`). Back-off and idle times are the Redis
server's, so workers on machines with different clocks agree on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from gateway.core.clock import Clock
from gateway.core.requestctx import reset_request_id, set_request_id
from gateway.notify.errors import NotifyDeliveryError, NotifyError
from gateway.notify.models import Notification, QueuedNotification
from gateway.notify.store import NotificationQueueStore, QueueEntry

if TYPE_CHECKING:
    from gateway.notify.services import Notifier

log = logging.getLogger(__name__)

_REDACTED = "[redacted]"
DEFAULT_BATCH = 16
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_RETRY_BASE_SECONDS = 1.0
DEFAULT_RETRY_MAX_SECONDS = 30.0
DEFAULT_CLAIM_IDLE_SECONDS = 60.0
DEFAULT_BLOCK_SECONDS = 1.0
DEFAULT_STALE_CONSUMER_SECONDS = 3600.0
DEFAULT_STOP_GRACE_SECONDS = 15.0
_SWEEP_EVERY_SECONDS = 300.0
_PAUSE_MAX_SECONDS = 30.0


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD_LETTERED = "dead-lettered"
    SKIPPED = "skipped"  # another worker settled it first


@dataclass(frozen=True, slots=True)
class Drained:
    """What one pass over the queue did."""

    delivered: int = 0
    retrying: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0

    def __add__(self, other: Drained) -> Drained:
        return Drained(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.dead_lettered + other.dead_lettered,
            self.reclaimed + other.reclaimed,
        )


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _redact(text: str, notification: Notification | None) -> str:
    """``text`` without the recipient or any personalisation value, longest first: an
    adapter's error should hold none, and this keeps a careless one out of the logs."""
    if notification is None:
        return text
    secrets = sorted(
        {notification.to, *notification.personalisation.values()} - {""}, key=len, reverse=True
    )
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


class NotificationWorker:
    """Delivers queued notifications through ``delivery``; see the module docstring."""

    def __init__(
        self,
        store: NotificationQueueStore,
        delivery: Notifier,
        clock: Clock,
        *,
        consumer: str,
        batch: int = DEFAULT_BATCH,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS,
        retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS,
        claim_idle_seconds: float = DEFAULT_CLAIM_IDLE_SECONDS,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        stale_consumer_seconds: float = DEFAULT_STALE_CONSUMER_SECONDS,
    ) -> None:
        if not consumer.strip():
            raise ValueError("a worker needs a consumer name")
        if batch < 1 or max_attempts < 1:
            raise ValueError("batch and max_attempts must be at least 1")
        if not 0 <= retry_base_seconds <= retry_max_seconds <= claim_idle_seconds:
            # A claim idle time shorter than the longest back-off would let other workers
            # take a waiting retry early.
            raise ValueError(
                "need 0 <= retry_base_seconds <= retry_max_seconds <= claim_idle_seconds"
            )
        if block_seconds <= 0 or stale_consumer_seconds < 0:
            raise ValueError("block_seconds must be positive, stale_consumer_seconds not negative")
        self._store = store
        self._delivery = delivery
        self._clock = clock
        self.consumer = consumer
        self._batch = batch
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._claim_idle_ms = _ms(claim_idle_seconds)
        self._block_ms = max(1, _ms(block_seconds))
        self._poll_seconds = block_seconds
        self._stale_ms = _ms(stale_consumer_seconds)
        self._group_ready = False
        self._cursor = "0-0"
        self._next_maintenance = 0.0
        self._next_sweep = 0.0

    # --- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then leave the group if holding nothing.

        A store outage or any other failure of a pass is logged and waited out (doubling up
        to 30 seconds); it never ends the loop."""
        log.info(
            "notification worker started",
            extra={"consumer": self.consumer, "queue": self._store.key},
        )
        failures = 0
        while not stop.is_set():
            try:
                await self._pass(block_ms=self._block_ms, maintenance=self._maintenance_due())
                failures = 0
            except Exception as exc:
                self._group_ready = False  # the store may have lost it: create it again
                failures += 1
                pause = min(_PAUSE_MAX_SECONDS, 0.5 * 2 ** min(failures - 1, 10))
                log.warning(
                    "notification worker pass failed; pausing",
                    extra={
                        "consumer": self.consumer,
                        "error": type(exc).__name__,
                        "pause_seconds": pause,
                    },
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        await self.leave()
        log.info("notification worker stopped", extra={"consumer": self.consumer})

    async def drain_once(self) -> Drained:
        """One pass without waiting: due retries, entries of stopped consumers (idle for
        ``claim_idle_seconds``), then new entries; stale consumers are swept."""
        return await self._pass(block_ms=None, maintenance=True, sweep=True)

    async def leave(self) -> bool:
        """Remove this worker's consumer from the group if it holds no pending entry."""
        try:
            return await self._store.forget_consumer(self.consumer)
        except Exception as exc:
            log.warning(
                "notification worker could not leave its consumer group",
                extra={"consumer": self.consumer, "error": type(exc).__name__},
            )
            return False

    def _maintenance_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_maintenance:
            return False
        self._next_maintenance = now + self._poll_seconds
        return True

    async def _pass(
        self, *, block_ms: int | None, maintenance: bool, sweep: bool = False
    ) -> Drained:
        if not self._group_ready:
            await self._store.ensure_group()
            self._group_ready = True
        done = Drained()
        if maintenance:
            done += await self._deliver(await self._due_retries())
            reclaimed = await self._reclaim()
            done += await self._deliver(reclaimed) + Drained(reclaimed=len(reclaimed))
            now = time.monotonic()
            if sweep or now >= self._next_sweep:
                self._next_sweep = now + _SWEEP_EVERY_SECONDS
                await self._sweep_consumers()
        fresh = await self._store.read_new(self.consumer, self._batch, block_ms)
        return done + await self._deliver([(entry, 1) for entry in fresh])

    # --- finding work ---------------------------------------------------------------------

    def _backoff_ms(self, deliveries: int) -> int:
        """The wait after the ``deliveries``-th failed delivery: doubling, capped."""
        return _ms(min(self._retry_max, self._retry_base * 2 ** max(0, deliveries - 1)))

    async def _due_retries(self) -> list[tuple[QueueEntry, int]]:
        """This consumer's pending entries whose back-off has run out, taken again with
        ``XCLAIM`` (which counts the delivery and restarts the idle time)."""
        pending = await self._store.pending(
            consumer=self.consumer, min_idle_ms=_ms(self._retry_base), count=self._batch
        )
        due: list[tuple[QueueEntry, int]] = []
        for line in pending:
            wait_ms = self._backoff_ms(line.deliveries)
            if line.idle_ms < wait_ms:
                continue
            for entry in await self._store.claim(self.consumer, wait_ms, [line.id]):
                due.append((entry, line.deliveries + 1))
        return due

    async def _reclaim(self) -> list[tuple[QueueEntry, int]]:
        """Entries idle for ``claim_idle_seconds`` with any consumer (one that stopped
        mid-delivery, most likely), taken with ``XAUTOCLAIM``; the scan goes on from where
        the last one ended."""
        self._cursor, entries = await self._store.autoclaim(
            self.consumer, self._claim_idle_ms, self._cursor, self._batch
        )
        claimed: list[tuple[QueueEntry, int]] = []
        for entry in entries:
            deliveries = await self._store.deliveries(entry.id)
            if deliveries:
                claimed.append((entry, deliveries))
                log.info(
                    "notification reclaimed from an idle consumer",
                    extra={
                        "consumer": self.consumer,
                        "queue_entry": entry.id,
                        "attempt": deliveries,
                    },
                )
        return claimed

    async def _sweep_consumers(self) -> None:
        for consumer in await self._store.consumers():
            if (
                consumer.name != self.consumer
                and consumer.pending == 0
                and consumer.idle_ms >= self._stale_ms
                and await self._store.forget_consumer(consumer.name)
            ):
                log.info(
                    "idle notification consumer removed",
                    extra={"consumer": self.consumer, "removed": consumer.name},
                )

    # --- delivering -----------------------------------------------------------------------

    async def _deliver(self, work: list[tuple[QueueEntry, int]]) -> Drained:
        """Deliver a batch concurrently; a store failure is raised once all have settled,
        leaving the entries concerned pending (they are retried)."""
        if not work:
            return Drained()
        results = await asyncio.gather(
            *(self._handle(entry, attempt) for entry, attempt in work), return_exceptions=True
        )
        counts = dict.fromkeys(Outcome, 0)
        failure: BaseException | None = None
        for result in results:
            if isinstance(result, Outcome):
                counts[result] += 1
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure
        return Drained(
            counts[Outcome.DELIVERED], counts[Outcome.RETRYING], counts[Outcome.DEAD_LETTERED]
        )

    async def _handle(self, entry: QueueEntry, attempt: int) -> Outcome:
        try:
            queued = QueuedNotification.from_json(
                json.loads(entry.data or "null"), entry_id=entry.id, attempt=attempt
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return await self._give_up(
                entry,
                None,
                {"queue_entry": entry.id, "attempt": attempt},
                "malformed-entry",
                "the entry is not a queued notification of this version",
            )
        facts: dict[str, Any] = {
            "consumer": self.consumer,
            "reference": queued.reference,
            "queue_entry": entry.id,
            "template": queued.notification.template,
            "channel": queued.notification.channel.value,
            "attempt": attempt,
        }
        if attempt > self._max_attempts:
            return await self._give_up(
                entry,
                queued,
                facts,
                "too-many-attempts",
                f"delivered {attempt - 1} times without an acknowledgement (a worker stopped "
                "during each)",
            )
        token = set_request_id(queued.request_id)
        try:
            return await self._attempt(entry, queued, facts)
        finally:
            reset_request_id(token)

    async def _attempt(
        self, entry: QueueEntry, queued: QueuedNotification, facts: dict[str, Any]
    ) -> Outcome:
        notification = queued.notification
        try:
            await self._delivery.send(notification)
        except NotifyDeliveryError as exc:
            reason = _redact(exc.detail, notification)
            if exc.extensions.get("retryable") is True:
                return await self._retry_or_give_up(entry, queued, facts, exc.slug, reason, exc)
            return await self._give_up(entry, queued, facts, exc.slug, reason, exc)
        except NotifyError as exc:
            # An unknown template or a missing value: retrying cannot fix it.
            return await self._give_up(
                entry, queued, facts, exc.slug, _redact(exc.detail, notification), exc
            )
        except Exception as exc:
            # NOTE: an unexpected error is retried like an outage, naming only its type (its
            # message might quote the notification); max_attempts bounds a persistent one.
            return await self._retry_or_give_up(
                entry, queued, facts, "unexpected-error", type(exc).__name__, exc
            )
        # NOTE: at least once, not exactly once: if this process dies between Notify's answer
        # and the acknowledgement, another worker sends the message again (a second copy of
        # a code), which beats losing it. Notify's API takes no idempotency key (its
        # ``reference`` only labels a message), so a duplicate cannot be refused there.
        if not await self._store.ack(entry.id):
            log.warning(
                "notification delivered again: another worker had delivered it already",
                extra=facts,
            )
        log.info("notification delivered from the queue", extra=facts)
        return Outcome.DELIVERED

    async def _retry_or_give_up(
        self,
        entry: QueueEntry,
        queued: QueuedNotification,
        facts: dict[str, Any],
        slug: str,
        reason: str,
        exc: BaseException,
    ) -> Outcome:
        if queued.attempt >= self._max_attempts:
            return await self._give_up(
                entry,
                queued,
                facts,
                slug,
                f"still failing after {queued.attempt} attempts: {reason}",
                exc,
            )
        log.warning(
            "notification not delivered; it stays queued and will be retried",
            extra={
                **facts,
                **_status(exc),
                "error": slug,
                "reason": reason,
                "retry_in_seconds": self._backoff_ms(queued.attempt) / 1000,
            },
        )
        return Outcome.RETRYING

    async def _give_up(
        self,
        entry: QueueEntry,
        queued: QueuedNotification | None,
        facts: Mapping[str, Any],
        slug: str,
        reason: str,
        exc: BaseException | None = None,
    ) -> Outcome:
        notification = queued.notification if queued is not None else None
        reason = _redact(reason, notification)
        moved = await self._store.dead_letter(
            entry.id,
            entry.data,
            {
                "error": slug,
                "reason": reason,
                "attempts": str(facts.get("attempt", 0)),
                "consumer": self.consumer,
                "failed_at": self._clock.now().isoformat(),
            },
        )
        if not moved:
            return Outcome.SKIPPED
        # NOTE: the dead letter keeps the notification (recipient and personalisation) so
        # that an operator can send it again; the log line names it by its reference only.
        log.error(
            "notification moved to the dead letters",
            extra={
                **facts,
                **(_status(exc) if exc is not None else {}),
                "error": slug,
                "reason": reason,
                "dead_letters": self._store.dead_letter_key,
            },
        )
        return Outcome.DEAD_LETTERED


def _status(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, NotifyDeliveryError):
        return {"status_code": exc.extensions.get("status_code")}
    return {}


@asynccontextmanager
async def running(
    worker: NotificationWorker | None, *, grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
) -> AsyncIterator[None]:
    """Run ``worker`` in a background task for the length of the block (nothing for
    ``None``); at the end, stop it and wait up to ``grace_seconds`` for the deliveries in
    hand (longer than GOV.UK Notify's request timeout), then cancel it. A cancelled delivery
    stays pending and is delivered by another worker."""
    if worker is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name=f"notification-worker:{worker.consumer}")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, grace_seconds)
        except TimeoutError:
            log.warning(
                "notification worker did not stop in time; cancelled",
                extra={"consumer": worker.consumer, "grace_seconds": grace_seconds},
            )
        except Exception as exc:
            log.error(
                "notification worker ended with an error",
                extra={"consumer": worker.consumer, "error": type(exc).__name__},
            )
