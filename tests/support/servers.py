"""Real servers for tests: the gateway in a thread or in its own process, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from gateway.app import create_app
from gateway.core.clock import Clock
from gateway.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(
    base_url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"gateway exited with status {process.returncode} before it was ready"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"gateway at {base_url} not ready after {timeout}s: {last}")


@contextmanager
def threaded_gateway(settings: Settings, clock: Clock | None = None) -> Iterator[str]:
    """The real app under uvicorn in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, clock),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class GatewayProcess:
    """``govconnect serve`` as a child process, so tests can SIGKILL it."""

    env: dict[str, str]
    cwd: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = (self.cwd / f"gateway-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_ready(self.base_url, timeout, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was acknowledged must survive."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``govconnect`` with the same environment and working folder."""
        return run_cli(self.env, self.cwd, *args, check=check)


def gateway_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a child gateway whose data and keys live in ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCONNECT_")}
    env.update(
        {
            "GOVCONNECT_DATA_DIR": str(workdir / "var"),
            "GOVCONNECT_PKI_DIR": str(workdir / "pki"),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra or {})
    # In the cluster run (make test-cluster) a child handed the suite's store must talk to it
    # as a cluster, as the suite itself does.
    suite_store = os.environ.get("GOVCONNECT_TEST_REDIS_URL")
    if os.environ.get("GOVCONNECT_TEST_REDIS_CLUSTER") == "1" and (
        suite_store is not None and env.get("GOVCONNECT_REDIS_URL") == suite_store
    ):
        env.setdefault("GOVCONNECT_REDIS_CLUSTER", "1")
    return env


def run_cli(
    env: Mapping[str, str], cwd: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"govconnect {' '.join(args)} exited {result.returncode}: {result.stderr}"
        )
    return result
