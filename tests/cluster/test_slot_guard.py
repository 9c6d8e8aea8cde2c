"""The "no cross-slot command" guard (tests/support/slots.py) catches every way a command can
touch two hash slots on a real cluster, even when the code that sent it swallows the error,
and lets ordinary errors and single-slot multi-key commands through."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio.cluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, ResponseError

from gateway.core.keyspace import tagged
from gateway.core.redis import StoreKind, StoreTarget, open_client, queue_script
from gateway.core.settings import Settings
from tests.support import slots
from tests.support.cluster import LocalCluster

# Two keys in different slots, and two in one slot by their hash tag.
APART = (tagged("guard-a", "x"), tagged("guard-b", "y"))
TOGETHER = (tagged("guard-a", "x"), tagged("guard-a", "z"))


@pytest.fixture
async def cluster_client(
    private_cluster: LocalCluster, settings: Settings
) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    target = StoreTarget(StoreKind.CLUSTER, private_cluster.url)
    client = await open_client(
        target, settings.model_copy(update={"redis_url": target.url, "redis_cluster": True})
    )
    assert isinstance(client, redis.asyncio.cluster.RedisCluster)
    yield client
    await client.aclose()


def test_the_test_keys_really_are_in_two_slots_and_in_one() -> None:
    assert key_slot(APART[0].encode()) != key_slot(APART[1].encode())
    assert key_slot(TOGETHER[0].encode()) == key_slot(TOGETHER[1].encode())


async def test_a_multi_key_command_across_slots_is_recorded_even_when_swallowed(
    cluster_client: redis.asyncio.cluster.RedisCluster,
) -> None:
    # What careless code might do; the guard must still see it.
    with contextlib.suppress(RedisClusterException):
        await cluster_client.mget(list(APART))
    seen = slots.take()
    assert len(seen) == 1 and "MGET" in seen[0]


async def test_a_transaction_across_slots_is_recorded(
    cluster_client: redis.asyncio.cluster.RedisCluster,
) -> None:
    with pytest.raises(RedisClusterException):
        async with cluster_client.pipeline(transaction=True) as pipe:
            pipe.set(APART[0], "1")
            pipe.set(APART[1], "2")
            await pipe.execute()
    assert slots.take()


async def test_a_script_whose_keys_are_in_two_slots_is_recorded(
    cluster_client: redis.asyncio.cluster.RedisCluster,
) -> None:
    script = cluster_client.register_script("return redis.call('GET', KEYS[2])")
    with pytest.raises(RedisClusterException):
        await script(keys=list(APART))
    assert slots.take()


async def test_a_script_reaching_a_key_it_did_not_declare_is_recorded(
    cluster_client: redis.asyncio.cluster.RedisCluster,
) -> None:
    """The server refuses a script that names an undeclared key in another slot."""
    script = cluster_client.register_script("return redis.call('GET', ARGV[1])")
    with pytest.raises(ResponseError):
        await script(keys=[APART[0]], args=[APART[1]])
    assert slots.take()


async def test_one_slot_commands_a_queued_script_and_ordinary_errors_pass(
    cluster_client: redis.asyncio.cluster.RedisCluster,
) -> None:
    await cluster_client.mset({TOGETHER[0]: "1", TOGETHER[1]: "2"})
    assert await cluster_client.mget(list(TOGETHER)) == ["1", "2"]
    script = cluster_client.register_script("return redis.call('GET', KEYS[2])")
    async with cluster_client.pipeline(transaction=False) as pipe:
        queue_script(pipe, script, list(TOGETHER), [])
        pipe.get(APART[1])  # a pipeline (not a transaction) may span slots
        assert await pipe.execute() == ["2", None]
    with pytest.raises(ResponseError):
        await cluster_client.incr(TOGETHER[0], "not a number")  # type: ignore[arg-type]
    await cluster_client.delete(*TOGETHER)
    assert slots.take() == []
