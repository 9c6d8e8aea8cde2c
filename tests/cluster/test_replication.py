"""``execute_replicated``: writes that must not be lost are answered only once N replicas have
them (Redis ``WAIT`` on the connection that carried them, on every master involved), and a
shortfall is a 503-style error, never a silent acknowledgement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio.cluster

from gateway.core.errors import StoreUnavailableError
from gateway.core.keyspace import tagged
from gateway.core.redis import StoreKind, StoreTarget, execute_replicated, open_client
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.support.cluster import LocalCluster, Node

# Keys on (very likely) different masters: the wait must cover each.
KEYS = [tagged("wait-a", "k"), tagged("wait-b", "k"), tagged("wait-c", "k")]


@pytest.fixture
def on_cluster(private_cluster: LocalCluster, settings: Settings) -> Settings:
    return settings.model_copy(
        update={"redis_url": private_cluster.url, "redis_cluster": True, "redis_wait_replicas": 1}
    )


@pytest.fixture
async def cluster_client(
    on_cluster: Settings,
) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    client = await open_client(
        StoreTarget(StoreKind.CLUSTER, str(on_cluster.redis_url)), on_cluster
    )
    assert isinstance(client, redis.asyncio.cluster.RedisCluster)
    yield client
    await client.aclose()


async def test_writes_come_back_once_a_replica_of_each_master_has_them(
    cluster_client: redis.asyncio.cluster.RedisCluster,
    private_cluster: LocalCluster,
    on_cluster: Settings,
) -> None:
    async with cluster_client.pipeline(transaction=False) as pipe:
        for key in KEYS:
            pipe.set(key, "kept")
        assert await execute_replicated(pipe, on_cluster, KEYS) == [True, True, True]
    for key in KEYS:
        master = private_cluster.master_of(key)
        replica_offsets = [
            int(info["slave_repl_offset"])
            for info in map(_replication, private_cluster.nodes)
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == master.port
        ]
        master_offset = int(_replication(master)["master_repl_offset"])
        assert replica_offsets == [master_offset], "the replica had every write when we answered"


def _replication(node: Node) -> dict[str, Any]:
    client = node.client()
    try:
        return dict(client.info("replication"))
    finally:
        client.close()


async def test_more_replicas_than_there_are_is_a_store_unavailable_error(
    cluster_client: redis.asyncio.cluster.RedisCluster, on_cluster: Settings
) -> None:
    """Each master has one replica: asking for two can only time out, and the caller must not
    acknowledge what it wrote."""
    strict = on_cluster.model_copy(update={"redis_wait_replicas": 2, "redis_wait_timeout_ms": 50})
    async with cluster_client.pipeline(transaction=False) as pipe:
        pipe.set(KEYS[0], "maybe")
        with pytest.raises(StoreUnavailableError):
            await execute_replicated(pipe, strict, KEYS[:1])


async def test_with_no_replicas_asked_for_it_is_a_plain_pipeline(runtime: Runtime) -> None:
    """The default (0): the suite's own store, single server or cluster, answers at once."""
    settings = runtime.settings.model_copy(update={"redis_wait_replicas": 0})
    async with runtime.redis.pipeline(transaction=False) as pipe:
        pipe.set(KEYS[0], "1")
        pipe.get(KEYS[0])
        assert await execute_replicated(pipe, settings, KEYS[:1]) == [True, "1"]
    await runtime.redis.delete(KEYS[0])
