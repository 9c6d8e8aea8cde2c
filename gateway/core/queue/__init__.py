"""A durable work queue on a Redis Streams consumer group, shared by the notification queue
(:mod:`gateway.notify`) and the back-channel logout queue (:mod:`gateway.logout`).

:mod:`.store` holds the Redis side (the stream, its consumer group, its capped dead-letter
stream and the Lua scripts that settle an entry atomically); :mod:`.worker` the delivery
loop (read new entries, retry with back-off, take over dead consumers' entries with
``XAUTOCLAIM``, dead-letter what cannot be delivered) and :func:`running`, which runs a
worker in the background. A package supplies its own stream keys (spelled only in its
``store.py``), the job's decoding and a ``deliver(job)`` returning :class:`Delivered` or
:class:`Failed`.
"""

from gateway.core.queue.store import (
    PendingEntry,
    QueueConsumer,
    QueueEntry,
    StreamQueue,
    consumer_name,
)
from gateway.core.queue.worker import (
    Delivered,
    Drained,
    Failed,
    Outcome,
    StreamWorker,
    Tuning,
    running,
)

__all__ = [
    "Delivered",
    "Drained",
    "Failed",
    "Outcome",
    "PendingEntry",
    "QueueConsumer",
    "QueueEntry",
    "StreamQueue",
    "StreamWorker",
    "Tuning",
    "consumer_name",
    "running",
]
