"""The delivery worker: reads the notification queue through a Redis Streams consumer group
and delivers each notification through the real notifier (GOV.UK Notify, or the local
outbox).

The queue mechanism (consumer group, ``XREADGROUP … BLOCK``, retries taken again with
``XCLAIM`` after a doubling back-off, ``XAUTOCLAIM`` of stopped consumers' entries, the
dead-letter stream, sweeping idle consumers) is :mod:`gateway.core.queue`'s; this module
says what a notification is and which failures are worth retrying:

- a retryable error leaves the entry pending for a retry (GOV.UK Notify's API
  documentation, "Error codes": retry a ``429`` ``RateLimitError``/``TooManyRequestsError``
  and a ``500``; Notify out of reach is retried too: a
  :class:`~gateway.notify.errors.NotifyDeliveryError` with ``retryable``), and so does an
  unexpected error, named by its type only;
- an error that retrying cannot fix (Notify's ``400`` ``BadRequestError``/``ValidationError``
  or ``403`` ``AuthError``, a template the catalogue does not know) or one still failing at
  ``max_attempts`` moves the entry to the dead letters, as does an entry delivered more than
  ``max_attempts`` times without an acknowledgement (workers kept stopping mid-delivery);
- no log line or dead-letter reason holds the recipient or a personalisation value.

Delivery is at least once: a worker that stops after Notify accepted a message but before
the acknowledgement leaves it pending, and another worker delivers it again. Several
processes may run workers on one queue; each needs its own consumer name
(:func:`~gateway.notify.queue.consumer_name`). Back-off and idle times are the Redis
server's, so workers on machines with different clocks agree on them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Unpack

from gateway.core.clock import Clock
from gateway.core.queue import Delivered, Failed, QueueEntry, StreamWorker, Tuning
from gateway.core.queue import Drained as Drained
from gateway.core.queue import Outcome as Outcome
from gateway.core.queue.worker import DEFAULT_BATCH as DEFAULT_BATCH
from gateway.core.queue.worker import DEFAULT_BLOCK_SECONDS as DEFAULT_BLOCK_SECONDS
from gateway.core.requestctx import reset_request_id, set_request_id
from gateway.notify.errors import NotifyDeliveryError, NotifyError
from gateway.notify.models import Notification, QueuedNotification
from gateway.notify.store import NotificationQueueStore

if TYPE_CHECKING:
    from gateway.notify.services import Notifier

log = logging.getLogger(__name__)

_REDACTED = "[redacted]"
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_RETRY_BASE_SECONDS = 1.0
DEFAULT_RETRY_MAX_SECONDS = 30.0
DEFAULT_CLAIM_IDLE_SECONDS = 60.0
DEFAULT_STALE_CONSUMER_SECONDS = 3600.0
DEFAULT_STOP_GRACE_SECONDS = 15.0


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


def _status(exc: NotifyError) -> dict[str, Any]:
    if isinstance(exc, NotifyDeliveryError):
        return {"status_code": exc.extensions.get("status_code")}
    return {}


class NotificationWorker(StreamWorker[QueuedNotification]):
    """Delivers queued notifications through ``delivery``; see the module docstring."""

    noun = "notification"
    task_name = "notification-worker"
    malformed_reason = "the entry is not a queued notification of this version"
    retry_message = "notification not delivered; it stays queued and will be retried"
    stop_grace_seconds = DEFAULT_STOP_GRACE_SECONDS

    defaults = Tuning(
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        retry_base_seconds=DEFAULT_RETRY_BASE_SECONDS,
        retry_max_seconds=DEFAULT_RETRY_MAX_SECONDS,
        claim_idle_seconds=DEFAULT_CLAIM_IDLE_SECONDS,
        stale_consumer_seconds=DEFAULT_STALE_CONSUMER_SECONDS,
    )

    def __init__(
        self,
        store: NotificationQueueStore,
        delivery: Notifier,
        clock: Clock,
        *,
        consumer: str,
        **tuning: Unpack[Tuning],
    ) -> None:
        super().__init__(store, consumer=consumer, log=log, now=clock.now, **tuning)
        self._delivery = delivery

    async def drain_once(self) -> Drained:
        """One pass without waiting: due retries, entries of stopped consumers (idle for
        ``claim_idle_seconds``), then new entries; stale consumers are swept."""
        return await self.drain()

    def decode(self, entry: QueueEntry, attempt: int) -> QueuedNotification:
        return QueuedNotification.from_json(
            json.loads(entry.data or "null"), entry_id=entry.id, attempt=attempt
        )

    def facts(self, job: QueuedNotification, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "reference": job.reference,
            "queue_entry": entry.id,
            "template": job.notification.template,
            "channel": job.notification.channel.value,
            "attempt": attempt,
        }

    @contextmanager
    def scope(self, job: QueuedNotification) -> Iterator[object]:
        token = set_request_id(job.request_id)
        try:
            yield token
        finally:
            reset_request_id(token)

    def redact(self, reason: str, job: QueuedNotification | None) -> str:
        return _redact(reason, job.notification if job is not None else None)

    async def deliver(self, job: QueuedNotification, attempt: int) -> Delivered | Failed:
        try:
            await self._delivery.send(job.notification)
        except NotifyDeliveryError as exc:
            return self._failed_with(exc, job, retryable=exc.extensions.get("retryable") is True)
        except NotifyError as exc:
            # An unknown template or a missing value: retrying cannot fix it.
            return self._failed_with(exc, job, retryable=False)
        except Exception as exc:
            # NOTE: an unexpected error is retried like an outage, naming only its type (its
            # message might quote the notification); max_attempts bounds a persistent one.
            reason = type(exc).__name__
            return Failed(
                "unexpected-error",
                reason,
                retryable=True,
                final_reason=f"still failing after {job.attempt} attempts: {reason}",
            )
        # NOTE: at least once, not exactly once (see gateway.core.queue.worker): a second
        # copy of a code beats losing it. Notify's API takes no idempotency key (its
        # ``reference`` only labels a message), so a duplicate cannot be refused there.
        return Delivered("notification delivered from the queue")

    def _failed_with(self, exc: NotifyError, job: QueuedNotification, *, retryable: bool) -> Failed:
        reason = _redact(exc.detail, job.notification)
        return Failed(
            exc.slug,
            reason,
            retryable=retryable,
            final_reason=f"still failing after {job.attempt} attempts: {reason}",
            log=_status(exc),
        )
