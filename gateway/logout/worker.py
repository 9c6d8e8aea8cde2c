"""The back-channel logout worker: reads the logout queue through a Redis Streams consumer
group and delivers each logout token, retrying with back-off (Back-Channel Logout 1.0 §2.5).

It follows the notification worker's design (:mod:`gateway.notify.worker`):

- new jobs arrive with ``XREADGROUP … BLOCK`` and stay pending until settled;
- a delivered job (or one with nothing left to deliver) is acknowledged and deleted;
- a failed delivery stays pending; once idle for the back-off of its delivery count
  (doubling from ``retry_base_seconds`` up to ``retry_max_seconds``) this worker takes it
  again with ``XCLAIM``, which counts the delivery;
- jobs of a worker that stopped mid-delivery are taken by any worker with ``XAUTOCLAIM``
  once idle for ``claim_idle_seconds``;
- a job the relying party refused (400, §2.8) or still failing at ``max_attempts`` moves to
  the dead-letter stream with the reason.

Delivery is at least once: a relying party may get a second logout token for a sign-in it
already ended, which §2.7 makes harmless. Back-off and idle times are the Redis server's, so
workers in many processes agree on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from gateway.logout.delivery import BackchannelSender
from gateway.logout.errors import BackchannelDeliveryError
from gateway.logout.models import BackchannelJob
from gateway.logout.store import LogoutQueueStore, QueueEntry

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_BATCH = 16
DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_RETRY_BASE_SECONDS = 2.0
DEFAULT_RETRY_MAX_SECONDS = 300.0
DEFAULT_CLAIM_IDLE_SECONDS = 600.0
DEFAULT_BLOCK_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0
_PAUSE_MAX_SECONDS = 30.0


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def consumer_name() -> str:
    """Unique per process (Redis Streams: each consumer of a group needs its own name)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class BackchannelWorker:
    """Delivers queued logout tokens through ``sender``; see the module docstring."""

    def __init__(
        self,
        store: LogoutQueueStore,
        sender: BackchannelSender,
        *,
        consumer: str,
        batch: int = DEFAULT_BATCH,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS,
        retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS,
        claim_idle_seconds: float = DEFAULT_CLAIM_IDLE_SECONDS,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
    ) -> None:
        if not 0 <= retry_base_seconds <= retry_max_seconds <= claim_idle_seconds:
            # A claim idle time shorter than the longest back-off would let other workers
            # take a waiting retry early.
            raise ValueError("need 0 <= retry_base_seconds <= retry_max_seconds <= claim_idle")
        self._store = store
        self._sender = sender
        self.consumer = consumer
        self._batch = batch
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._claim_idle_ms = _ms(claim_idle_seconds)
        self._block_ms = max(1, _ms(block_seconds))
        self._group_ready = False
        self._cursor = "0-0"

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a failing pass (the store down) is logged and
        waited out, doubling up to 30 seconds, and never ends the loop."""
        failures = 0
        while not stop.is_set():
            try:
                await self._pass(self._block_ms)
                failures = 0
            except Exception as exc:
                self._group_ready = False
                failures += 1
                pause = min(_PAUSE_MAX_SECONDS, 0.5 * 2 ** min(failures - 1, 10))
                log.warning(
                    "back-channel logout worker pass failed; pausing",
                    extra={"error": type(exc).__name__, "pause_seconds": pause},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        with contextlib.suppress(Exception):
            await self._store.forget_consumer(self.consumer)

    async def drain_once(self) -> int:
        """One pass without waiting; how many jobs it settled or put back for a retry."""
        return await self._pass(None)

    async def _pass(self, block_ms: int | None) -> int:
        if not self._group_ready:
            await self._store.ensure_group()
            self._group_ready = True
        work = await self._due_retries()
        self._cursor, reclaimed = await self._store.autoclaim(
            self.consumer, self._claim_idle_ms, self._cursor, self._batch
        )
        for entry in reclaimed:
            work.append((entry, await self._store.deliveries(entry.id)))
        # Wait for new jobs only when nothing else is in hand.
        fresh = await self._store.read_new(self.consumer, self._batch, None if work else block_ms)
        work += [(entry, 1) for entry in fresh]
        results = await asyncio.gather(
            *(self._handle(entry, attempt) for entry, attempt in work), return_exceptions=True
        )
        # A store failure is raised once every delivery in hand has settled; the jobs it
        # concerned stay pending and are retried.
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(work)

    async def close(self) -> None:
        """Close the sender's HTTP client (after :meth:`run` ended)."""
        await self._sender.aclose()

    def _backoff_ms(self, deliveries: int) -> int:
        return _ms(min(self._retry_max, self._retry_base * 2 ** max(0, deliveries - 1)))

    async def _due_retries(self) -> list[tuple[QueueEntry, int]]:
        """This consumer's failed jobs whose back-off has run out, taken again (``XCLAIM``)."""
        due: list[tuple[QueueEntry, int]] = []
        pending = await self._store.pending(self.consumer, _ms(self._retry_base), self._batch)
        for line in pending:
            wait_ms = self._backoff_ms(line.deliveries)
            if line.idle_ms >= wait_ms:
                for entry in await self._store.claim(self.consumer, wait_ms, line.id):
                    due.append((entry, line.deliveries + 1))
        return due

    async def _handle(self, entry: QueueEntry, attempt: int) -> None:
        try:
            job = BackchannelJob.from_json(json.loads(entry.data or "null"))
        except (ValueError, KeyError, TypeError, AttributeError):
            await self._give_up(entry, attempt, "malformed-entry", "not a back-channel job")
            return
        facts = {"client_id": job.client_id, "queue_entry": entry.id, "attempt": attempt}
        try:
            delivered = await self._sender.deliver(job)
        except BackchannelDeliveryError as exc:
            if not exc.retryable:
                await self._give_up(entry, attempt, exc.slug, exc.detail)
            elif attempt >= self._max_attempts:
                await self._give_up(entry, attempt, exc.slug, f"still failing: {exc.detail}")
            else:
                retry_in = self._backoff_ms(attempt) / 1000
                log.warning(
                    "back-channel logout not delivered; will retry",
                    extra={**facts, "reason": exc.detail, "retry_in_seconds": retry_in},
                )
            return
        except Exception as exc:
            # NOTE: an unexpected error (the registry unreachable, a key file unreadable) is
            # retried like an outage; max_attempts bounds a persistent one.
            if attempt >= self._max_attempts:
                await self._give_up(entry, attempt, "unexpected-error", type(exc).__name__)
            else:
                log.warning(
                    "back-channel logout failed unexpectedly; will retry",
                    extra={**facts, "error": type(exc).__name__},
                )
            return
        await self._store.ack(entry.id)
        log.info(
            "back-channel logout delivered" if delivered else "back-channel logout not needed",
            extra=facts,
        )

    async def _give_up(self, entry: QueueEntry, attempt: int, slug: str, reason: str) -> None:
        moved = await self._store.dead_letter(
            entry.id,
            entry.data,
            {
                "error": slug,
                "reason": reason,
                "attempts": str(attempt),
                "failed_at": datetime.now(UTC).isoformat(),
            },
        )
        if moved:
            log.error(
                "back-channel logout moved to the dead letters",
                extra={"queue_entry": entry.id, "error": slug, "reason": reason},
            )


def backchannel_worker(
    runtime: Runtime, transport: httpx.AsyncBaseTransport | None = None
) -> BackchannelWorker:
    """The worker a gateway process runs, on the runtime's queue and services."""
    sender = BackchannelSender(
        runtime.clients,
        runtime.keys,
        runtime.subjects,
        runtime.clock,
        issuer=runtime.settings.issuer,
        transport=transport,
    )
    return BackchannelWorker(
        LogoutQueueStore(runtime.redis, issuer=runtime.settings.issuer),
        sender,
        consumer=consumer_name(),
        # XREADGROUP's BLOCK must end before the connection's socket timeout.
        block_seconds=min(DEFAULT_BLOCK_SECONDS, runtime.settings.redis_timeout_seconds / 2),
    )


@asynccontextmanager
async def running(worker: BackchannelWorker) -> AsyncIterator[None]:
    """Run ``worker`` in a background task for the length of the block; then stop it, wait
    up to :data:`STOP_GRACE_SECONDS` for deliveries in hand, and close its HTTP client. A
    delivery cut short stays pending and is taken by another worker later."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name=f"backchannel-logout:{worker.consumer}")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("back-channel logout worker did not stop in time; cancelled")
        finally:
            await worker.close()
