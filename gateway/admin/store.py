"""Redis keys and operations of admin tokens (slot ``gc:admin``)."""

from __future__ import annotations

import json

from gateway.admin.models import AdminToken
from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient

TOKENS = tagged("admin", "tokens")  # hash: token id -> record JSON
BY_DIGEST = tagged("admin", "by-digest")  # hash: SHA-256 of the secret -> token id


class AdminStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def add(self, token: AdminToken, digest: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(TOKENS, token.id, json.dumps(token.to_json()))
            pipe.hset(BY_DIGEST, digest, token.id)
            await pipe.execute()

    async def by_digest(self, digest: str) -> AdminToken | None:
        token_id = await self._redis.hget(BY_DIGEST, digest)
        return await self.get(str(token_id)) if token_id else None

    async def get(self, token_id: str) -> AdminToken | None:
        raw = await self._redis.hget(TOKENS, token_id)
        return AdminToken(**json.loads(raw)) if raw else None

    async def all(self) -> list[AdminToken]:
        rows = await self._redis.hvals(TOKENS)
        return sorted((AdminToken(**json.loads(r)) for r in rows), key=lambda t: t.created_at)

    async def save(self, token: AdminToken) -> None:
        await self._redis.hset(TOKENS, token.id, json.dumps(token.to_json()))
