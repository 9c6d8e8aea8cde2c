"""Client records kept in a gateway process for as long as it hears of every change.

Every token request and every API call made with a token looks its client up, and records
change a few times a year, so the Redis read was the one round trip of the token endpoint.
A process keeps the records it read while it is subscribed to the registry's change channel
(:data:`gateway.clients.store.CHANGES`), on which every change made through
:class:`~gateway.clients.store.ClientStore` publishes the client's id (a new client needs
no message: an id that was not found is never kept).

Why this is as fresh as reading Redis every time: a writer publishes before it answers, so
by the time anyone can act on a change (an operator's next request, a test's next call) the
id has been sent down this process's subscription, in order with everything else on it.
Before a kept record is used:

- the subscription's socket is polled (one system call, no wait), and whatever waits there
  or in the connection's buffers is read and drops the records it names;
- the subscription must have answered a ``PING`` sent less than :data:`STALE_SECONDS` ago
  (Redis answers in order, so that answer proves every change published before the ping
  arrived has been read; a connection that died without a sign, half-open behind a
  balancer, stops being trusted within that time);
- it must still be the connection that was subscribed: redis-py may reconnect and
  subscribe again by itself, and changes published in between are lost.

Any doubt drops everything kept; records are then read from Redis while a new subscription
is made in the background. A read that a change overtook is used once and not kept. A lookup
that finds another reading the channel (or pinging it) reads Redis rather than wait for it.

# NOTE: across a network "heard before anyone can act" is a race the change wins by the
# operator's own round trips; a change still in flight (a lost packet being resent) when
# the next request arrives can be missed for that long. Changes older than STALE_SECONDS
# are always seen. With the embedded Redis (a local socket) the change is always first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import AbstractConnection, Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError
from redis.maint_notifications import MaintNotificationsConfig

from gateway.clients.models import Client

# Past this many records a process reads the rest from Redis each time instead of growing.
MAX_KEPT = 10_000
# After a failed subscription, records are read from Redis for this long before retrying.
RETRY_SECONDS = 1.0
# How long a new subscription may take to be confirmed.
CONFIRM_SECONDS = 2.0
# How long a message that has started to arrive may take to arrive whole.
READ_SECONDS = 0.05
# A ping goes down the subscription at most this often, when lookups need a fresh answer;
PING_SECONDS = 0.5
# kept records are trusted only while one sent less than this long ago has come back;
STALE_SECONDS = 2.0
# and a ping unanswered this long means the connection is dead.
DEAD_SECONDS = 6.0

Read = Callable[[str], Awaitable[Client | None]]

log = logging.getLogger(__name__)


class ClientCache:
    """What :meth:`ClientStore.get` reads through; see the module docstring."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._listening: Subscription | None = None
        self._starting: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._failing = False  # the last subscription failed (logged once until one works)
        self._closed = False
        self._kept: dict[str, Client] = {}
        self._changes = 0  # how many changes this process has heard of
        self._lock = asyncio.Lock()

    @property
    def listening(self) -> bool:
        """Whether this process is subscribed to the changes (so it may keep records)."""
        return self._listening is not None

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
        """Drop the record of a client that changed: one this process has just written (its
        change is on its way too), or one whose change the subscription brought."""
        self._kept.pop(client_id, None)
        self._changes += 1

    async def aclose(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        async with self._lock:
            await self._lose()

    async def _caught_up(self) -> bool:
        """Subscribed, alive, and every change published so far applied."""
        listening = self._listening
        if listening is None:
            self._start()
            return False
        if self._lock.locked():
            # Another lookup is reading the channel or pinging it: this one reads Redis rather
            # than queue. Under steady load an asyncio.Lock that once had a queue keeps one
            # (each newcomer waits behind the waiter just woken, one turn of the event loop
            # each), which cost the token endpoint a quarter of its throughput.
            return False
        try:
            trusted = await listening.settled()  # the usual case: nothing waits, no ping due
        except Exception:
            trusted = None  # the locked path finds the fault again and drops everything
        if trusted is not None:
            return trusted
        if self._lock.locked():
            return False  # taken while a failing socket was being disconnected
        async with self._lock:
            if listening is not self._listening:  # lost while this lookup waited
                return False
            try:
                return await listening.catch_up(self.forget)
            except Exception:  # any doubt: nothing kept can be trusted any more
                await self._lose()
                return False

    def _start(self) -> None:
        """Subscribe in the background (lookups read Redis meanwhile), unless under way or
        too soon after a failure."""
        if self._closed or self._starting is not None or time.monotonic() < self._retry_at:
            return
        self._starting = asyncio.create_task(self._subscribe(), name="client changes")

    async def start(self) -> None:
        """Subscribe now, at start-up: a Redis user refused the channel raises
        ``NoPermissionError`` before anything is served; other failures are retried in the
        background."""
        await self._subscribe(refusal_raises=True)

    async def _subscribe(self, *, refusal_raises: bool = False) -> None:
        try:
            listening = await Subscription.open(self._redis, self._channel)
        except Exception as exc:
            self._retry_at = time.monotonic() + RETRY_SECONDS
            if refusal_raises and isinstance(exc, NoPermissionError):
                raise
            self._log_failure(repr(exc))
            return
        finally:
            self._starting = None
        if self._closed:
            await listening.aclose()
            return
        self._failing = False
        self._listening = listening

    def _log_failure(self, error: str) -> None:
        if not self._failing:  # once, until a subscription works again
            self._failing = True
            log.warning(
                "cannot subscribe to client changes; client records are read from Redis on "
                "every lookup until it can",
                extra={"channel": self._channel, "error": error},
            )

    async def _lose(self) -> None:
        self._kept.clear()
        self._changes += 1
        listening, self._listening = self._listening, None
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if listening is not None:
            await listening.aclose()


class Subscription:
    """The change channel on a connection of its own, without redis-py's retries: a
    connection that fails must say so, not reconnect and subscribe again quietly."""

    def __init__(self, client: Redis, pubsub: PubSub, connection: AbstractConnection) -> None:
        self._client = client
        self._pubsub = pubsub
        self._connection = connection
        transport = _transport(connection)
        if transport is None:
            raise ConnectionError("the change channel has no connection")
        self._transport = transport
        self._socket = select.poll()
        self._socket.register(
            transport.get_extra_info("socket").fileno(), select.POLLIN | select.POLLPRI
        )
        self._answered = time.monotonic()  # the confirmation proves it alive as of now
        self._pinged = self._answered
        self._unanswered_since: float | None = None

    @classmethod
    async def open(cls, redis: Redis, channel: str) -> Subscription:
        pool = redis.connection_pool
        settings: dict[str, Any] = {
            **{k: v for k, v in pool.connection_kwargs.items() if not k.startswith("maint_")},
            # No error is retried: redis-py's failure handler would reconnect and subscribe
            # again (slowly, under the cache's lock) before the error is raised.
            "retry": Retry(NoBackoff(), 0, supported_errors=()),
            "retry_on_error": [],
            # Maintenance pushes read as no message, which would look like a broken one.
            "maint_notifications_config": MaintNotificationsConfig(enabled=False),
            "health_check_interval": 0,  # this class pings, and reads the answers itself
            # redis-py parses a decoded answer to PING on a subscription as a message of type
            # "P" (the first letter of "PONG"); undecoded it is the "pong" it should be.
            "decode_responses": False,
        }
        if issubclass(pool.connection_class, Connection):  # TCP (or TLS), not a local socket
            settings["socket_keepalive"] = True
        own = ConnectionPool(connection_class=pool.connection_class, **settings)
        client = Redis.from_pool(own)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            deadline = time.monotonic() + CONFIRM_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                message = await pubsub.get_message(timeout=left)
                if message is not None and message["type"] == "subscribe":
                    connection = pubsub.connection
                    if connection is None:
                        break
                    # Never subscribed again on a new connection: a lost one must be seen.
                    connection.deregister_connect_callback(pubsub.on_connect)
                    return cls(client, pubsub, connection)
            raise TimeoutError("the change channel subscription was not confirmed")
        except BaseException:
            await _close(client, pubsub)
            raise

    async def settled(self) -> bool | None:
        """Whether kept records may be trusted, when telling needs nothing read or sent; None
        when a message waits, a ping is due or overdue: then :meth:`catch_up`, under the
        cache's lock. It never gives way to the event loop when it answers, so no lookup
        holding the lock can be halfway through a change meanwhile. Raises when the
        connection was lost (after disconnecting it, which may give way)."""
        self._check_connection()
        if await self._connection.can_read() or self._socket.poll(0):
            return None
        now = time.monotonic()
        if self._unanswered_since is not None and now - self._unanswered_since >= DEAD_SECONDS:
            return None
        if self._ping_due(now):
            return None
        return now - self._answered < STALE_SECONDS

    async def catch_up(self, changed: Callable[[str], None]) -> bool:
        """Apply every change waiting; whether kept records may be trusted now. Raises when
        the subscription can no longer be trusted at all."""
        self._check_connection()
        unfinished = 0
        while await self._connection.can_read() or self._socket.poll(0):
            message = await self._pubsub.get_message(timeout=READ_SECONDS)
            if message is None:
                unfinished += 1
                if unfinished > 1:
                    raise ConnectionError("the change channel left a message unfinished")
                continue
            unfinished = 0
            kind = message["type"]
            if kind == "message":
                changed(bytes(message["data"]).decode())
            elif kind == "pong":
                self._answered = max(self._answered, float(bytes(message["data"])))
                if self._unanswered_since is not None and self._answered >= self._unanswered_since:
                    self._unanswered_since = None
            else:  # a subscription made again means changes may have been missed
                raise ConnectionError(f"the change channel sent {kind!r}")
        now = time.monotonic()
        if self._unanswered_since is not None and now - self._unanswered_since >= DEAD_SECONDS:
            raise ConnectionError("the change channel has not answered a ping")
        if self._ping_due(now):
            # The answer comes to a later lookup; this one has what it needs or reads Redis.
            self._pinged = now
            if self._unanswered_since is None:
                self._unanswered_since = now
            await self._pubsub.ping(repr(now))
        return now - self._answered < STALE_SECONDS

    def _check_connection(self) -> None:
        if (
            self._pubsub.connection is not self._connection
            or _transport(self._connection) is not self._transport
            or self._transport.is_closing()
        ):
            raise ConnectionError("the change channel's connection was lost")

    def _ping_due(self, now: float) -> bool:
        return now - self._answered >= PING_SECONDS and now - self._pinged >= PING_SECONDS

    async def aclose(self) -> None:
        await _close(self._client, self._pubsub)


def _transport(connection: AbstractConnection) -> asyncio.BaseTransport | None:
    """The connection's transport: redis-py names no public handle, its stream writer has one."""
    writer = getattr(connection, "_writer", None)
    return writer.transport if writer is not None else None


async def _close(client: Redis, pubsub: PubSub) -> None:
    # Closing a broken connection may fail again; it is dropped either way.
    with contextlib.suppress(Exception):
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    with contextlib.suppress(Exception):
        await client.aclose()
