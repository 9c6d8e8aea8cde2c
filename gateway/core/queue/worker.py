"""The delivery loop of a durable queue (:class:`~gateway.core.queue.store.StreamQueue`).

How it uses the consumer group (Redis Streams, "Consumer groups"; all in Redis 6.2):

- the group is created at ``0`` with ``XGROUP CREATE … MKSTREAM``, once and idempotently
  (``BUSYGROUP`` means it exists), so entries queued before any worker ran are delivered;
- new entries arrive with ``XREADGROUP … BLOCK``; each is then pending for this consumer
  until it is acknowledged, and Redis counts its deliveries;
- a settled entry is acknowledged and deleted in one script (``XACK`` + ``XDEL``);
- an entry whose delivery failed with a retryable :class:`Failed` stays pending. Once it has
  been idle for the back-off of its delivery count (doubling from ``retry_base_seconds`` up
  to ``retry_max_seconds``) the worker takes it again with ``XCLAIM`` (found with
  ``XPENDING … IDLE``), which counts the new delivery;
- entries of a consumer that stopped without acknowledging (a killed process) are taken by
  any worker with ``XAUTOCLAIM`` (Redis 6.2) once idle for ``claim_idle_seconds``;
- an entry that cannot be decoded, fails permanently, or is still failing at
  ``max_attempts`` is moved to the dead-letter stream with the reason, in one script
  (``XACK`` + ``XDEL`` + ``XADD``);
- a consumer left holding nothing is removed from the group (``XGROUP DELCONSUMER``, only
  while it has no pending entry): this worker's own at a stop, others (where
  ``stale_consumer_seconds`` is set) once idle that long.

Back-off and idle times are the Redis server's, so workers in many processes agree on them.
A package subclasses :class:`StreamWorker` with its job's decoding (:meth:`~StreamWorker.decode`),
its log facts (:meth:`~StreamWorker.facts`) and :meth:`~StreamWorker.deliver`, which makes the
package's retryable/permanent distinction by returning :class:`Delivered` or :class:`Failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypedDict, TypeVar, Unpack

from gateway.core.queue.store import QueueEntry, StreamQueue

J = TypeVar("J")

DEFAULT_BATCH = 16
DEFAULT_BLOCK_SECONDS = 1.0
_SWEEP_EVERY_SECONDS = 300.0
_PAUSE_MAX_SECONDS = 30.0


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD_LETTERED = "dead-lettered"
    SKIPPED = "skipped"  # another worker settled it first


@dataclass(frozen=True, slots=True)
class Drained:
    """What one pass over the queue did. ``skipped`` (entries another worker settled first)
    is left out of comparisons: it depends on the race, not on the queue."""

    delivered: int = 0
    retrying: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0
    skipped: int = field(default=0, compare=False, repr=False)

    @property
    def handled(self) -> int:
        """Entries this pass settled, put back for a retry, or found settled already."""
        return self.delivered + self.retrying + self.dead_lettered + self.skipped

    def __add__(self, other: Drained) -> Drained:
        return Drained(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.dead_lettered + other.dead_lettered,
            self.reclaimed + other.reclaimed,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivery that happened (or had nothing left to do); ``message`` is logged."""

    message: str


@dataclass(frozen=True, slots=True)
class Failed:
    """A delivery that did not happen. ``retryable`` keeps the entry pending for a retry
    (until ``max_attempts``); otherwise it goes to the dead letters at once. ``reason``
    must hold nothing personal: it is logged and written to the dead letters."""

    slug: str
    reason: str
    retryable: bool
    final_reason: str | None = None  # the reason once the attempts ran out; else ``reason``
    message: str | None = None  # the retry's log line; else the worker's ``retry_message``
    log: Mapping[str, Any] = field(default_factory=dict)  # further log fields


class Tuning(TypedDict, total=False):
    """A worker's tuning, each given to the constructor by keyword; what is not given comes
    from the worker class's ``defaults`` (which must hold the attempts, back-off and claim
    times), or :data:`DEFAULT_BATCH` and :data:`DEFAULT_BLOCK_SECONDS`."""

    batch: int  # entries taken at a time
    max_attempts: int  # deliveries of an entry before it goes to the dead letters
    retry_base_seconds: float  # the first back-off, doubling after each failure
    retry_max_seconds: float  # the longest back-off
    claim_idle_seconds: float  # how long a stopped consumer's entry waits for XAUTOCLAIM
    block_seconds: float  # XREADGROUP's BLOCK; shorter than the socket timeout
    stale_consumer_seconds: float  # idle consumers holding nothing are removed; unset: kept


class StreamWorker(ABC, Generic[J]):
    """Delivers a :class:`StreamQueue`'s jobs; see the module docstring."""

    noun: ClassVar[str]  # names the job in log lines ("notification")
    task_name: ClassVar[str]  # the background task's name, before ":<consumer>"
    malformed_reason: ClassVar[str]  # the dead letter's reason for an undecodable entry
    retry_message: ClassVar[str]  # the log line of a retry unless the Failed names one
    stop_grace_seconds: ClassVar[float]  # how long :func:`running` waits for a stop
    # Dead-letter an entry delivered more than max_attempts times without an acknowledgement
    # (workers kept stopping mid-delivery) instead of trying it again.
    limit_unacknowledged: ClassVar[bool] = True
    maintenance_every_pass: ClassVar[bool] = False  # else once per ``block_seconds``
    defaults: ClassVar[Tuning]

    def __init__(
        self,
        store: StreamQueue,
        *,
        consumer: str,
        log: logging.Logger,
        now: Callable[[], datetime],
        **tuning: Unpack[Tuning],
    ) -> None:
        given: Tuning = {
            "batch": DEFAULT_BATCH,
            "block_seconds": DEFAULT_BLOCK_SECONDS,
            **self.defaults,
            **tuning,
        }
        batch, max_attempts = given["batch"], given["max_attempts"]
        retry_base_seconds = given["retry_base_seconds"]
        retry_max_seconds = given["retry_max_seconds"]
        claim_idle_seconds = given["claim_idle_seconds"]
        block_seconds = given["block_seconds"]
        stale_consumer_seconds = given.get("stale_consumer_seconds")
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
        if block_seconds <= 0 or (stale_consumer_seconds or 0) < 0:
            raise ValueError("block_seconds must be positive, stale_consumer_seconds not negative")
        self._store = store
        self.log = log
        self._now = now
        self.consumer = consumer
        self._batch = batch
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._claim_idle_ms = _ms(claim_idle_seconds)
        self._block_ms = max(1, _ms(block_seconds))
        # Look for retries and reclaims once per poll, or on every pass.
        self._maintenance_every = 0.0 if self.maintenance_every_pass else block_seconds
        self._stale_ms = None if stale_consumer_seconds is None else _ms(stale_consumer_seconds)
        self._group_ready = False
        self._cursor = "0-0"
        self._next_maintenance = 0.0
        self._next_sweep = 0.0

    # --- what a package supplies ----------------------------------------------------------

    @abstractmethod
    def decode(self, entry: QueueEntry, attempt: int) -> J:
        """The job an entry holds; raises ``ValueError``, ``KeyError``, ``TypeError`` or
        ``AttributeError`` for one that holds none (it goes to the dead letters)."""

    @abstractmethod
    def facts(self, job: J, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        """The log fields naming ``job``: nothing personal."""

    @abstractmethod
    async def deliver(self, job: J, attempt: int) -> Delivered | Failed:
        """Deliver ``job`` (its ``attempt``-th delivery). Errors of the store may propagate
        (the pass fails and the entry stays pending); the package's own are a :class:`Failed`."""

    def scope(self, job: J) -> AbstractContextManager[object]:
        """A context around ``job``'s delivery and settling (a package restores the request
        id the job was queued under, for the log lines)."""
        return contextlib.nullcontext()

    def redact(self, reason: str, job: J | None) -> str:
        """``reason`` as logged and dead-lettered; a package removes personal values here."""
        return reason

    async def close(self) -> None:
        """Release what the worker holds, once :meth:`run` has ended."""

    # --- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then leave the group if holding nothing.

        A store outage or any other failure of a pass is logged and waited out (doubling up
        to 30 seconds); it never ends the loop."""
        self.log.info(
            f"{self.noun} worker started",
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
                self.log.warning(
                    f"{self.noun} worker pass failed; pausing",
                    extra={
                        "consumer": self.consumer,
                        "error": type(exc).__name__,
                        "pause_seconds": pause,
                    },
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        await self.leave()
        self.log.info(f"{self.noun} worker stopped", extra={"consumer": self.consumer})

    async def drain(self) -> Drained:
        """One pass without waiting: due retries, entries of stopped consumers (idle for
        ``claim_idle_seconds``), then new entries; stale consumers are swept."""
        return await self._pass(block_ms=None, maintenance=True, sweep=True)

    async def leave(self) -> bool:
        """Remove this worker's consumer from the group if it holds no pending entry."""
        try:
            return await self._store.forget_consumer(self.consumer)
        except Exception as exc:
            self.log.warning(
                f"{self.noun} worker could not leave its consumer group",
                extra={"consumer": self.consumer, "error": type(exc).__name__},
            )
            return False

    def _maintenance_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_maintenance:
            return False
        self._next_maintenance = now + self._maintenance_every
        return True

    async def _pass(
        self, *, block_ms: int | None, maintenance: bool, sweep: bool = False
    ) -> Drained:
        if not self._group_ready:
            await self._store.ensure_group()
            self._group_ready = True
        done = Drained()
        if maintenance:
            done += await self._settle(await self._due_retries())
            reclaimed = await self._reclaim()
            done += await self._settle(reclaimed) + Drained(reclaimed=len(reclaimed))
            now = time.monotonic()
            if self._stale_ms is not None and (sweep or now >= self._next_sweep):
                self._next_sweep = now + _SWEEP_EVERY_SECONDS
                await self._sweep_consumers(self._stale_ms)
        # NOTE: wait for new entries only when this pass had nothing else in hand, so retries
        # and reclaims just settled are not held back by a BLOCK of up to block_seconds.
        fresh = await self._store.read_new(
            self.consumer, self._batch, None if done.handled else block_ms
        )
        return done + await self._settle([(entry, 1) for entry in fresh])

    # --- finding work ---------------------------------------------------------------------

    def backoff_seconds(self, deliveries: int) -> float:
        """The wait after the ``deliveries``-th failed delivery: doubling, capped."""
        return _ms(min(self._retry_max, self._retry_base * 2 ** max(0, deliveries - 1))) / 1000

    async def _due_retries(self) -> list[tuple[QueueEntry, int]]:
        """This consumer's pending entries whose back-off has run out, taken again with
        ``XCLAIM`` (which counts the delivery and restarts the idle time)."""
        pending = await self._store.pending(self.consumer, _ms(self._retry_base), self._batch)
        due: list[tuple[QueueEntry, int]] = []
        for line in pending:
            wait_ms = _ms(self.backoff_seconds(line.deliveries))
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
                self.log.info(
                    f"{self.noun} reclaimed from an idle consumer",
                    extra={
                        "consumer": self.consumer,
                        "queue_entry": entry.id,
                        "attempt": deliveries,
                    },
                )
        return claimed

    async def _sweep_consumers(self, stale_ms: int) -> None:
        for consumer in await self._store.consumers():
            if (
                consumer.name != self.consumer
                and consumer.pending == 0
                and consumer.idle_ms >= stale_ms
                and await self._store.forget_consumer(consumer.name)
            ):
                self.log.info(
                    f"idle {self.noun} consumer removed",
                    extra={"consumer": self.consumer, "removed": consumer.name},
                )

    # --- delivering -----------------------------------------------------------------------

    async def _settle(self, work: list[tuple[QueueEntry, int]]) -> Drained:
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
            counts[Outcome.DELIVERED],
            counts[Outcome.RETRYING],
            counts[Outcome.DEAD_LETTERED],
            skipped=counts[Outcome.SKIPPED],
        )

    async def _handle(self, entry: QueueEntry, attempt: int) -> Outcome:
        try:
            job = self.decode(entry, attempt)
        except (ValueError, KeyError, TypeError, AttributeError):
            facts: dict[str, Any] = {"queue_entry": entry.id, "attempt": attempt}
            return await self._give_up(
                entry, None, facts, attempt, "malformed-entry", self.malformed_reason
            )
        facts = self.facts(job, entry, attempt)
        if self.limit_unacknowledged and attempt > self._max_attempts:
            return await self._give_up(
                entry,
                job,
                facts,
                attempt,
                "too-many-attempts",
                f"delivered {attempt - 1} times without an acknowledgement (a worker stopped "
                "during each)",
            )
        with self.scope(job):
            return await self._attempt(entry, job, facts, attempt)

    async def _attempt(
        self, entry: QueueEntry, job: J, facts: dict[str, Any], attempt: int
    ) -> Outcome:
        result = await self.deliver(job, attempt)
        if isinstance(result, Failed):
            return await self._failed(entry, job, facts, attempt, result)
        # NOTE: at least once, not exactly once: if this process dies between the delivery
        # and the acknowledgement, another worker delivers the job again, which beats losing
        # it; each package says why a duplicate is harmless (or merely unwelcome) for it.
        if not await self._store.ack(entry.id):
            self.log.warning(
                f"{self.noun} delivered again: another worker had delivered it already",
                extra=facts,
            )
        self.log.info(result.message, extra=facts)
        return Outcome.DELIVERED

    async def _failed(
        self, entry: QueueEntry, job: J, facts: dict[str, Any], attempt: int, failed: Failed
    ) -> Outcome:
        if not failed.retryable:
            return await self._give_up(
                entry, job, facts, attempt, failed.slug, failed.reason, failed.log
            )
        if attempt >= self._max_attempts:
            reason = failed.final_reason if failed.final_reason is not None else failed.reason
            return await self._give_up(entry, job, facts, attempt, failed.slug, reason, failed.log)
        self.log.warning(
            failed.message or self.retry_message,
            extra={
                **facts,
                **failed.log,
                "error": failed.slug,
                "reason": self.redact(failed.reason, job),
                "retry_in_seconds": self.backoff_seconds(attempt),
            },
        )
        return Outcome.RETRYING

    async def _give_up(
        self,
        entry: QueueEntry,
        job: J | None,
        facts: Mapping[str, Any],
        attempt: int,
        slug: str,
        reason: str,
        log: Mapping[str, Any] | None = None,
    ) -> Outcome:
        reason = self.redact(reason, job)
        moved = await self._store.dead_letter(
            entry.id,
            entry.data,
            {
                "error": slug,
                "reason": reason,
                "attempts": str(attempt),
                "consumer": self.consumer,
                "failed_at": self._now().isoformat(),
            },
        )
        if not moved:
            return Outcome.SKIPPED
        # NOTE: the dead letter keeps the job as queued (it may hold personal data) so that
        # an operator can send it again; the log line names it by its facts only.
        self.log.error(
            f"{self.noun} moved to the dead letters",
            extra={
                **facts,
                **(log or {}),
                "error": slug,
                "reason": reason,
                "dead_letters": self._store.dead_letter_key,
            },
        )
        return Outcome.DEAD_LETTERED


@asynccontextmanager
async def running(
    worker: StreamWorker[Any] | None, *, grace_seconds: float | None = None
) -> AsyncIterator[None]:
    """Run ``worker`` in a background task for the length of the block (nothing for
    ``None``); at the end, stop it, wait up to ``grace_seconds`` (the worker's
    ``stop_grace_seconds`` unless given) for the deliveries in hand, cancel it if they take
    longer, and close it. A cancelled delivery stays pending and is delivered by another
    worker."""
    if worker is None:
        yield
        return
    grace = worker.stop_grace_seconds if grace_seconds is None else grace_seconds
    log = worker.log
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name=f"{worker.task_name}:{worker.consumer}")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, grace)
        except TimeoutError:
            log.warning(
                f"{worker.noun} worker did not stop in time; cancelled",
                extra={"consumer": worker.consumer, "grace_seconds": grace},
            )
        except Exception as exc:
            log.error(
                f"{worker.noun} worker ended with an error",
                extra={"consumer": worker.consumer, "error": type(exc).__name__},
            )
        finally:
            await worker.close()
