"""A recipient's webhook endpoint for push tests: a small Starlette app under uvicorn in a
thread, on a free loopback port, that keeps each request's headers and exact body bytes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import free_port

PATH = "/submissions"


@dataclass(frozen=True)
class Pushed:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the endpoint was sent; ``status`` is what it answers (200 by default)."""

    url: str
    received: list[Pushed] = field(default_factory=list)
    status: int = 200
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def arrival(self, count: int, within: float = 15.0) -> list[Pushed]:
        """Wait (without blocking the event loop) until ``count`` pushes arrived."""
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} push(es), got {len(self.received)}")
            await asyncio.sleep(0.05)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Pushed(dict(request.headers), body))
            status = self.status
        return Response(status_code=status)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}{PATH}")
    app = Starlette(routes=[Route(PATH, receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the webhook receiver did not start")
        time.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
