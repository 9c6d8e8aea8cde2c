"""``govconnect serve``: run the gateway with uvicorn, owning the embedded store if any."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterable
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.app import create_app
from gateway.cli.common import fail, settings
from gateway.core.errors import ConfigurationError
from gateway.core.observability import configure_logging
from gateway.core.redis import EmbeddedRedis

GRACEFUL_SHUTDOWN_SECONDS = 10


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
) -> None:
    """Serve the gateway. With no GOVCONNECT_REDIS_URL, an embedded Redis runs beside it."""
    config = settings()
    try:
        config.check_production()
    except ConfigurationError as exc:
        fail(exc.detail)
    configure_logging(config.log_level)
    worker_count = workers or config.workers
    embedded = None if config.redis_url else EmbeddedRedis(config.redis_dir)
    stop = threading.Event()
    if embedded is not None:
        try:
            embedded.ensure_running()
        except ConfigurationError as exc:
            fail(exc.detail)
        embedded.watch(stop)
    if worker_count > 1:
        # prometheus_client merges the workers' figures from files in this folder.
        metrics_dir = config.data_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    try:
        uvicorn.run(
            "gateway.cli.serve:served_app",
            factory=True,
            host=host or config.host,
            port=port or config.port,
            workers=worker_count,
            log_config=None,
            # Our access log (gateway.core.observability) has the request id; uvicorn's
            # would repeat it without.
            access_log=False,
            loop="uvloop",
            http=OneWriteHttpProtocol,
            server_header=False,
            # A stop waits this long for requests in flight, then cancels what is left: the
            # live-update streams of open inbox pages would otherwise hold it for minutes.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # The app itself believes X-Forwarded-For only from GOVCONNECT_TRUSTED_PROXIES;
            # uvicorn's own handling (which trusts 127.0.0.1 by default) stays off.
            proxy_headers=False,
        )
    finally:
        stop.set()
        if embedded is not None:
            embedded.stop()


def served_app() -> FastAPI:
    """The app each ``serve`` worker runs: :func:`gateway.app.create_app`, frozen after
    start-up."""
    return create_app(freeze=True)


class OneWriteTransport(asyncio.Transport):
    """A transport that sends what was written during one turn of the event loop in one
    write.

    uvicorn writes a response's status line and headers, then its body, each straight to the
    socket: two system calls and two TCP segments for every small JSON answer, and on a busy
    machine two wake-ups of the client. Holding the bytes until the end of the turn
    (``call_soon``) joins them; nothing waits longer than the current turn, so a
    ``100 Continue`` or a streamed chunk still leaves before the application next waits.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response in one system call."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))
