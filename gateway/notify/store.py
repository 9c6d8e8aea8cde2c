"""Redis keys and operations of notifications: the local outbox and the delivery queue.

The outbox (slot ``gc:outbox``; development only) is one capped stream: each delivered
message is one entry holding its JSON, and ``XADD … MAXLEN ~ 1000`` keeps roughly the newest
thousand (trimmed in whole stream nodes, so the length may run a little over). Reads go
newest first with ``XREVRANGE``.

The delivery queue (slot ``gc:notify``) is a Redis stream read through a consumer group
(Redis Streams, "Consumer groups": ``XGROUP CREATE … MKSTREAM``, ``XREADGROUP``, ``XACK``,
``XPENDING``, ``XCLAIM``, ``XAUTOCLAIM``; all in Redis 6.2) beside its dead-letter stream;
the mechanism is :class:`gateway.core.queue.StreamQueue`, its keys are spelled here.
Both streams of a queue share one hash tag, so the scripts that acknowledge an entry and move
it to the dead letters touch one slot (Redis Cluster specification, "Hash tags"). A delivered
entry is acknowledged and deleted in one script, so the stream holds only what is still to
deliver and is never trimmed by length: trimming could drop a message nobody delivered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.queue import PendingEntry as PendingEntry
from gateway.core.queue import QueueConsumer as QueueConsumer
from gateway.core.queue import QueueEntry as QueueEntry
from gateway.core.queue import StreamQueue
from gateway.core.redis import RedisClient
from gateway.notify.models import OutboxMessage

OUTBOX_STREAM = "messages"
OUTBOX_MAXLEN = 1000
_PAGE = 200


def outbox_key(stream: str = OUTBOX_STREAM) -> str:
    return tagged("outbox", stream)  # stream: one entry per message, field "m" = its JSON


def _load(fields: Mapping[Any, Any]) -> OutboxMessage:
    # The connection decodes responses (gateway.core.redis.connect): every value is str.
    return OutboxMessage.from_json(json.loads(str(fields["m"])))


class OutboxStore:
    def __init__(
        self, redis: RedisClient, *, stream: str = OUTBOX_STREAM, maxlen: int = OUTBOX_MAXLEN
    ) -> None:
        self._redis = redis
        self._key = outbox_key(stream)
        self.maxlen = maxlen

    async def append(self, message: OutboxMessage) -> None:
        await self._redis.xadd(
            self._key,
            {"m": json.dumps(message.to_json(), separators=(",", ":"))},
            maxlen=self.maxlen,
            approximate=True,
        )

    async def latest(self, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages, newest first."""
        rows = await self._redis.xrevrange(self._key, count=max(1, limit))
        return [_load(fields) for _, fields in rows or () if fields]

    async def for_recipient(self, to: str, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages sent to ``to`` (compared without regard to case), newest
        first. The stream is capped, so reading it page by page stays cheap."""
        wanted = to.strip().casefold()
        found: list[OutboxMessage] = []
        upper = "+"
        while len(found) < limit:
            rows = await self._redis.xrevrange(self._key, max=upper, count=_PAGE)
            for _, fields in rows or ():
                if not fields:
                    continue
                message = _load(fields)
                if message.to.strip().casefold() == wanted:
                    found.append(message)
                    if len(found) == limit:
                        break
            if not rows or len(rows) < _PAGE:
                break
            upper = f"({rows[-1][0]!s}"
        return found


# --- the delivery queue ------------------------------------------------------------------

QUEUE_STREAM = "queue"
QUEUE_GROUP = "delivery"
DEAD_LETTER_MAXLEN = 10_000
_FIELD = "n"


def queue_key(name: str = QUEUE_STREAM) -> str:
    return tagged("notify", name)  # stream: one entry per notification, field "n" = its JSON


def dead_letter_key(name: str = QUEUE_STREAM) -> str:
    # stream: the entries given up on, their JSON and why; capped at about DEAD_LETTER_MAXLEN
    return tagged("notify", name, "dead")


class NotificationQueueStore(StreamQueue):
    """The delivery queue of one name: its stream, its consumer group and its dead letters
    (:class:`~gateway.core.queue.StreamQueue` on this package's keys)."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        name: str = QUEUE_STREAM,
        dead_letter_maxlen: int = DEAD_LETTER_MAXLEN,
    ) -> None:
        super().__init__(
            redis,
            key=queue_key(name),
            dead_letter_key=dead_letter_key(name),
            group=QUEUE_GROUP,
            field=_FIELD,
            dead_letter_maxlen=dead_letter_maxlen,
        )

    async def enqueue(self, data: Mapping[str, Any]) -> str:
        """Append one notification; its entry id. No ``MAXLEN``: nothing undelivered is
        trimmed. With ``appendfsync always`` (the embedded store) the entry is on disk
        before Redis answers."""
        return await self.add(data)
