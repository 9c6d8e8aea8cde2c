"""The gateway app with its edge middleware changed, served for real in a thread."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway.app import create_app
from gateway.core.http import DirectEndpoint, EdgeMiddleware
from gateway.core.settings import Settings
from tests.support.servers import free_port, wait_until_ready


def with_direct(app: FastAPI, direct: Mapping[tuple[str, str], DirectEndpoint]) -> FastAPI:
    """``app`` (not yet started) with ``direct`` as its edge middleware's direct endpoints."""

    def replaced(entry: Middleware) -> Middleware:
        factory: object = entry.cls
        if factory is not EdgeMiddleware:
            return entry
        options: dict[str, Any] = {**entry.kwargs, "direct": direct}
        return Middleware(EdgeMiddleware, **options)

    app.user_middleware = [replaced(entry) for entry in app.user_middleware]
    return app


@contextmanager
def serving(app: FastAPI, **config: Any) -> Iterator[str]:
    """``app`` under uvicorn (``config`` adds uvicorn options) in a background thread, on a
    free port; yields its base URL once ``/readyz`` answers."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            **config,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def direct_and_routed(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Clients of two real servers of the app built from ``settings``: the first with its
    edge middleware's direct endpoints, the second without them (FastAPI routes every
    request), so a test can send both the same request and compare the answers."""
    with (
        serving(create_app(settings)) as direct,
        serving(with_direct(create_app(settings), {})) as routed,
    ):
        async with (
            httpx.AsyncClient(base_url=direct) as to_direct,
            httpx.AsyncClient(base_url=routed) as to_routed,
        ):
            yield to_direct, to_routed


def comparable(
    response: httpx.Response,
    *,
    varying_headers: frozenset[str] = frozenset({"date", "x-request-id"}),
    varying_members: frozenset[str] = frozenset({"request_id"}),
) -> dict[str, Any]:
    """Everything about a response that must not depend on which path (direct or routed)
    served it: the status, the headers but ``varying_headers``, and the body (a JSON
    document without ``varying_members``; a problem's ``request_id`` is checked against the
    response's header first)."""
    headers = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in varying_headers
    )
    body: Any = response.content
    if response.headers.get("content-type", "").endswith("json"):
        document = response.json()
        if "request_id" in document:
            assert document["request_id"] == response.headers["x-request-id"]
        body = {k: v for k, v in document.items() if k not in varying_members}
    return {"status": response.status_code, "headers": headers, "body": body}


def direct_endpoints(settings: Settings) -> dict[tuple[str, str], DirectEndpoint]:
    """The direct endpoints of the edge middleware of the app as built."""
    middleware = create_app(settings).user_middleware
    factories: list[object] = [entry.cls for entry in middleware]
    [edge] = [
        m for m, factory in zip(middleware, factories, strict=True) if factory is EdgeMiddleware
    ]
    direct = edge.kwargs["direct"]
    assert isinstance(direct, dict)
    return direct
