"""The delivery queue's front door: a :class:`~gateway.notify.services.Notifier` that only
queues.

With GOV.UK Notify configured, callers send through :class:`QueuedNotifier`: it checks the
notification against the catalogue in process (an unknown template, a channel without text
or a missing placeholder still fails at once, in the caller) and appends it to a Redis
stream; a :class:`~gateway.notify.worker.NotificationWorker` delivers it through GOV.UK
Notify afterwards. ``send`` therefore costs one Redis write whatever Notify is doing: a slow
or failing Notify neither delays nor fails a person's request, and the account flows that
write to an address only when it has an account no longer take measurably longer for it
than for an address without one (the HTTP call to Notify was most of that difference).

The stream is durable as the store is: with ``appendfsync always`` (the embedded store's
setting, reported on ``/readyz``) Redis answers the ``XADD`` only once it is on disk.
"""

from __future__ import annotations

import logging

from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.core.queue import consumer_name as consumer_name
from gateway.core.requestctx import current_request_id
from gateway.notify.catalogue import TemplateCatalogue, default_catalogue
from gateway.notify.models import Notification, QueuedNotification
from gateway.notify.store import NotificationQueueStore

log = logging.getLogger(__name__)

ID_PREFIX = "ntf"


class QueuedNotifier:
    """Implements :class:`~gateway.notify.services.Notifier` by queueing for a worker."""

    def __init__(
        self,
        store: NotificationQueueStore,
        clock: Clock,
        catalogue: TemplateCatalogue | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._catalogue = catalogue or default_catalogue()

    async def send(self, notification: Notification) -> None:
        """Check the notification against the catalogue and queue it; contacts no provider.

        Raises what rendering raises (:class:`~gateway.notify.errors.UnknownTemplateError`,
        :class:`~gateway.notify.errors.UnsupportedChannelError`,
        :class:`~gateway.notify.errors.MissingPersonalisationError`) before anything is
        queued; a delivery failure happens later, in the worker, and never reaches the
        caller.
        """
        self._catalogue.render(notification)
        queued = QueuedNotification(
            reference=new_id(ID_PREFIX),
            notification=notification,
            queued_at=self._clock.now(),
            request_id=current_request_id(),
        )
        # NOTE: the queue keeps the personalisation (one-time codes) until the worker has
        # delivered it, as the local outbox keeps rendered codes; neither the recipient nor
        # the personalisation is logged.
        entry_id = await self._store.enqueue(queued.to_json())
        log.info(
            "notification queued",
            extra={
                "reference": queued.reference,
                "queue_entry": entry_id,
                "template": notification.template,
                "channel": notification.channel.value,
            },
        )
