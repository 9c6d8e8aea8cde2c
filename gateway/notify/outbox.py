"""The local outbox: a :class:`~gateway.notify.services.Notifier` for development and tests.

Nothing leaves the machine: each notification is rendered from the catalogue, exactly as it
would read, and appended to a capped Redis stream that the development-only ``/dev/outbox``
page and the tests read back. ``Settings.check_production`` refuses to start a production
gateway without a GOV.UK Notify key, so the outbox never serves real people.
"""

from __future__ import annotations

import logging

from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.notify.catalogue import TemplateCatalogue, default_catalogue
from gateway.notify.models import Notification, OutboxMessage
from gateway.notify.store import OutboxStore

log = logging.getLogger(__name__)

ID_PREFIX = "ntf"


class LocalOutbox:
    def __init__(
        self, store: OutboxStore, clock: Clock, catalogue: TemplateCatalogue | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._catalogue = catalogue or default_catalogue()

    async def send(self, notification: Notification) -> None:
        """Render and keep the message; refuses an unknown template or a missing value."""
        rendered = self._catalogue.render(notification)
        message = OutboxMessage(
            id=new_id(ID_PREFIX),
            time=self._clock.now(),
            channel=notification.channel,
            to=notification.to,
            template=notification.template,
            subject=rendered.subject,
            body=rendered.body,
        )
        await self._store.append(message)
        # NOTE: neither the recipient nor the text is logged: the text holds one-time codes.
        # A developer reads them on /dev/outbox.
        log.info(
            "notification written to the local outbox",
            extra={
                "notification_id": message.id,
                "template": message.template,
                "channel": message.channel.value,
            },
        )

    async def latest(self, limit: int = 50) -> list[OutboxMessage]:
        """The newest messages first."""
        return await self._store.latest(limit)

    async def for_recipient(self, to: str, limit: int = 20) -> list[OutboxMessage]:
        """The newest messages sent to ``to`` first (email addresses match without case)."""
        return await self._store.for_recipient(to, limit)
