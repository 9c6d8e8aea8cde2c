"""Redis keys and operations of back-channel logout: its delivery queue (slot ``gc:logout``).

The queue is :class:`gateway.core.queue.StreamQueue`, as the notification queue is: a Redis
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
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.queue import PendingEntry as PendingEntry
from gateway.core.queue import QueueEntry as QueueEntry
from gateway.core.queue import StreamQueue
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


class LogoutQueueStore(StreamQueue):
    """The back-channel logout queue of an issuer: stream, consumer group, dead letters
    (:class:`~gateway.core.queue.StreamQueue` on this package's keys).

    ``name`` exists so tests can run a queue of their own beside a live gateway's."""

    def __init__(self, redis: RedisClient, *, issuer: str, name: str = QUEUE_NAME) -> None:
        super().__init__(
            redis,
            key=queue_key(issuer, name),
            dead_letter_key=dead_letter_key(issuer, name),
            group=GROUP,
            field=_FIELD,
            dead_letter_maxlen=DEAD_LETTER_MAXLEN,
        )

    async def enqueue(self, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Append jobs (no ``MAXLEN``: nothing undelivered is ever trimmed)."""
        await self.add_many(jobs)
