"""The processes a benchmark run starts and measures: ``govconnect serve`` (one or more
workers, embedded Redis or an external ``redis-server`` with AOF ``always``), and the meter
that reads their CPU time, resident memory and Redis's memory around a measured run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks.stats import per_item, per_thousand
from gateway.core.redis import EmbeddedRedis
from gateway.core.settings import Settings
from tests.support.servers import free_port, gateway_env, run_cli, wait_until_ready


def tool(name: str) -> str:
    """The full path of a program on PATH, or exit saying where it comes from."""
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is not on PATH (`make bench` installs wrk; node and npm: Node.js)")
    return path


@dataclass(frozen=True)
class Config:
    """One way of running the gateway: its worker count and its Redis."""

    workers: int
    external_redis: bool

    @property
    def label(self) -> str:
        store = "external redis-server" if self.external_redis else "embedded Redis"
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}, {store}"


@contextmanager
def external_redis(folder: Path) -> Iterator[tuple[str, psutil.Process]]:
    """A ``redis-server`` of the machine's own on a loopback port, AOF with fsync on every
    write (as the embedded one runs), no RDB snapshots; its URL and process."""
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
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass
class Gateway:
    """A running ``govconnect serve`` and the Redis it uses."""

    workdir: Path
    env: dict[str, str]
    base_url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    redis_url: str
    redis_process: psutil.Process | None

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
        """Redis's ``used_memory`` and ``total_commands_processed`` (the meter's own two
        ``INFO`` calls count among the commands: noise against thousands of operations)."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            return (
                int(client.info("memory")["used_memory"]),
                int(client.info("stats")["total_commands_processed"]),
            )
        finally:
            client.close()

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
    with _store(folder, config) as (redis_url, redis_process):
        extra = {"GOVCONNECT_REDIS_URL": redis_url} if config.external_redis else {}
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
            redis_url=redis_url if config.external_redis else None,
        )
        try:
            wait_until_ready(base_url, 60, process)
            if not config.external_redis:
                embedded = EmbeddedRedis(settings.redis_dir)
                redis_url = embedded.url
                pid = int((settings.redis_dir / "redis.pid").read_text().strip())
                redis_process = psutil.Process(pid)
            yield Gateway(folder, env, base_url, settings, process, redis_url, redis_process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@contextmanager
def _store(folder: Path, config: Config) -> Iterator[tuple[str, psutil.Process | None]]:
    if config.external_redis:
        with external_redis(folder / "redis-external") as (url, process):
            yield url, process
    else:
        yield "", None


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
        redis_process = self._server.redis_process if isinstance(self._server, Gateway) else None
        memory, commands = (
            self._server.redis_counters() if isinstance(self._server, Gateway) else (0, 0)
        )
        return Reading(
            cpu=self._cpu(),
            redis_cpu=cpu_seconds(redis_process) if redis_process else 0.0,
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
