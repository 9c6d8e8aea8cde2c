"""Client records kept per process (gateway/clients/cache.py): each store below stands for a
gateway process, with its own connections; a change made through any of them is seen by all
on their very next lookup, and a process that cannot hear of changes reads the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio

from gateway.clients.cache import STALE_SECONDS, ClientCache, Read
from gateway.clients.models import Client, ClientRegistration
from gateway.clients.store import CHANGES, ClientStore, client_key
from gateway.core.redis import RedisClient, connect, resolve_target
from gateway.core.settings import Settings
from gateway.runtime import Runtime, open_runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration
from tests.support.servers import free_port

NewStore = Callable[[], Awaitable[ClientStore]]


def _single_server(settings: Settings) -> None:
    if settings.redis_cluster:
        pytest.skip("records are kept only with a single Redis server (gateway/clients/store.py)")


@pytest.fixture
async def connection(settings: Settings) -> AsyncIterator[redis.asyncio.Redis]:
    """A connection of the test's own, for what no store would do."""
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def new_store(settings: Settings) -> AsyncIterator[NewStore]:
    """Stores on connections of their own, made as a gateway process makes them (with
    redis-py's retries, which reconnect quietly), as separate processes have."""
    opened: list[tuple[RedisClient, ClientStore]] = []

    async def make() -> ClientStore:
        client = connect(resolve_target(settings, None), settings)
        store = ClientStore(client)
        opened.append((client, store))
        return store

    yield make
    for client, store in opened:
        await store.aclose()
        await client.aclose()


@pytest.fixture
async def own_cache(settings: Settings) -> AsyncIterator[ClientCache]:
    """A cache on a connection of its own, made as a gateway process makes it (records are
    kept only with a single Redis server)."""
    _single_server(settings)
    own = connect(resolve_target(settings, None), settings)
    assert isinstance(own, redis.asyncio.Redis)
    cache = ClientCache(own, CHANGES)
    try:
        yield cache
    finally:
        await cache.aclose()
        await own.aclose()


async def _until_listening(cache: ClientCache, client_id: str, read: Read) -> None:
    """Look ``client_id`` up until the cache is subscribed (in the background)."""
    for _ in range(500):
        await cache.get(client_id, read)
        if cache.listening:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the cache never subscribed to the changes")


def _recording(client: Client) -> tuple[list[str], Read]:
    """A read from the store that answers ``client`` and notes every id it was asked for."""
    reads: list[str] = []

    async def read(client_id: str) -> Client | None:
        reads.append(client_id)
        return client

    return reads, read


async def _client(runtime: Runtime, organisation_id: str) -> Client:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    return issued.client


@pytest.fixture
async def kept(
    settings: Settings, runtime: Runtime, organisation_id: str, new_store: NewStore
) -> tuple[Client, ClientStore]:
    """A client, and a store (a single server's: only there are records kept) that has read
    it once."""
    _single_server(settings)
    client = await _client(runtime, organisation_id)
    store = await new_store()
    await _keeping(store, client)
    return client, store


async def _keeping(store: ClientStore, client: Client) -> None:
    """Look ``client`` up until the store keeps records (it subscribes in the background,
    reading the store meanwhile), then once more so that it keeps this one."""
    for _ in range(500):
        assert await store.get(client.client_id) == client
        if store.keeping:
            break
        await asyncio.sleep(0.01)
    assert store.keeping
    assert await store.get(client.client_id) == client


async def test_a_record_read_once_is_reused_without_reading_the_store(
    kept: tuple[Client, ClientStore], connection: redis.asyncio.Redis
) -> None:
    """The point of keeping records: a write that bypasses the store (and so publishes
    nothing) is not seen, which shows the second lookup did not read Redis."""
    client, store = kept
    raw = str(await connection.get(client_key(client.client_id)))
    await connection.set(
        client_key(client.client_id), raw.replace('"disabled":false', '"disabled":true')
    )
    reused = await store.get(client.client_id)
    assert reused is not None and not reused.disabled
    await connection.publish(CHANGES, client.client_id)  # as a write through a store would
    fresh = await store.get(client.client_id)
    assert fresh is not None and fresh.disabled


async def test_every_change_through_another_process_is_seen_on_the_next_lookup(
    settings: Settings, runtime: Runtime, organisation_id: str, new_store: NewStore
) -> None:
    """Disable and enable in one process, alternately, each looked up at once in two
    others that keep records: never a stale answer."""
    client = await _client(runtime, organisation_id)
    readers = [await new_store(), await new_store()]
    for reader in readers:
        if settings.redis_cluster:
            assert await reader.get(client.client_id) == client
        else:
            await _keeping(reader, client)
    for round_ in range(30):
        disabled = round_ % 2 == 0
        change = runtime.clients.disable if disabled else runtime.clients.enable
        await change(client.client_id, TEST_ACTOR)
        for reader in readers:
            seen = await reader.get(client.client_id)
            assert seen is not None and seen.disabled is disabled, round_


async def test_a_change_made_by_the_same_process_is_seen_at_once(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await _client(runtime, organisation_id)
    assert not (await runtime.clients.get(client.client_id)).disabled
    await runtime.clients.disable(client.client_id, TEST_ACTOR)
    assert (await runtime.clients.get(client.client_id)).disabled


async def test_an_unknown_id_is_not_kept(
    runtime: Runtime, organisation_id: str, new_store: NewStore
) -> None:
    """A client registered after a lookup missed it is found by the next lookup (adding a
    client publishes nothing, so a remembered miss would hide it)."""
    store = await new_store()
    assert await store.get("cli_" + "Z" * 22) is None
    client = await _client(runtime, organisation_id)
    assert await store.get(client.client_id) == client


async def test_a_lost_subscription_means_reading_the_store_until_it_is_back(
    kept: tuple[Client, ClientStore], connection: redis.asyncio.Redis
) -> None:
    """Changes published while a process was not subscribed never reach it: when its
    subscription drops, it forgets what it kept and reads the store."""
    client, store = kept
    killed = await connection.client_kill_filter(_type="pubsub")
    assert killed >= 1
    raw = str(await connection.get(client_key(client.client_id)))
    renamed = raw.replace(client.client_name, "Renamed while nobody listened")
    await connection.set(client_key(client.client_id), renamed)  # and nothing published
    seen = await store.get(client.client_id)
    assert seen is not None and seen.client_name == "Renamed while nobody listened"
    # Then it subscribes again, and keeps records again.
    await _keeping(store, seen)


async def test_a_read_overtaken_by_a_change_is_used_once_and_not_kept(
    own_cache: ClientCache,
    connection: redis.asyncio.Redis,
    runtime: Runtime,
    organisation_id: str,
) -> None:
    """A lookup whose read from the store raced a change (the change was heard while the
    read was in flight) answers with what it read but keeps nothing, so the next lookup
    reads again."""
    cache = own_cache
    client = await _client(runtime, organisation_id)
    other = await _client(runtime, organisation_id)
    reads: list[str] = []

    async def plain(client_id: str) -> Client | None:
        reads.append(client_id)
        return other if client_id == other.client_id else client

    async def overtaken(client_id: str) -> Client | None:
        reads.append(client_id)
        await connection.publish(CHANGES, client_id)
        # Another lookup in this process hears the change while this read is in flight; a
        # change to its own client, published after, shows when it has (it reads again).
        await connection.publish(CHANGES, other.client_id)
        for _ in range(50):
            await cache.get(other.client_id, plain)
            if other.client_id in reads:
                break
            await asyncio.sleep(0.01)
        assert other.client_id in reads
        return client

    await _until_listening(cache, other.client_id, plain)
    assert await cache.get(other.client_id, plain) == other  # read once more, to keep it
    reads.clear()
    assert await cache.get(other.client_id, plain) == other
    assert reads == []  # kept
    assert await cache.get(client.client_id, overtaken) == client
    assert await cache.get(client.client_id, plain) == client
    assert reads.count(client.client_id) == 2


async def test_records_stay_kept_while_the_subscription_answers_its_pings(
    own_cache: ClientCache, runtime: Runtime, organisation_id: str
) -> None:
    """Trust lasts STALE_SECONDS past the last answered ping; lookups spread over longer
    than that keep being answered from the kept record, because each ping sent on the way
    is answered and read (a ping's answer misread once dropped the subscription)."""
    cache = own_cache
    client = await _client(runtime, organisation_id)
    reads, read = _recording(client)
    await _until_listening(cache, client.client_id, read)
    reads.clear()
    deadline = time.monotonic() + STALE_SECONDS * 1.5
    while time.monotonic() < deadline:
        assert await cache.get(client.client_id, read) == client
        await asyncio.sleep(0.01)
    assert cache.listening
    assert len(reads) <= 1  # the first lookup after subscribing reads it to keep it


async def test_a_lookup_while_the_channel_is_being_read_reads_the_store_without_waiting(
    own_cache: ClientCache, runtime: Runtime, organisation_id: str
) -> None:
    """While one lookup reads the change channel or pings it (holding the cache's lock), the
    others read the store at once instead of queueing behind it: the lookup finishes
    without giving way to the event loop. Queued lookups had kept the lock's queue alive
    under load, costing every token request an extra turn of the loop."""
    cache = own_cache
    client = await _client(runtime, organisation_id)
    reads, read = _recording(client)
    await _until_listening(cache, client.client_id, read)
    assert await cache.get(client.client_id, read) == client  # kept from here on
    reads.clear()
    async with cache._lock:  # as a lookup reading a change holds it
        lookup = cache.get(client.client_id, read)
        with pytest.raises(StopIteration) as finished:
            lookup.send(None)
    assert finished.value.value == client
    assert reads == [client.client_id]  # from the store, not the record kept


async def test_a_store_down_at_start_does_not_stop_the_start(settings: Settings) -> None:
    """The start-up check of the change channel refuses a Redis user without the right, not
    an outage: a worker restarted while Redis is down must start, answer 503 and recover
    by itself (tests/resilience/test_faults.py)."""
    down = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}", "redis_cluster": False}
    )
    async with open_runtime(down) as started:
        with pytest.raises(redis.exceptions.ConnectionError):  # lookups still fail closed
            await started.clients.get("cli_" + "D" * 22)
