"""Sending notifications: the :class:`Notifier` port and the choice of adapter.

Callers depend on :class:`Notifier` only (DESIGN.md §6: adapters to the outside world sit
behind a ``Protocol``). :func:`build_notifier` picks GOV.UK Notify when an API key is set and
the local development outbox otherwise.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.clock import Clock
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.notify.catalogue import TemplateCatalogue
from gateway.notify.errors import NotifyConfigurationError
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Notification
from gateway.notify.outbox import LocalOutbox
from gateway.notify.store import OutboxStore


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
