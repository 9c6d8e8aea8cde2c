"""More requests at once than the store client has connections wait for a free one instead
of failing with "Too many connections" (a 503 the caller did nothing to deserve)."""

from __future__ import annotations

import asyncio
import uuid

from gateway.core.redis import open_client, resolve_target
from gateway.core.settings import Settings

POOL = 8


async def test_a_burst_beyond_the_pool_waits_for_connections_and_every_command_succeeds(
    settings: Settings,
) -> None:
    small = settings.model_copy(update={"redis_max_connections": POOL})
    client = await open_client(resolve_target(small), small)
    try:
        empty = f"test:pool:{uuid.uuid4().hex}"
        # Each BLPOP holds its connection for 0.2 s; four times the pool must queue.
        answers = await asyncio.gather(*(client.blpop([empty], 0.2) for _ in range(POOL * 4)))
        assert answers == [None] * (POOL * 4)
    finally:
        await client.aclose()
