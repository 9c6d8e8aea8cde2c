"""``govconnect serve``'s HTTP protocol sends each response in one write, and otherwise
serves as uvicorn's own: kept-alive connections, ``100 Continue``, closing and aborting."""

from __future__ import annotations

import asyncio
import gc
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.cli.serve import GRACEFUL_SHUTDOWN_SECONDS, OneWriteHttpProtocol, OneWriteTransport
from gateway.core.settings import Settings
from tests.gateway.core.support import serving
from tests.support.accounts import PASSWORD, sign_in
from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli
from tests.support.web import Browser


class _Socket(asyncio.Transport):
    """Stands in for the connection's socket: records each write that reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


async def test_the_head_and_body_written_in_one_turn_leave_in_one_write() -> None:
    socket = _Socket()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert socket.writes == []  # held until the end of this turn of the loop
    await asyncio.sleep(0)
    assert socket.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert socket.writes[1:] == [b"next"]


async def test_closing_sends_what_is_held_before_the_connection_closes() -> None:
    socket = _Socket()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    transport.close()
    assert socket.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and socket.closed
    await asyncio.sleep(0)
    assert len(socket.writes) == 1


async def test_an_aborted_connection_is_sent_nothing_more() -> None:
    socket = _Socket()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.abort()
    await asyncio.sleep(0)
    assert socket.writes == [] and socket.aborted


@pytest.fixture(scope="module")
def one_write_url(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings), http=OneWriteHttpProtocol) as base_url:
        yield base_url


async def test_the_gateway_serves_kept_alive_connections_over_it(one_write_url: str) -> None:
    async with httpx.AsyncClient(base_url=one_write_url) as client:
        for _ in range(3):
            health = await client.get("/healthz")
            refused = await client.post("/token", data={"grant_type": "client_credentials"})
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
            assert refused.headers["x-content-type-options"] == "nosniff"


async def test_100_continue_is_sent_before_the_client_sends_its_body(one_write_url: str) -> None:
    """A held write must not wait for the body the client holds back (RFC 9110 §10.1.1)."""
    host, port = one_write_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b"grant_type=client_credentials"
    writer.write(
        b"POST /token HTTP/1.1\r\nHost: gateway\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    await writer.drain()
    final = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout=10)
    assert final.startswith(b"HTTP/1.1 401 ")
    writer.close()
    await writer.wait_closed()


def test_a_served_app_freezes_what_start_up_built_and_a_test_app_does_not(
    settings: Settings,
) -> None:
    """``serve`` runs the app with ``freeze``: after start-up the collector no longer scans
    the objects start-up made (short full collections); an app built without it freezes
    nothing, so a process that builds many apps (the tests) keeps collecting them."""
    gc.unfreeze()
    try:
        with serving(create_app(settings)):
            assert gc.get_freeze_count() == 0
        with serving(create_app(settings, freeze=True)):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_a_stop_ends_open_live_update_streams_instead_of_waiting_for_them(
    tmp_path: Path,
) -> None:
    """An open inbox page holds a server-sent event stream for minutes; SIGTERM must not
    wait for it: serve stops within its graceful-shutdown limit."""
    env = gateway_env(tmp_path)
    run_cli(env, tmp_path, "init")
    gateway = GatewayProcess(env, tmp_path, free_port())
    gateway.start()
    email = f"stop-{secrets.token_hex(5)}@example.org"
    run_cli(
        env, tmp_path, "accounts", "create", "--email", email, "--password", PASSWORD, "--verified"
    )
    browser = Browser(gateway.base_url)
    try:
        assert sign_in(browser, email) == "/account"
        with browser.client.stream("GET", "/messages/events") as stream:
            assert stream.status_code == 200
            assert gateway.process is not None
            gateway.process.terminate()
            # Ends, not hangs for the stream's five-minute lifetime (TimeoutExpired fails).
            gateway.process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + 20)
    finally:
        browser.close()
        gateway.stop()
