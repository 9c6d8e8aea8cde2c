"""The push delivery worker: reads the delivery queue through a Redis Streams consumer group
and posts each submission to its recipient's endpoint, signed per Standard Webhooks.

The queue mechanism is :mod:`gateway.core.queue`'s, as the notification and back-channel
logout workers' are: new jobs with ``XREADGROUP … BLOCK``; a failed push stays pending and is
taken again with ``XCLAIM`` after a back-off doubling from ``retry_base_seconds`` up to
``retry_max_seconds``; jobs of a worker that stopped mid-delivery are taken by any worker
with ``XAUTOCLAIM`` once idle for ``claim_idle_seconds``; a push still refused at
``max_attempts`` (about three days with the defaults) moves to the dead letters and the
submission to ``failed``, which both sides see on its timeline (the recipient may still pull
it).

Only a submission to a recipient set up for push is queued at all (a pulling recipient's
would only be taken off the queue again). What is pushed is decided at each attempt from the
store: a submission already delivered, acknowledged or gone is not pushed again, and a
recipient that switched to pull gets nothing. A delivered push's attempt and the move to
delivered are one script.
Delivery is at least once (a worker killed after the POST and before the acknowledgement
posts again); the ``webhook-id`` is the submission id on every attempt, so the recipient
drops a duplicate.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from gateway.core.queue import Delivered, Failed, QueueEntry, StreamWorker, Tuning, consumer_name
from gateway.core.queue.worker import DEFAULT_BLOCK_SECONDS
from gateway.core.requestctx import reset_request_id, set_request_id
from gateway.delivery.envelope import payload_bytes
from gateway.delivery.errors import WebhookDeliveryError
from gateway.delivery.models import STATE_ORDER, State
from gateway.delivery.services import DeliveryRegistry, Job, Submissions
from gateway.delivery.store import DeliveryQueue
from gateway.delivery.webhooks import WebhookSender

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

# About three days: doubling from 2 s to the 10-minute cap takes ten attempts (~17 minutes),
# then 420 attempts ten minutes apart.
DEFAULT_MAX_ATTEMPTS = 430
DEFAULT_RETRY_BASE_SECONDS = 2.0
DEFAULT_RETRY_MAX_SECONDS = 600.0
DEFAULT_CLAIM_IDLE_SECONDS = 600.0
STOP_GRACE_SECONDS = 10.0
EVENT_TYPE = "submission.received"


class DeliveryWorker(StreamWorker[Job]):
    """Pushes queued submissions; see the module docstring."""

    # A push whose workers kept stopping mid-delivery is tried again however often: the
    # recipient drops a duplicate by its webhook-id.
    limit_unacknowledged = False
    maintenance_every_pass = True
    stop_grace_seconds = STOP_GRACE_SECONDS
    noun = "submission push"
    task_name = "submission-delivery"
    malformed_reason = "not a submission delivery job"
    retry_message = "submission not delivered; will retry"
    defaults = Tuning(
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        retry_base_seconds=DEFAULT_RETRY_BASE_SECONDS,
        retry_max_seconds=DEFAULT_RETRY_MAX_SECONDS,
        claim_idle_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
    )

    def __init__(
        self,
        queue: DeliveryQueue,
        submissions: Submissions,
        registry: DeliveryRegistry,
        sender: WebhookSender,
        *,
        consumer: str,
        **tuning: Unpack[Tuning],
    ) -> None:
        super().__init__(queue, consumer=consumer, log=log, now=_now, **tuning)
        self._submissions = submissions
        self._registry = registry
        self._sender = sender
        self._max_attempts = tuning.get("max_attempts", DEFAULT_MAX_ATTEMPTS)

    async def close(self) -> None:
        await self._sender.aclose()

    def decode(self, entry: QueueEntry, attempt: int) -> Job:
        return Job.from_json(json.loads(entry.data or "null"))

    def facts(self, job: Job, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        return {"submission": job.submission, "queue_entry": entry.id, "attempt": attempt}

    @contextlib.contextmanager
    def scope(self, job: Job) -> Iterator[object]:
        token = set_request_id(job.request_id)
        try:
            yield job
        finally:
            reset_request_id(token)

    async def deliver(self, job: Job, attempt: int) -> Delivered | Failed:
        stored = await self._submissions.stored(job.submission)
        if stored is None:
            return Delivered("submission gone (retention ended); nothing to push")
        submission = stored.submission
        if STATE_ORDER[submission.state] >= STATE_ORDER[State.DELIVERED]:
            return Delivered("submission delivered already; not pushed again")
        settings = await self._registry.recipient(submission.recipient_org)
        if settings is None or not settings.pushes or not settings.endpoint:
            return Delivered("recipient pulls; nothing to push")
        now = _now()
        body = payload_bytes(
            {
                "type": EVENT_TYPE,
                "timestamp": now.isoformat(),
                "data": stored.envelope,
                "attachments": self._submissions.attachment_links(stored),
            }
        )
        try:
            status = await self._sender.post(
                settings.endpoint,
                self._registry.signing_secrets(settings),
                submission.id,
                int(now.timestamp()),
                body,
            )
        except WebhookDeliveryError as exc:
            if attempt >= self._max_attempts:
                await self._submissions.mark_failed(submission, attempt, exc.detail)
            else:
                await self._submissions.record_attempt(submission, attempt, "failed", exc.detail)
            return Failed(
                exc.slug, exc.detail, retryable=True, final_reason=f"still failing: {exc.detail}"
            )
        await self._submissions.mark_delivered(submission, attempt, status)
        return Delivered("submission pushed")


def _now() -> datetime:
    return datetime.now(UTC)


def delivery_worker(
    runtime: Runtime,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    queue: DeliveryQueue | None = None,
    **tuning: Unpack[Tuning],
) -> DeliveryWorker:
    """The worker a gateway process (or ``govconnect worker``) runs, on the
    runtime's queue unless given another (tests run their own beside a live gateway's)."""
    delivery = runtime.delivery
    settings = runtime.settings
    # XREADGROUP's BLOCK must end before the connection's socket timeout.
    tuning.setdefault(
        "block_seconds", min(DEFAULT_BLOCK_SECONDS, settings.redis_timeout_seconds / 2)
    )
    tuning.setdefault("claim_idle_seconds", settings.delivery_claim_idle_seconds)
    # A waiting retry must not look abandoned to other workers: back-off <= claim idle time.
    tuning.setdefault(
        "retry_max_seconds", min(settings.delivery_retry_max_seconds, tuning["claim_idle_seconds"])
    )
    tuning.setdefault(
        "retry_base_seconds", min(DEFAULT_RETRY_BASE_SECONDS, tuning["retry_max_seconds"])
    )
    return DeliveryWorker(
        queue or delivery.queue,
        delivery.submissions,
        delivery.registry,
        WebhookSender(transport),
        consumer=consumer_name(),
        **tuning,
    )
