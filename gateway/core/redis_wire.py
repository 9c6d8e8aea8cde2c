"""Connections to Redis that spend less of a request's CPU than redis-py's asyncio defaults.

Two costs of redis-py's asyncio connections showed in every profile of the busy APIs
(docs/performance.md):

- it packs commands in Python, where its synchronous client packs them with hiredis; these
  connections use that same packer (redis-py's ``HiredisRespSerializer``, with its checks);
- it sends every command under ``asyncio.wait_for``, a task and a timer each, although a
  write to a socket with room in its buffer returns at once; here a write is put under the
  timeout only when bytes are left waiting for room in the transport (then redis-py's own
  path drains them under ``socket_timeout``). A write that fails drops the connection, as
  redis-py's does, so that the pool never hands it out again.

Reads keep redis-py's timeout: a Redis that stops answering still fails within
``GOVCONNECT_REDIS_TIMEOUT_SECONDS``. Over TLS uvloop counts only the bytes its TLS layer
still holds, so a write stalled below it is caught by that read timeout instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError

_PACKER = HiredisRespSerializer()


class _LeanWire(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = _PACKER.pack(*args)
        return packed

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:  # redis-py's own path connects first
            await super().send_packed_command(command, check_health)
            return
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        writer = self._writer
        if writer is None or writer.transport.get_write_buffer_size():
            # Reconnecting, or earlier bytes still waiting for room: redis-py's own path.
            await super().send_packed_command(command, check_health=False)
            return
        if isinstance(command, str):
            command = command.encode()
        try:
            writer.writelines([command] if isinstance(command, bytes) else command)
        except (OSError, RuntimeError) as exc:
            # uvloop raises RuntimeError for a transport a reset has closed: as a connection
            # error it is retried on a new connection.
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            await self.disconnect(nowait=True)  # never reused half-written
            raise
        if writer.transport.get_write_buffer_size():
            # The socket did not take it all: wait for room under the timeout.
            await super().send_packed_command([], check_health=False)


class LeanConnection(_LeanWire, Connection):
    """TCP."""


class LeanSSLConnection(_LeanWire, SSLConnection):
    """TLS (``rediss://``)."""


class LeanUnixConnection(_LeanWire, UnixDomainSocketConnection):
    """A local socket (``unix://``, the embedded Redis)."""


_LEAN: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: LeanConnection,
    SSLConnection: LeanSSLConnection,
    UnixDomainSocketConnection: LeanUnixConnection,
}


def lean(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """The lean counterpart of one of redis-py's connection classes (another is kept)."""
    return _LEAN.get(connection_class, connection_class)
