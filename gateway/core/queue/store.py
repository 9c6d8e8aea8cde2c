"""The Redis side of a durable queue: a stream read through a consumer group beside a capped
dead-letter stream.

Redis Streams, "Consumer groups" (``XGROUP CREATE … MKSTREAM``, ``XREADGROUP``, ``XACK``,
``XPENDING … IDLE``, ``XCLAIM``, ``XAUTOCLAIM``; all in Redis 6.2). The caller passes both
keys; they must share one hash tag (build them with :func:`gateway.core.keyspace.tagged`),
so the scripts that acknowledge an entry and move it to the dead letters touch one slot
(Redis Cluster specification, "Hash tags"). A delivered entry is acknowledged and deleted in
one script, so the stream holds only what is still to deliver and is never trimmed by
length: trimming could drop an entry nobody delivered.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from gateway.core.redis import RedisClient

# KEYS[1] queue; ARGV[1] group, ARGV[2] entry id. Acknowledge, then delete the delivered
# entry: the stream keeps only what is still to deliver.
_ACK = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
"""

# KEYS[1] queue, KEYS[2] dead letters; ARGV[1] group, ARGV[2] entry id, ARGV[3] cap of the
# dead letters, ARGV[4..] field/value pairs. Only the acknowledgement that removes the entry
# from the pending list writes the dead letter, so two workers never both write it.
_DEAD_LETTER = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
local args = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
return 1
"""

# KEYS[1] queue; ARGV[1] group, ARGV[2] consumer. Delete the consumer only while it holds no
# pending entry (XGROUP DELCONSUMER would drop them from the pending list, unacknowledged).
_FORGET_CONSUMER = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def consumer_name() -> str:
    """A consumer name of this process's own: host, process id and a random part, so
    workers in many processes (and a restarted process with a reused pid) never share one
    (Redis Streams: each consumer of a group must have a unique name)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A stream entry as read: ``data`` is the job's JSON, ``None`` where the entry holds
    none (deleted, or not written by :meth:`StreamQueue.add`)."""

    id: str
    data: str | None


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One line of the consumer group's pending entries list (``XPENDING``)."""

    id: str
    consumer: str
    idle_ms: int
    deliveries: int


@dataclass(frozen=True, slots=True)
class QueueConsumer:
    """One consumer of the group (``XINFO CONSUMERS``)."""

    name: str
    pending: int
    idle_ms: int


class StreamQueue:
    """One queue: its stream ``key``, its consumer ``group`` and its ``dead_letter_key``
    stream (capped at about ``dead_letter_maxlen``); each entry holds its job's JSON in
    ``field``."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        key: str,
        dead_letter_key: str,
        group: str,
        field: str,
        dead_letter_maxlen: int,
    ) -> None:
        self._redis = redis
        self.key = key
        self.dead_letter_key = dead_letter_key
        self.group = group
        self._field = field
        self._dead_letter_maxlen = dead_letter_maxlen
        self._ack = redis.register_script(_ACK)
        self._dead_letter = redis.register_script(_DEAD_LETTER)
        self._forget_consumer = redis.register_script(_FORGET_CONSUMER)

    def _encode(self, data: Mapping[str, Any]) -> dict[Any, Any]:
        return {self._field: json.dumps(data, separators=(",", ":"))}

    def _entries(self, rows: Sequence[Any] | None) -> list[QueueEntry]:
        found: list[QueueEntry] = []
        for row in rows or ():
            entry_id, fields = row[0], row[1]
            if entry_id is None:  # an id XCLAIM found deleted (Redis 6.2 answers nil)
                continue
            data = fields.get(self._field) if isinstance(fields, Mapping) else None
            found.append(QueueEntry(str(entry_id), None if data is None else str(data)))
        return found

    async def add(self, data: Mapping[str, Any]) -> str:
        """Append one job; its entry id. No ``MAXLEN``: nothing undelivered is trimmed.
        With ``appendfsync always`` (the embedded store) the entry is on disk before Redis
        answers."""
        return str(await self._redis.xadd(self.key, self._encode(data)))

    async def add_many(self, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Append jobs in one round trip (a pipeline, not a transaction)."""
        if not jobs:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.xadd(self.key, self._encode(job))
            await pipe.execute()

    async def ensure_group(self) -> bool:
        """Create the consumer group (and the stream) unless it exists (``BUSYGROUP``);
        True if created.

        The group starts at ``0``, not ``$``: entries queued before any worker ever ran are
        delivered too."""
        try:
            await self._redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if str(exc).startswith("BUSYGROUP"):
                return False
            raise
        return True

    async def read_new(self, consumer: str, count: int, block_ms: int | None) -> list[QueueEntry]:
        """Entries never delivered to the group (``XREADGROUP … >``), waiting up to
        ``block_ms`` for one (not at all for ``None``); each joins ``consumer``'s pending
        list with a delivery count of 1."""
        answer: Any = await self._redis.xreadgroup(
            self.group, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        # RESP2, as gateway.core.redis.connect speaks it: [[stream, [(id, fields), ...]]].
        return [entry for _, rows in answer or () for entry in self._entries(rows)]

    async def pending(
        self, consumer: str | None = None, min_idle_ms: int = 0, count: int = 100
    ) -> list[PendingEntry]:
        """Pending entries (delivered, not acknowledged), oldest first: of one consumer or
        of all, idle for at least ``min_idle_ms`` (``XPENDING … IDLE``, Redis 6.2)."""
        rows = await self._redis.xpending_range(
            self.key,
            self.group,
            min="-",
            max="+",
            count=count,
            consumername=consumer,
            idle=min_idle_ms or None,
        )
        return [
            PendingEntry(
                str(row["message_id"]),
                str(row["consumer"]),
                int(row["time_since_delivered"]),
                int(row["times_delivered"]),
            )
            for row in rows
        ]

    async def deliveries(self, entry_id: str) -> int:
        """How many times the group has delivered the entry; 0 if it is not pending."""
        rows = await self._redis.xpending_range(
            self.key, self.group, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 0

    async def claim(
        self, consumer: str, min_idle_ms: int, entry_ids: Sequence[str]
    ) -> list[QueueEntry]:
        """Take pending entries that are still idle for ``min_idle_ms`` (``XCLAIM``); each
        taken entry's delivery count goes up by one and its idle time starts again, so of
        two workers claiming at once only one gets it."""
        if not entry_ids:
            return []
        rows = await self._redis.xclaim(
            self.key, self.group, consumer, min_idle_ms, list(entry_ids)
        )
        return self._entries(rows)

    async def autoclaim(
        self, consumer: str, min_idle_ms: int, start: str, count: int
    ) -> tuple[str, list[QueueEntry]]:
        """Take up to ``count`` entries pending for at least ``min_idle_ms`` with any
        consumer, scanning the pending list from ``start`` (``XAUTOCLAIM``, Redis 6.2);
        the cursor to continue from (``0-0`` once the scan went round)."""
        answer = await self._redis.xautoclaim(
            self.key, self.group, consumer, min_idle_ms, start_id=start, count=count
        )
        return str(answer[0]), self._entries(answer[1])

    async def ack(self, entry_id: str) -> bool:
        """Acknowledge a settled entry and delete it; False if it was acknowledged already
        (by a worker that claimed it after this one)."""
        return bool(await self._ack(keys=[self.key], args=[self.group, entry_id]))

    async def dead_letter(self, entry_id: str, data: str | None, facts: Mapping[str, str]) -> bool:
        """Move a pending entry to the dead letters with ``facts`` (why, after how many
        attempts); False if another worker acknowledged it first."""
        fields = {self._field: data or "", "source_id": entry_id, **facts}
        moved = await self._dead_letter(
            keys=[self.key, self.dead_letter_key],
            args=[
                self.group,
                entry_id,
                self._dead_letter_maxlen,
                *(item for pair in fields.items() for item in pair),
            ],
        )
        return bool(moved)

    async def consumers(self) -> list[QueueConsumer]:
        """The group's consumers (``XINFO CONSUMERS``)."""
        rows = await self._redis.xinfo_consumers(self.key, self.group)
        return [QueueConsumer(str(r["name"]), int(r["pending"]), int(r["idle"])) for r in rows]

    async def forget_consumer(self, consumer: str) -> bool:
        """Remove ``consumer`` from the group if it holds no pending entry."""
        return bool(await self._forget_consumer(keys=[self.key], args=[self.group, consumer]))

    async def length(self) -> int:
        """Entries still to deliver (pending or never read)."""
        return int(await self._redis.xlen(self.key))

    async def dead_letters(self, limit: int = 100) -> list[dict[str, str]]:
        """The newest dead letters first, each its fields (``field`` the job's JSON)."""
        rows = await self._redis.xrevrange(self.dead_letter_key, count=max(1, limit))
        return [{str(k): str(v) for k, v in fields.items()} for _, fields in rows or () if fields]
