"""Sending notifications: the :class:`Notifier` port and the choice of adapter.

Callers depend on :class:`Notifier` only (DESIGN.md §6: adapters to the outside world sit
behind a ``Protocol``). :func:`build_notifier` picks the adapter that delivers: GOV.UK Notify
when an API key is set, the local development outbox otherwise. :func:`build_notifications`
puts the delivery queue in front of GOV.UK Notify, so callers only ever write to Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.core.clock import Clock
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.notify.catalogue import TemplateCatalogue
from gateway.notify.errors import NotifyConfigurationError
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Notification
from gateway.notify.outbox import LocalOutbox
from gateway.notify.queue import QueuedNotifier
from gateway.notify.store import NotificationQueueStore, OutboxStore


class Notifier(Protocol):
    async def send(self, notification: Notification) -> None:
        """Deliver one email or text message.

        Raises :class:`~gateway.notify.errors.UnknownTemplateError`,
        :class:`~gateway.notify.errors.UnsupportedChannelError` or
        :class:`~gateway.notify.errors.MissingPersonalisationError` for a notification the
        catalogue cannot render, and :class:`~gateway.notify.errors.NotifyDeliveryError` when
        the provider refuses it or cannot be reached.
        """
        ...


def build_notifier(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    catalogue: TemplateCatalogue | None = None,
) -> Notifier:
    """GOV.UK Notify when ``GOVCONNECT_NOTIFY_API_KEY`` is set; otherwise the local outbox,
    which a production gateway refuses."""
    if settings.notify_api_key is not None:
        return GovUkNotify.from_settings(settings, catalogue)
    if settings.is_production:
        # Settings.check_production refuses this first; this guard keeps the outbox out of
        # production even where a caller skipped that check.
        raise NotifyConfigurationError(
            "refusing the local outbox in production: set GOVCONNECT_NOTIFY_API_KEY"
        )
    return LocalOutbox(OutboxStore(redis), clock, catalogue)


@dataclass(frozen=True, slots=True)
class Notifications:
    """How a process's notifications leave it.

    ``notifier`` is what callers send through. With GOV.UK Notify it is a
    :class:`~gateway.notify.queue.QueuedNotifier`, and ``queue`` and ``delivery`` are what a
    :class:`~gateway.notify.worker.NotificationWorker` needs to deliver through Notify; with
    the local outbox, callers write to the ``outbox`` directly and both are ``None``.
    """

    notifier: Notifier
    outbox: LocalOutbox | None = None
    queue: NotificationQueueStore | None = None
    delivery: Notifier | None = None


def build_notifications(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    catalogue: TemplateCatalogue | None = None,
) -> Notifications:
    """The queue in front of GOV.UK Notify; the local outbox directly in development."""
    delivery = build_notifier(settings, redis, clock, catalogue)
    if isinstance(delivery, LocalOutbox):
        # NOTE: development writes straight to the outbox, no queue: that is one Redis write
        # already (the same cost whatever the recipient), and /dev/outbox shows each code the
        # moment the request that sent it has answered.
        return Notifications(notifier=delivery, outbox=delivery)
    queue = NotificationQueueStore(redis)
    return Notifications(
        notifier=QueuedNotifier(queue, clock, catalogue), queue=queue, delivery=delivery
    )
