"""The push sender keeps its connection to a recipient from one push to the next when the
recipient answers with a short body (as the example back office does, {"stored": id}), and
gives the connection up, unread, when the answer is longer than it will read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from gateway.delivery.webhooks import ANSWER_READ_LIMIT, WebhookSender, new_secret


@dataclass
class CountingRecipient:
    """An HTTP/1.1 endpoint that answers every request with ``answer`` and counts the
    connections it was opened on."""

    answer: bytes
    connections: int = 0
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(self.answer)}\r\n\r\n".encode()
                    + self.answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def short_answer() -> AsyncIterator[CountingRecipient]:
    async with _serving(CountingRecipient(b'{"stored": "sbm_example"}')) as recipient:
        yield recipient


@pytest.fixture
async def long_answer() -> AsyncIterator[CountingRecipient]:
    async with _serving(CountingRecipient(b"x" * (ANSWER_READ_LIMIT * 4))) as recipient:
        yield recipient


@asynccontextmanager
async def _serving(recipient: CountingRecipient) -> AsyncIterator[CountingRecipient]:
    server = await asyncio.start_server(recipient.serve, "127.0.0.1", 0)
    recipient.port = server.sockets[0].getsockname()[1]
    try:
        yield recipient
    finally:
        server.close()


async def _push_five(recipient: CountingRecipient) -> list[int]:
    sender = WebhookSender()
    try:
        url = f"http://127.0.0.1:{recipient.port}/submissions"
        return [
            await sender.post(url, [new_secret()], f"sbm_{n}", 1_800_000_000, b"{}")
            for n in range(5)
        ]
    finally:
        await sender.aclose()


async def test_five_pushes_answered_briefly_share_one_connection(
    short_answer: CountingRecipient,
) -> None:
    assert await _push_five(short_answer) == [200] * 5
    assert short_answer.connections == 1


async def test_an_answer_past_the_read_limit_is_not_read_and_its_connection_is_dropped(
    long_answer: CountingRecipient,
) -> None:
    assert await _push_five(long_answer) == [200] * 5
    assert long_answer.connections == 5
