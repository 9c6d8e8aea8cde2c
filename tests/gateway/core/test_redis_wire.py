"""The store's connections (gateway/core/redis_wire.py) pack commands as redis-py does, write
whole values of any size, and still give up on a write that cannot go within the timeout."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis.asyncio
import uvloop
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from gateway.core.redis import open_client, resolve_target
from gateway.core.redis_wire import LeanConnection, LeanUnixConnection, lean
from gateway.core.settings import Settings

ARGUMENTS: list[tuple[EncodableT, ...]] = [
    ("SET", "key", "value"),
    ("CONFIG GET", "maxmemory"),  # a command name of two words is split, as redis-py does
    (b"ZADD", "{gc:x}:index", 1732812345.123456, "member"),
    ("HSET", "h", "naïve", b"\x00\xff bytes", 12345678901234567890, -5, 0.1),
    ("SET", "k", memoryview(b"viewed")),
]


def _single_server(settings: Settings) -> None:
    if settings.redis_cluster:
        pytest.skip("a cluster client keeps redis-py's own connections")


@pytest.mark.parametrize("args", ARGUMENTS)
def test_commands_are_packed_byte_for_byte_as_redis_py_packs_them(
    args: tuple[EncodableT, ...],
) -> None:
    plain, wire = Connection(), LeanConnection()
    assert b"".join(wire.pack_command(*args)) == b"".join(plain.pack_command(*args))


def test_a_value_redis_cannot_store_is_refused_before_sending() -> None:
    for connection in (Connection(), LeanConnection()):
        with pytest.raises(DataError):
            connection.pack_command("SET", "k", True)


def test_only_redis_pys_own_connection_classes_are_swapped() -> None:
    class Custom(Connection):
        pass

    assert lean(Connection) is LeanConnection
    assert lean(Custom) is Custom


async def test_the_gateways_store_client_uses_them(settings: Settings) -> None:
    _single_server(settings)
    client = await open_client(resolve_target(settings), settings)
    try:
        assert isinstance(client, redis.asyncio.Redis)
        assert client.connection_pool.connection_class in (LeanConnection, LeanUnixConnection)
    finally:
        await client.aclose()


async def test_the_store_urls_own_options_win(settings: Settings) -> None:
    """Options in GOVCONNECT_REDIS_URL's query override the gateway's defaults, as with
    redis-py's from_url, instead of stopping the start with a duplicate argument."""
    _single_server(settings)
    url = settings.redis_url or ""
    url += ("&" if "?" in url else "?") + "health_check_interval=5&max_connections=7"
    changed = settings.model_copy(update={"redis_url": url})
    client = await open_client(resolve_target(changed), changed)
    try:
        assert isinstance(client, redis.asyncio.Redis)
        assert client.connection_pool.max_connections == 7
        assert client.connection_pool.connection_kwargs["health_check_interval"] == 5
        assert await client.ping()
    finally:
        await client.aclose()


async def test_a_value_larger_than_the_socket_buffer_is_written_whole(settings: Settings) -> None:
    """Eight megabytes cannot go at once: the rest waits for room under the timeout."""
    client = await open_client(resolve_target(settings), settings)
    key, value = f"test:wire:{secrets.token_hex(6)}", secrets.token_hex(4 * 1024 * 1024)
    try:
        await client.set(key, value, ex=60)
        assert await client.get(key) == value
    finally:
        await client.delete(key)
        await client.aclose()


# redis-py's CLIENT SETINFO LIB-NAME and LIB-VER, sent on connecting.
OPENING_COMMANDS = 2


@pytest.fixture
async def deaf_server() -> AsyncIterator[int]:
    """A server that answers a connection's opening commands, then never reads again."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        answered = 0
        while answered < OPENING_COMMANDS:
            chunk = await reader.read(65536)
            commands = chunk.count(b"\r\n*") + chunk.startswith(b"*")
            writer.write(b"+OK\r\n" * commands)
            answered += commands

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_write_that_cannot_go_fails_within_the_timeout(deaf_server: int) -> None:
    """A peer that stops reading fills the socket's buffers; the write then waits under
    ``socket_timeout`` and fails, rather than hanging the request."""
    connection = LeanConnection(host="127.0.0.1", port=deaf_server, socket_timeout=0.5)
    await connection.connect()  # type: ignore[no-untyped-call]
    started = time.monotonic()
    with pytest.raises(RedisTimeoutError):
        await connection.send_command("SET", "k", b"x" * (64 * 1024 * 1024))
    assert time.monotonic() - started < 5
    assert not connection.is_connected  # dropped, not reused half-written


def test_a_connection_closed_under_it_is_dropped_and_the_error_is_retryable(
    settings: Settings,
) -> None:
    """Under uvloop (the gateway's event loop) writing to a transport that a reset has closed
    raises RuntimeError; it must come out as a connection error (which redis-py retries on a
    new connection) and drop the connection, or the pool would hand it out again and again."""
    _single_server(settings)

    async def scenario() -> None:
        client = await open_client(resolve_target(settings), settings)
        assert isinstance(client, redis.asyncio.Redis)
        connection = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_command("PING")
            assert await connection.read_response() == "PONG"
            writer = connection._writer
            assert writer is not None
            writer.transport.abort()  # as a reset would
            await asyncio.sleep(0.05)
            with pytest.raises(RedisConnectionError):
                await connection.send_command("PING")
            assert not connection.is_connected
        finally:
            await client.connection_pool.release(connection)
            await client.aclose()

    # A thread of its own: the suite may already run an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(lambda: uvloop.run(scenario())).result()
