"""Redis keys and operations of the evidence log.

A chain is one stream plus a head record and its signed checkpoints, all in the chain's own
slot (``{gc:evidence:<chain>}``). An append is a compare-and-set in a Lua script: it succeeds only
if the head is still the one the writer chained from, so concurrent writers can never fork
the chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient

MAIN_CHAIN = "main"

# KEYS[1] head hash, KEYS[2] stream; ARGV: expected prev hash, then (seq, hash, entry JSON)
# for each entry, chained in order. Returns 1 when appended (a number reads the same over
# RESP2 and RESP3), else the head another writer left ({seq, hash}), so that the retry
# needs no separate read of it.
_APPEND = """
local head = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local hash = head[2] or '0000000000000000000000000000000000000000000000000000000000000000'
if hash ~= ARGV[1] then return {head[1] or '0', hash} end
for i = 2, #ARGV, 3 do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-1', 'e', ARGV[i + 2])
end
redis.call('HSET', KEYS[1], 'hash', ARGV[#ARGV - 1], 'seq', ARGV[#ARGV - 2])
return 1
"""


class EvidenceStore:
    def __init__(self, redis: RedisClient, chain: str = MAIN_CHAIN) -> None:
        self._redis = redis
        self._append = redis.register_script(_APPEND)
        self.chain = chain
        self._stream = tagged(f"evidence:{chain}", "log")
        self._head = tagged(f"evidence:{chain}", "head")
        self._checkpoints = tagged(f"evidence:{chain}", "checkpoints")  # hash: seq -> JWS

    async def head(self) -> tuple[int, str | None]:
        """(last sequence number, its hash); (0, None) for an empty log."""
        values = await self._redis.hmget(self._head, ["seq", "hash"])
        seq, digest = values
        return (int(seq), str(digest)) if seq else (0, None)

    async def append(
        self, prev: str, entries: Sequence[tuple[int, str, dict[str, Any]]]
    ) -> tuple[int, str] | None:
        """Append ``entries`` (seq, hash, entry), chained in order, if the head is still
        ``prev``: None. When another writer got there first nothing is written, and the
        head it left is returned (seq, hash) to chain from instead."""
        args: list[Any] = [prev]
        for seq, digest, entry in entries:
            args += [seq, digest, json.dumps(entry)]
        moved = await self._append(keys=[self._head, self._stream], args=args)
        if not isinstance(moved, list):
            return None
        seq, digest = moved
        return int(seq), str(digest)

    async def read(self, after_seq: int = 0, count: int = 1000) -> list[dict[str, Any]]:
        """Entries with ``seq > after_seq`` in order (stream ids are ``<seq>-1``)."""
        rows = await self._redis.xrange(self._stream, min=f"({after_seq}-1", count=count)
        return [json.loads(fields["e"]) for _, fields in rows or () if fields]

    async def add_checkpoint(self, seq: int, jws: str) -> None:
        """Keep the signed checkpoint of entry ``seq`` (the first one signed stands)."""
        await self._redis.hsetnx(self._checkpoints, str(seq), jws)

    async def checkpoints(self) -> dict[int, str]:
        """Every checkpoint, by the sequence number it signs (one per thousand entries or
        so: small enough to read at once)."""
        rows = await self._redis.hgetall(self._checkpoints)
        return {int(seq): str(jws) for seq, jws in rows.items()}
