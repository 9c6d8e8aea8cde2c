"""A cluster must be configured as one: a plain client on a cluster node would work for that
node's slots and answer MOVED for every other key, so the gateway refuses to start that way."""

from __future__ import annotations

import pytest

from gateway.core.errors import ConfigurationError
from gateway.core.redis import StoreKind, StoreTarget, open_client
from gateway.core.settings import Settings
from tests.support.cluster import LocalCluster


async def test_a_cluster_node_given_as_a_plain_url_is_refused_at_start(
    private_cluster: LocalCluster, settings: Settings
) -> None:
    plain = settings.model_copy(update={"redis_url": private_cluster.url, "redis_cluster": False})
    with pytest.raises(ConfigurationError, match="GOVCONNECT_REDIS_CLUSTER=true"):
        await open_client(StoreTarget(StoreKind.EXTERNAL, private_cluster.url), plain)


async def test_the_same_node_with_the_cluster_setting_reaches_every_slot(
    private_cluster: LocalCluster, settings: Settings
) -> None:
    on_cluster = settings.model_copy(
        update={"redis_url": private_cluster.url, "redis_cluster": True}
    )
    client = await open_client(StoreTarget(StoreKind.CLUSTER, private_cluster.url), on_cluster)
    try:
        keys = [f"{{gc:configuration-{n}}}" for n in range(20)]  # spread over the masters
        for key in keys:
            await client.set(key, "1", ex=60)
        assert [await client.get(key) for key in keys] == ["1"] * 20
    finally:
        await client.aclose()
