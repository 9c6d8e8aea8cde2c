"""Redis keys and operations of the local outbox (slot ``gc:outbox``; development only).

The outbox is one capped stream: each delivered message is one entry holding its JSON, and
``XADD … MAXLEN ~ 1000`` keeps roughly the newest thousand (trimmed in whole stream nodes,
so the length may run a little over). Reads go newest first with ``XREVRANGE``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.core.keyspace import tagged
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
