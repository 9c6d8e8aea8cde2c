"""Redis keys and operations of back-channel logout: its delivery queue (slot ``gc:logout``).

The queue follows the notification queue's design (:mod:`gateway.notify.store`): a Redis
stream read through a consumer group (``XGROUP CREATE … MKSTREAM``, ``XREADGROUP``,
``XPENDING … IDLE``, ``XCLAIM``, ``XAUTOCLAIM``, ``XACK``; all in Redis 6.2) beside a capped
dead-letter stream. Both share one hash tag, so the scripts that acknowledge an entry and
move it to the dead letters touch one slot (Redis Cluster specification, "Hash tags"). A
delivered entry is acknowledged and deleted in one script, so the stream holds only what is
still to deliver and is never trimmed by length.

Each issuer has its own queue (its key carries a digest of the issuer): a worker signs logout
tokens as its own issuer, so gateways of different issuers on one store (as the test suite
runs them) must never take each other's jobs. Jobs queued under an issuer a deployment no
longer uses stay where they are, undelivered: their tokens could only be signed wrongly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient

QUEUE_NAME = "backchannel"
GROUP = "senders"
DEAD_LETTER_MAXLEN = 10_000
_FIELD = "j"


def _issuer_tag(issuer: str) -> str:
    return hashlib.sha256(issuer.encode()).hexdigest()[:16]


def queue_key(issuer: str, name: str = QUEUE_NAME) -> str:
    # stream: one entry per logout token to deliver, field "j" = the job's JSON
    return tagged("logout", name, _issuer_tag(issuer))


def dead_letter_key(issuer: str, name: str = QUEUE_NAME) -> str:
    # stream: jobs given up on and why; capped at about DEAD_LETTER_MAXLEN
    return tagged("logout", name, _issuer_tag(issuer), "dead")


# KEYS[1] queue; ARGV[1] group, ARGV[2] entry id.
_ACK = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
"""

# KEYS[1] queue, KEYS[2] dead letters; ARGV[1] group, ARGV[2] entry id, ARGV[3] cap,
# ARGV[4..] field/value pairs. Only the acknowledgement that takes the entry off the pending
# list writes the dead letter, so two workers never both write it.
_DEAD_LETTER = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
local args = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
return 1
"""

# KEYS[1] queue; ARGV[1] group, ARGV[2] consumer. Only while it holds no pending entry:
# XGROUP DELCONSUMER would drop those from the pending list unacknowledged.
_FORGET_CONSUMER = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A stream entry as read; ``data`` is ``None`` where the entry holds no job."""

    id: str
    data: str | None


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One line of the group's pending entries list (``XPENDING``)."""

    id: str
    idle_ms: int
    deliveries: int


def _entries(rows: Sequence[Any] | None) -> list[QueueEntry]:
    found: list[QueueEntry] = []
    for row in rows or ():
        entry_id, fields = row[0], row[1]
        if entry_id is None:  # an id XCLAIM found deleted (Redis 6.2 answers nil)
            continue
        data = fields.get(_FIELD) if isinstance(fields, Mapping) else None
        found.append(QueueEntry(str(entry_id), None if data is None else str(data)))
    return found


class LogoutQueueStore:
    """The back-channel logout queue of an issuer: stream, consumer group, dead letters.

    ``name`` exists so tests can run a queue of their own beside a live gateway's."""

    def __init__(self, redis: RedisClient, *, issuer: str, name: str = QUEUE_NAME) -> None:
        self._redis = redis
        self.key = queue_key(issuer, name)
        self.dead_letter_key = dead_letter_key(issuer, name)
        self.group = GROUP
        self._ack = redis.register_script(_ACK)
        self._dead_letter = redis.register_script(_DEAD_LETTER)
        self._forget_consumer = redis.register_script(_FORGET_CONSUMER)

    async def enqueue(self, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Append jobs (no ``MAXLEN``: nothing undelivered is ever trimmed)."""
        if not jobs:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.xadd(self.key, {_FIELD: json.dumps(job, separators=(",", ":"))})
            await pipe.execute()

    async def ensure_group(self) -> None:
        """Create the group at ``0`` (jobs queued before any worker ran are delivered too)
        unless it exists (``BUSYGROUP``)."""
        try:
            await self._redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def read_new(self, consumer: str, count: int, block_ms: int | None) -> list[QueueEntry]:
        """Entries never delivered to the group (``XREADGROUP … >``), waiting up to
        ``block_ms`` for one; each joins ``consumer``'s pending list, delivery count 1."""
        # RESP2, as gateway.core.redis.connect speaks it: [[stream, [(id, fields), ...]]].
        answer: Any = await self._redis.xreadgroup(
            self.group, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        return [entry for _, rows in answer or () for entry in _entries(rows)]

    async def pending(self, consumer: str, min_idle_ms: int, count: int) -> list[PendingEntry]:
        """``consumer``'s pending entries idle for at least ``min_idle_ms``, oldest first."""
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

    async def claim(self, consumer: str, min_idle_ms: int, entry_id: str) -> list[QueueEntry]:
        """Take a pending entry still idle for ``min_idle_ms`` (``XCLAIM``: counts a delivery
        and restarts the idle time, so of two workers claiming at once one gets it)."""
        rows = await self._redis.xclaim(self.key, self.group, consumer, min_idle_ms, [entry_id])
        return _entries(rows)

    async def autoclaim(
        self, consumer: str, min_idle_ms: int, start: str, count: int
    ) -> tuple[str, list[QueueEntry]]:
        """Take entries idle for ``min_idle_ms`` with any consumer (``XAUTOCLAIM``); the
        cursor to go on from."""
        answer = await self._redis.xautoclaim(
            self.key, self.group, consumer, min_idle_ms, start_id=start, count=count
        )
        return str(answer[0]), _entries(answer[1])

    async def ack(self, entry_id: str) -> bool:
        """Acknowledge and delete a settled entry; False if another worker had already."""
        return bool(await self._ack(keys=[self.key], args=[self.group, entry_id]))

    async def dead_letter(self, entry_id: str, data: str | None, facts: Mapping[str, str]) -> bool:
        """Move a pending entry to the dead letters with ``facts`` (why, after how many
        attempts); False if another worker acknowledged it first."""
        fields = {_FIELD: data or "", "source_id": entry_id, **facts}
        moved = await self._dead_letter(
            keys=[self.key, self.dead_letter_key],
            args=[
                self.group,
                entry_id,
                DEAD_LETTER_MAXLEN,
                *(item for pair in fields.items() for item in pair),
            ],
        )
        return bool(moved)

    async def forget_consumer(self, consumer: str) -> bool:
        """Remove ``consumer`` from the group if it holds no pending entry."""
        return bool(await self._forget_consumer(keys=[self.key], args=[self.group, consumer]))

    async def length(self) -> int:
        """Jobs still to deliver (pending or never read)."""
        return int(await self._redis.xlen(self.key))

    async def dead_letters(self, limit: int = 100) -> list[dict[str, str]]:
        """The newest dead letters first, each its fields (``j`` the job's JSON)."""
        rows = await self._redis.xrevrange(self.dead_letter_key, count=max(1, limit))
        return [{str(k): str(v) for k, v in fields.items()} for _, fields in rows or () if fields]
