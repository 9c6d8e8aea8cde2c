"""The processes a benchmark run starts and measures: ``govconnect serve`` (one or more
workers; the embedded Redis, an external ``redis-server``, or a local Redis Cluster of three
masters and three replicas, each with AOF ``always``), and the meter that reads their CPU
time, resident memory and Redis's memory around a measured run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks.stats import per_item, per_thousand
from gateway.core.redis import EmbeddedRedis
from gateway.core.settings import Settings
from tests.support.cluster import local_cluster
from tests.support.servers import free_port, gateway_env, run_cli, wait_until_ready

# Redis's own default: a master is failed over only after 15 s of silence, so six servers,
# the gateway and wrk saturating two cores do not set off a failover in the middle of a run.
CLUSTER_NODE_TIMEOUT_MS = 15_000


def tool(name: str) -> str:
    """The full path of a program on PATH, or exit saying where it comes from."""
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is not on PATH (`make bench` installs wrk; node and npm: Node.js)")
    return path


class Store(Enum):
    """Where the gateway keeps its state; the value is how the tables name it."""

    EMBEDDED = "embedded Redis"
    EXTERNAL = "external redis-server"
    CLUSTER = "Redis Cluster"


@dataclass(frozen=True)
class Config:
    """One way of running the gateway: its worker count and its Redis."""

    workers: int
    store: Store = Store.EMBEDDED

    @property
    def label(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}, {self.store.value}"


@dataclass(frozen=True)
class RedisStore:
    """The store a gateway is given: the URL it connects to, the nodes whose ``INFO`` is
    summed (the server, or the cluster's masters: replicas repeat their masters' data and
    commands), and every Redis process whose CPU counts (replicas included: a cluster pays
    for its replication)."""

    url: str
    cluster: bool
    counted: tuple[str, ...]
    processes: tuple[psutil.Process, ...]


@contextmanager
def external_redis(folder: Path) -> Iterator[RedisStore]:
    """A ``redis-server`` of the machine's own on a loopback port, AOF with fsync on every
    write (as the embedded one runs), no RDB snapshots."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed argument list
        [
            tool("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        stdout=(folder / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)
    client.close()
    try:
        yield RedisStore(url, False, (url,), (psutil.Process(process.pid),))
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def redis_cluster() -> Iterator[RedisStore]:
    """Three masters and three replicas of the machine's ``redis-server`` on loopback ports
    (tests/support/cluster.py, as ``make test-cluster`` runs them), with AOF ``always`` like
    the other stores, so the difference measured is the cluster's, not the fsync policy's."""
    with local_cluster(appendfsync="always", node_timeout_ms=CLUSTER_NODE_TIMEOUT_MS) as cluster:
        masters = tuple(f"redis://127.0.0.1:{node.port}/0" for node in cluster.masters())
        processes = tuple(
            psutil.Process(node.process.pid) for node in cluster.nodes if node.process
        )
        yield RedisStore(cluster.url, True, masters, processes)


@dataclass
class Gateway:
    """A running ``govconnect serve`` and the Redis it uses."""

    workdir: Path
    env: dict[str, str]
    base_url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    store: RedisStore

    def processes(self) -> list[psutil.Process]:
        """The serving processes: the supervisor and its workers, not the embedded Redis."""
        root = psutil.Process(self.process.pid)
        children = [p for p in root.children(recursive=True) if "redis" not in p.name()]
        return [root, *children]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p) for p in self.processes())

    def rss_mb(self) -> float:
        return round(sum(int(p.memory_info().rss) for p in self.processes()) / 2**20, 1)

    def redis_counters(self) -> tuple[int, int]:
        """Redis's ``used_memory`` and ``total_commands_processed``, summed over the counted
        nodes (the meter's own ``INFO`` calls count among the commands: noise against
        thousands of operations)."""
        memory = commands = 0
        for url in self.store.counted:
            client = redis.Redis.from_url(url)
            try:
                memory += int(client.info("memory")["used_memory"])
                commands += int(client.info("stats")["total_commands_processed"])
            finally:
                client.close()
        return memory, commands

    def redis_cpu_seconds(self) -> float:
        return sum(cpu_seconds(p) for p in self.store.processes)

    def cli(self, *args: str) -> str:
        """``govconnect`` with this gateway's environment; its standard output."""
        return run_cli(self.env, self.workdir, *args).stdout


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user) + float(times.system)


@contextmanager
def gateway(folder: Path, config: Config) -> Iterator[Gateway]:
    """``govconnect init`` then ``govconnect serve --workers N`` in ``folder``."""
    folder.mkdir(parents=True)
    with _store(folder, config) as store:
        extra = {"GOVCONNECT_REDIS_URL": store.url} if store.url else {}
        if store.cluster:
            extra["GOVCONNECT_REDIS_CLUSTER"] = "true"
        # pay-create sends every payment with one API key: above its default 2,000 requests a
        # second (which two workers reach) the key would be answered 429. The limiter still
        # counts every request, so its cost stays in the figures; only its refusals go.
        extra["GOVCONNECT_PAYMENTS_RATE_LIMIT_PER_SECOND"] = str(1_000_000)
        # The access log stays on: it is part of what a production request costs.
        env = gateway_env(folder, extra)
        run_cli(env, folder, "init")
        port = free_port()
        workers = ("--workers", str(config.workers))
        log = (folder / "gateway.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [sys.executable, "-m", "gateway", "serve", *("--port", str(port)), *workers],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        settings = Settings(
            data_dir=folder / "var",
            pki_dir=folder / "pki",
            redis_url=store.url or None,
            redis_cluster=store.cluster,
        )
        try:
            wait_until_ready(base_url, 60, process)
            if not store.url:
                embedded = EmbeddedRedis(settings.redis_dir)
                pid = int((settings.redis_dir / "redis.pid").read_text().strip())
                store = RedisStore(embedded.url, False, (embedded.url,), (psutil.Process(pid),))
            yield Gateway(folder, env, base_url, settings, process, store)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@contextmanager
def _store(folder: Path, config: Config) -> Iterator[RedisStore]:
    """The store of ``config``; for the embedded one, which ``govconnect serve`` starts
    itself, a placeholder without a URL."""
    if config.store is Store.EXTERNAL:
        with external_redis(folder / "redis-external") as external:
            yield external
    elif config.store is Store.CLUSTER:
        with redis_cluster() as cluster:
            yield cluster
    else:
        yield RedisStore("", False, (), ())


@dataclass
class Reading:
    cpu: float
    redis_cpu: float
    redis_memory: int
    redis_commands: int
    own_cpu: float
    started: float


class Meter:
    """CPU, memory and time around one measured run of a workload."""

    def __init__(self, server: Gateway | psutil.Process) -> None:
        self._server = server

    def _cpu(self) -> float:
        if isinstance(self._server, Gateway):
            return self._server.cpu_seconds()
        return cpu_seconds(self._server)

    def start(self) -> Reading:
        gw = self._server if isinstance(self._server, Gateway) else None
        memory, commands = gw.redis_counters() if gw else (0, 0)
        return Reading(
            cpu=self._cpu(),
            redis_cpu=gw.redis_cpu_seconds() if gw else 0.0,
            redis_memory=memory,
            redis_commands=commands,
            own_cpu=time.process_time(),
            started=time.perf_counter(),
        )

    def finish(self, before: Reading, ops: int, *, stored_items: int | None) -> dict[str, Any]:
        """The per-operation costs since ``before``. ``stored_items`` is how many records the
        run left in Redis (None when it stores nothing)."""
        now = self.start()
        server = self._server
        rss = server.rss_mb() if isinstance(server, Gateway) else server.memory_info().rss / 2**20
        memory = now.redis_memory - before.redis_memory
        return {
            "elapsed_s": now.started - before.started,
            "server_cpu_s_per_1000": per_thousand(now.cpu - before.cpu, ops),
            "redis_cpu_s_per_1000": per_thousand(now.redis_cpu - before.redis_cpu, ops),
            # Round trips a pipeline or a script would merge show here (None: no Redis).
            "redis_commands_per_op": (
                round((now.redis_commands - before.redis_commands) / ops, 1)
                if isinstance(server, Gateway) and ops > 0
                else None
            ),
            "server_rss_mb": round(rss, 1),
            "redis_bytes_per_item": (
                per_item(memory, stored_items) if stored_items is not None else None
            ),
            "driver_cpu_s": now.own_cpu - before.own_cpu,
        }
