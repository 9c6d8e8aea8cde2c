"""The peer for token-cc-secret: oidc-provider 9 (Node.js), installed from npm into a
temporary folder and run by benchmarks/peer/oidc_provider_server.mjs on loopback."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from benchmarks.servers import tool
from tests.support.servers import free_port

SERVER = Path(__file__).resolve().parent / "peer" / "oidc_provider_server.mjs"


@dataclass(frozen=True)
class Peer:
    base_url: str
    process: psutil.Process
    version: str
    client_id: str
    secret: str


@contextmanager
def oidc_provider(folder: Path, form: dict[str, str]) -> Iterator[Peer]:
    """oidc-provider@9 in ``folder``, answering client_credentials for one
    client_secret_basic client; waits until it issues a token for ``form``."""
    folder.mkdir(parents=True)
    (folder / "package.json").write_text('{"private": true, "type": "module"}\n')
    npm = [tool("npm"), "install", "--no-audit", "--no-fund", "--silent", "oidc-provider@9"]
    subprocess.run(npm, cwd=folder, check=True)  # noqa: S603 - fixed argument list
    package = folder / "node_modules" / "oidc-provider" / "package.json"
    version = str(json.loads(package.read_text())["version"])
    shutil.copy(SERVER, folder / "server.mjs")
    port = free_port()
    client_id, secret = "bench-peer", base64.urlsafe_b64encode(os.urandom(24)).decode()
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port)}
    env.update({"CLIENT_ID": client_id, "CLIENT_SECRET": secret})
    log = (folder / "server.log").open("wb")
    node = subprocess.Popen(  # noqa: S603 - fixed argument list
        [tool("node"), "server.mjs"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"{base_url}/token", data=form, auth=(client_id, secret))
                if answer.status_code != 200:
                    raise RuntimeError(
                        f"oidc-provider answered {answer.status_code}: {answer.text}"
                    )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or node.poll() is not None:
                    raise
                time.sleep(0.2)
        yield Peer(base_url, psutil.Process(node.pid), version, client_id, secret)
    finally:
        node.terminate()
        node.wait(timeout=10)
        log.close()
