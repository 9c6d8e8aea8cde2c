"""Client records kept in a gateway process for as long as it hears of every change.

Every token request and every API call made with a token looks its client up, and records
change a few times a year, so the Redis read was the one round trip of the token endpoint.
A process keeps the records it read while it is subscribed to the registry's change channel
(:data:`gateway.clients.store.CHANGES`), on which every change made through
:class:`~gateway.clients.store.ClientStore` publishes the client's id (a new client needs
no message: an id that was not found is never kept).

Why this is as fresh as reading Redis every time: a writer publishes before it answers, so
by the time anyone can act on a change (an operator's next request, a test's next call) the
id is already waiting on this process's subscription. Before a record is used, the
subscription's socket is polled (one system call, no wait) and whatever waits there or in
the connection's buffers is read and drops the records it names; only then does the lookup
trust what is kept. A change that lands while a record is being read from Redis means that
read is used once but not kept. If the subscription fails, everything kept is
dropped and records are read from Redis until a fresh subscription is confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gateway.clients.models import Client

# Past this many records a process reads the rest from Redis each time instead of growing.
MAX_KEPT = 10_000
# After a failed subscription, records are read from Redis for this long before retrying.
RETRY_SECONDS = 1.0
# How long a new subscription may take to be confirmed before it is given up.
CONFIRM_SECONDS = 2.0

Read = Callable[[str], Awaitable[Client | None]]


class ClientCache:
    """What :meth:`ClientStore.get` reads through; see the module docstring."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._subscription: PubSub | None = None
        self._socket = select.poll()  # the subscription's socket, once subscribed
        self._kept: dict[str, Client] = {}
        self._changes = 0  # how many changes this process has heard of
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    async def get(self, client_id: str, read: Read) -> Client | None:
        if not await self._caught_up():
            return await read(client_id)
        kept = self._kept.get(client_id)
        if kept is not None:
            return kept
        changes = self._changes
        client = await read(client_id)
        if client is not None and changes == self._changes and len(self._kept) < MAX_KEPT:
            self._kept[client_id] = client
        return client

    def forget(self, client_id: str) -> None:
        """Drop a record this process has just written (its change is on its way too)."""
        self._kept.pop(client_id, None)
        self._changes += 1

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop_subscription()

    async def _caught_up(self) -> bool:
        """Subscribed, and every change published so far applied."""
        async with self._lock:
            try:
                if self._subscription is None and not await self._subscribe():
                    return False
                unfinished = 0
                while (subscription := await self._waiting()) is not None:
                    message = await subscription.get_message(timeout=CONFIRM_SECONDS)
                    # A health check's answer reads as no message; twice running, with bytes
                    # still waiting, means a message that never ends or a socket gone bad.
                    unfinished = unfinished + 1 if message is None else 0
                    if unfinished > 1:
                        raise ConnectionError("the change channel left a message unfinished")
                    self._apply(message)
            except Exception:  # any failure: nothing kept can be trusted any more
                await self._drop_subscription()
                self._retry_at = time.monotonic() + RETRY_SECONDS
                return False
            return True

    async def _subscribe(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        subscription = self._redis.pubsub()
        self._subscription = subscription
        await subscription.subscribe(self._channel)
        # NOTE: kept records are trusted only once Redis has confirmed the subscription: a
        # change published before that would never reach this process.
        deadline = time.monotonic() + CONFIRM_SECONDS
        while time.monotonic() < deadline:
            message = await subscription.get_message(timeout=CONFIRM_SECONDS)
            if message is not None and message["type"] == "subscribe":
                self._watch(subscription)
                return True
        raise TimeoutError("the change channel subscription was not confirmed")

    async def _waiting(self) -> PubSub | None:
        """The subscription, if anything has reached it that it has not yet read."""
        subscription = self._subscription
        connection = subscription.connection if subscription else None
        if subscription is None or connection is None or not connection.is_connected:
            # Changes published while it was down are lost: it is not trusted again.
            raise ConnectionError("the change channel subscription has lost its connection")
        if await connection.can_read() or self._socket.poll(0):  # buffered, closed or arrived
            return subscription
        return None

    def _watch(self, subscription: PubSub) -> None:
        """Poll the socket of ``subscription`` from now on."""
        # redis-py gives no public handle on the socket; its stream writer's transport does.
        writer = getattr(subscription.connection, "_writer", None)
        sock = writer.get_extra_info("socket") if writer is not None else None
        if sock is None:
            raise ConnectionError("the change channel subscription has no socket")
        self._socket = select.poll()
        self._socket.register(sock.fileno(), select.POLLIN | select.POLLPRI)

    def _apply(self, message: dict[str, Any] | None) -> None:
        if message is not None and message["type"] == "message":
            self._kept.pop(str(message["data"]), None)
            self._changes += 1

    async def _drop_subscription(self) -> None:
        self._kept.clear()
        self._changes += 1
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            # Closing a broken connection may fail again; it is dropped either way.
            with contextlib.suppress(Exception):
                await subscription.aclose()  # type: ignore[no-untyped-call]
