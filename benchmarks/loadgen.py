"""The load generators: wrk for closed-loop workloads, and for the fixed-rate delivery
workload a lean asyncio HTTP/1.1 client with a webhook receiver in the same event loop.

wrk runs in its own process and its CPU comes from ``getrusage``. The asyncio client sends
pre-built request bytes over kept-alive connections and reads only the status line and
``Content-Length``, so a request costs it tens of microseconds rather than the half
millisecond an httpx call does; its own CPU is reported too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.servers import tool

POST_LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"


@dataclass(frozen=True)
class WrkJob:
    """What wrk sends: ``mode`` as described in benchmarks/wrk/post.lua."""

    path: str
    content_type: str
    bodies: Path
    authorization: str
    mode: str


def run_wrk(
    base_url: str, job: WrkJob, seconds: float, connections: int, threads: int, run_id: str
) -> dict[str, Any]:
    """One wrk run: its JSON summary plus ``generator_cpu_s``, the CPU wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "WRK_ROTATE": "1" if job.mode == "rotate" else "0"}
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [
            tool("wrk"),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(POST_LUA),
            base_url,
            "--",
            job.path,
            job.content_type,
            str(job.bodies),
            str(threads),
            job.authorization,
            job.mode,
            run_id,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {result.stdout}\n{result.stderr}")
    summary: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    summary["generator_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    return summary


# --- fixed rate, with a receiver -------------------------------------------------------


def http_request(method: str, url: str, headers: dict[str, str], body: bytes) -> bytes:
    """The bytes of one HTTP/1.1 request with a keep-alive connection."""
    parts = urlsplit(url)
    lines = [f"{method} {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of one response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split(" ", 2)[1]), headers, body


@dataclass
class Receiver:
    """A webhook endpoint on loopback that answers 204 and notes when each id arrived."""

    arrivals: dict[str, float] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = field(default_factory=dict)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/submissions"

    async def wait_for(self, ids: set[str], within: float) -> None:
        """Until every id in ``ids`` has arrived, or ``within`` seconds have passed."""
        deadline = time.perf_counter() + within
        while not ids <= self.arrivals.keys():
            self._arrived.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    async def stop(self) -> None:
        """Stop listening and end the kept-alive connections (the gateway's pool holds
        them open), letting each handler finish rather than be cancelled at shutdown."""
        if self._server is not None:
            self._server.close()
        for writer in self._connections:
            writer.close()
        await asyncio.gather(*self._connections.values(), return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, webhook_id = 0, ""
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "webhook-id":
                        webhook_id = value.strip()
                await reader.readexactly(length)
                self.arrivals.setdefault(webhook_id, time.perf_counter())
                self._arrived.set()
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
        finally:
            self._connections.pop(writer, None)


async def fixed_rate(
    base_url: str,
    requests: list[bytes],
    rate: float,
    connections: int,
) -> tuple[list[tuple[float, float, int, bytes]], float]:
    """Send ``requests`` at ``rate`` per second, open loop (a late answer never delays the
    next send), over up to ``connections`` kept-alive connections.

    Returns (scheduled send time, answer time, status, body) per request and the seconds
    taken. A request waits for a free connection when all are busy; its latency counts from
    its scheduled time, so a server that falls behind shows it (no coordinated omission). A
    server far behind is not waited for without end: a request still unsent twice the
    schedule's length after the start is given up, with status 0.
    """
    # The client's own garbage collections (its results grow by thousands of tuples a
    # second) stalled it for 100 ms and more mid-run, which read as the server's latency.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _fixed_rate(base_url, requests, rate, connections)
    finally:
        if collecting:
            gc.enable()


async def _fixed_rate(
    base_url: str, requests: list[bytes], rate: float, connections: int
) -> tuple[list[tuple[float, float, int, bytes]], float]:
    parts = urlsplit(base_url)
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(parts.hostname, parts.port))
    results: list[tuple[float, float, int, bytes]] = []
    started = time.perf_counter()
    give_up = started + 2 * len(requests) / rate + 2

    async def one(scheduled: float, data: bytes) -> None:
        reader, writer = await pool.get()
        try:
            if time.perf_counter() > give_up:
                results.append((scheduled, time.perf_counter(), 0, b""))
                return
            writer.write(data)
            status, _, body = await read_response(reader)
            results.append((scheduled, time.perf_counter(), status, body))
        finally:
            pool.put_nowait((reader, writer))

    tasks = []
    for n, data in enumerate(requests):
        scheduled = started + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, data)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return results, elapsed
