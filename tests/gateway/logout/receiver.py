"""A relying party's back-channel logout endpoint for tests: a small Starlette app under
uvicorn in a thread, on a free loopback port, that keeps every request it is sent."""

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

PATH = "/backchannel-logout"


@dataclass
class Received:
    content_type: str
    logout_token: str | None
    fields: list[str]


@dataclass
class Receiver:
    """What the endpoint was sent; ``answer`` queues the statuses of the next answers
    (200 once they run out)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.answers.extend(statuses)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until ``count`` requests arrived (the gateway delivers in the background)."""
        deadline = time.monotonic() + timeout
        while (found := self._at_least(count)) is None:
            if time.monotonic() > deadline:
                raise self._missing(count)
            time.sleep(0.05)
        return found

    async def arrival(self, count: int, within: float = 15.0) -> list[Received]:
        """:meth:`wait_for` for async tests: waits without blocking the event loop."""
        deadline = time.monotonic() + within
        while (found := self._at_least(count)) is None:
            if time.monotonic() > deadline:
                raise self._missing(count)
            await asyncio.sleep(0.05)
        return found

    def _at_least(self, count: int) -> list[Received] | None:
        with self._lock:
            return list(self.received) if len(self.received) >= count else None

    def _missing(self, count: int) -> AssertionError:
        return AssertionError(f"expected {count} back-channel logout(s), got {len(self.received)}")

    async def handle(self, request: Request) -> Response:
        form = await request.form()
        token = form.get("logout_token")
        with self._lock:
            self.received.append(
                Received(
                    request.headers.get("content-type", ""),
                    token if isinstance(token, str) else None,
                    sorted(form.keys()),
                )
            )
            status = self.answers.pop(0) if self.answers else 200
        # OIDC Back-Channel Logout 1.0 §2.8: the RP answers with Cache-Control: no-store.
        return Response(status_code=status, headers={"Cache-Control": "no-store"})


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
            raise TimeoutError("the back-channel receiver did not start")
        time.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
