"""The client store's per-process cache: a record read is reused for ``cache_seconds``, a
write through the same store counts at once, a change made elsewhere counts after at most
``cache_seconds``, and unknown ids are never remembered."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gateway.clients.models import Client, ClientRegistration
from gateway.clients.store import ClientStore, client_key
from gateway.core.ids import new_id
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration

CACHE_SECONDS = 0.3


async def _registered(runtime: Runtime, organisation_id: str) -> Client:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    return issued.client


async def test_a_record_read_is_reused_without_reading_the_store(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await _registered(runtime, organisation_id)
    cached = ClientStore(runtime.redis, cache_seconds=CACHE_SECONDS)
    assert await cached.get(client.client_id) == client
    await runtime.redis.delete(client_key(client.client_id))
    assert await cached.get(client.client_id) == client
    await asyncio.sleep(CACHE_SECONDS + 0.05)
    assert await cached.get(client.client_id) is None


async def test_without_a_cache_time_every_read_goes_to_the_store(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await _registered(runtime, organisation_id)
    store = ClientStore(runtime.redis)
    assert await store.get(client.client_id) == client
    await runtime.redis.delete(client_key(client.client_id))
    assert await store.get(client.client_id) is None


async def test_a_write_through_the_same_store_counts_at_once(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await _registered(runtime, organisation_id)
    cached = ClientStore(runtime.redis, cache_seconds=60)
    read = await cached.versioned(client.client_id)
    assert read is not None and await cached.get(client.client_id) == client
    assert await cached.replace(read, replace(client, disabled=True))
    assert (await cached.get(client.client_id)).disabled  # type: ignore[union-attr]


async def test_a_change_made_by_another_process_counts_after_the_cache_time(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await _registered(runtime, organisation_id)
    cached = ClientStore(runtime.redis, cache_seconds=CACHE_SECONDS)
    assert not (await cached.get(client.client_id)).disabled  # type: ignore[union-attr]
    await runtime.clients.disable(client.client_id, TEST_ACTOR)  # another store: "elsewhere"
    await asyncio.sleep(CACHE_SECONDS + 0.05)
    assert (await cached.get(client.client_id)).disabled  # type: ignore[union-attr]


async def test_an_unknown_id_is_not_remembered(runtime: Runtime, organisation_id: str) -> None:
    """A client registered elsewhere just after a lookup of its id works at once."""
    existing = await _registered(runtime, organisation_id)
    cached = ClientStore(runtime.redis, cache_seconds=60)
    later = replace(existing, client_id=new_id("cli"))
    assert await cached.get(later.client_id) is None
    await ClientStore(runtime.redis).add(later)
    assert await cached.get(later.client_id) == later
