"""The store client holds as many connections as GOVCONNECT_REDIS_MAX_CONNECTIONS says:
redis-py's default of 100 made the 101st concurrent request fail with "Too many
connections" (a 503 the caller did nothing to deserve)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from gateway.core.redis import open_client, resolve_target
from gateway.core.settings import Settings


async def _concurrent_blpops(settings: Settings, count: int) -> list[object]:
    client = await open_client(resolve_target(settings), settings)
    try:
        empty = f"test:pool:{uuid.uuid4().hex}"
        # Each BLPOP holds its connection for 0.3 s, so all of them are open at once.
        return list(await asyncio.gather(*(client.blpop([empty], 0.3) for _ in range(count))))
    finally:
        await client.aclose()


async def test_the_default_pool_serves_more_than_redis_pys_hundred_at_once(
    settings: Settings,
) -> None:
    assert settings.redis_max_connections > 150
    assert await _concurrent_blpops(settings, 150) == [None] * 150


async def test_past_the_configured_pool_the_store_refuses_rather_than_queueing(
    settings: Settings,
) -> None:
    small = settings.model_copy(update={"redis_max_connections": 8})
    with pytest.raises(redis.ConnectionError):
        await _concurrent_blpops(small, 9)
