"""Redis keys of installation metadata (slot ``gc:system``)."""

from __future__ import annotations

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient

META = tagged("system", "meta")  # hash: demo -> ISO time it was seeded


class SystemStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def get(self, field: str) -> str | None:
        value = await self._redis.hget(META, field)
        return str(value) if value is not None else None

    async def set(self, field: str, value: str) -> None:
        await self._redis.hset(META, field, value)
