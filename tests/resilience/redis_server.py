"""A real external ``redis-server`` (Debian's, 7.x) for the hardening and fault tests: started
with the configuration a test needs, SIGKILLed and restarted on the same data folder.

It is not the embedded server: these tests need TLS and ACLs (which the embedded build lacks)
and a server the test can kill without killing the gateway.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.servers import free_port

# The gateway's least-privilege ACL user (docs/architecture.md, "Hardening an external
# Redis"): only its own keys (every key starts with the "{gc:" hash tag), only its own pub/sub
# channels (the same prefix), and only the commands it sends, directly or from its Lua
# scripts. Never KEYS, SCAN, FLUSHALL, FLUSHDB, CONFIG, DEBUG, SHUTDOWN, MODULE, ACL, MONITOR,
# REPLICAOF or MIGRATE.
GATEWAY_COMMANDS = (
    "+ping +select "
    "+get +set +getdel +getex +del +unlink +exists +expire +expireat +pexpire +persist +ttl +pttl "
    "+incr +incrby +decr +mget +mset "
    "+hget +hset +hsetnx +hdel +hgetall +hmget +hexists +hincrby +hlen +hvals +hkeys +hscan "
    "+sadd +srem +smembers +sismember +scard +smismember "
    "+zadd +zrem +zrange +zrangebyscore +zrevrange +zrevrangebyscore +zcard +zscore +zscan "
    "+zremrangebyscore +zcount "
    "+lpush +rpush +rpushx +lrange +ltrim +llen +lpop +lrem "
    "+xadd +xrange +xrevrange +xread +xreadgroup +xack +xclaim +xautoclaim +xdel +xlen +xtrim "
    "+xpending +xgroup|create +xgroup|createconsumer +xgroup|delconsumer +xinfo|stream "
    "+xinfo|groups +xinfo|consumers "
    "+multi +exec +discard +watch +unwatch "
    "+eval +evalsha +script|load +script|exists "
    "+publish +subscribe +unsubscribe"
)
GATEWAY_ACL = f"on ~{{gc:* resetchannels &{{gc:* -@all {GATEWAY_COMMANDS}"


def redis_server_binary() -> str:
    """Debian's redis-server (``make redis-server`` installs it); skipped where it is missing
    outside CI, a failure in CI."""
    found = shutil.which("redis-server")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: `make test` installs it")
        pytest.skip("redis-server is not installed: run `make redis-server`")
    return found


@dataclass
class RedisServer:
    """One redis-server process on a loopback port, its data in ``directory``; ``$PORT`` in a
    configuration line is replaced with the port."""

    directory: Path
    config: list[str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"dir {self.directory}",
                    f"logfile {self.directory / 'redis.log'}",
                    "save ''",
                    *(line.replace("$PORT", str(self.port)) for line in self.config),
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        conf.chmod(0o600)
        self.process = subprocess.Popen(
            [redis_server_binary(), str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited: {log}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"redis-server on {self.port} did not listen within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown save; only what AOF put on disk survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
