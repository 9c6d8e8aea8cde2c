"""The back-channel logout worker: reads the logout queue through a Redis Streams consumer
group and delivers each logout token, retrying with back-off (Back-Channel Logout 1.0 §2.5).

The queue mechanism is :mod:`gateway.core.queue`'s, as the notification worker's is
(:mod:`gateway.notify.worker`):

- new jobs arrive with ``XREADGROUP … BLOCK`` and stay pending until settled;
- a delivered job (or one with nothing left to deliver) is acknowledged and deleted;
- a failed delivery stays pending; once idle for the back-off of its delivery count
  (doubling from ``retry_base_seconds`` up to ``retry_max_seconds``) this worker takes it
  again with ``XCLAIM``, which counts the delivery;
- jobs of a worker that stopped mid-delivery are taken by any worker with ``XAUTOCLAIM``
  (Redis 6.2) once idle for ``claim_idle_seconds``;
- a job the relying party refused (400, §2.8) or still failing at ``max_attempts`` moves to
  the dead-letter stream with the reason.

Delivery is at least once: a relying party may get a second logout token for a sign-in it
already ended, which §2.7 makes harmless. Back-off and idle times are the Redis server's, so
workers in many processes agree on them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from gateway.core.queue import Delivered, Failed, QueueEntry, StreamWorker, Tuning
from gateway.core.queue import consumer_name as consumer_name
from gateway.core.queue.worker import DEFAULT_BATCH as DEFAULT_BATCH
from gateway.core.queue.worker import DEFAULT_BLOCK_SECONDS as DEFAULT_BLOCK_SECONDS
from gateway.logout.delivery import BackchannelSender
from gateway.logout.errors import BackchannelDeliveryError
from gateway.logout.models import BackchannelJob
from gateway.logout.store import LogoutQueueStore

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_RETRY_BASE_SECONDS = 2.0
DEFAULT_RETRY_MAX_SECONDS = 300.0
DEFAULT_CLAIM_IDLE_SECONDS = 600.0
STOP_GRACE_SECONDS = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


class BackchannelWorker(StreamWorker[BackchannelJob]):
    """Delivers queued logout tokens through ``sender``; see the module docstring."""

    # A job whose workers kept stopping mid-delivery is tried again however often: §2.7
    # makes a repeated logout token harmless.
    limit_unacknowledged = False
    # Retries and reclaims are looked for on every pass; idle consumers are not swept (no
    # stale_consumer_seconds).
    maintenance_every_pass = True
    stop_grace_seconds = STOP_GRACE_SECONDS
    noun = "back-channel logout"
    task_name = "backchannel-logout"
    malformed_reason = "not a back-channel job"
    retry_message = "back-channel logout not delivered; will retry"
    defaults = Tuning(
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        retry_base_seconds=DEFAULT_RETRY_BASE_SECONDS,
        retry_max_seconds=DEFAULT_RETRY_MAX_SECONDS,
        claim_idle_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
    )

    def __init__(
        self,
        store: LogoutQueueStore,
        sender: BackchannelSender,
        *,
        consumer: str,
        **tuning: Unpack[Tuning],
    ) -> None:
        super().__init__(store, consumer=consumer, log=log, now=_now, **tuning)
        self._sender = sender

    async def drain_once(self) -> int:
        """One pass without waiting; how many jobs it settled or put back for a retry."""
        return (await self.drain()).handled

    async def close(self) -> None:
        """Close the sender's HTTP client (after :meth:`run` ended)."""
        await self._sender.aclose()

    def decode(self, entry: QueueEntry, attempt: int) -> BackchannelJob:
        return BackchannelJob.from_json(json.loads(entry.data or "null"))

    def facts(self, job: BackchannelJob, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        return {"client_id": job.client_id, "queue_entry": entry.id, "attempt": attempt}

    async def deliver(self, job: BackchannelJob, attempt: int) -> Delivered | Failed:
        try:
            delivered = await self._sender.deliver(job)
        except BackchannelDeliveryError as exc:
            return Failed(
                exc.slug,
                exc.detail,
                retryable=exc.retryable,
                final_reason=f"still failing: {exc.detail}",
            )
        except Exception as exc:
            # NOTE: an unexpected error (the registry unreachable, a key file unreadable) is
            # retried like an outage; max_attempts bounds a persistent one.
            return Failed(
                "unexpected-error",
                type(exc).__name__,
                retryable=True,
                message="back-channel logout failed unexpectedly; will retry",
            )
        return Delivered(
            "back-channel logout delivered" if delivered else "back-channel logout not needed"
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
