"""The peer for token-cc-secret and token-cc-jwt: oidc-provider 9 (Node.js), installed from
npm into a temporary folder and run by benchmarks/peer/oidc_provider_server.mjs on loopback,
with one client_secret_basic client and one private_key_jwt client."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from joserfc import jwt
from joserfc.jwk import ECKey

from benchmarks.servers import tool
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.support.servers import free_port

SERVER = Path(__file__).resolve().parent / "peer" / "oidc_provider_server.mjs"


@dataclass(frozen=True)
class Peer:
    base_url: str
    process: psutil.Process
    version: str
    client_id: str
    secret: str
    assertion_client_id: str
    key: ECKey

    def assertion(self, expires: int) -> str:
        """A single-use ES256 client assertion (RFC 7523 §3) for the private_key_jwt client,
        addressed to the token endpoint."""
        claims = {
            "iss": self.assertion_client_id,
            "sub": self.assertion_client_id,
            "aud": f"{self.base_url}/token",
            "iat": int(time.time()),
            "exp": expires,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode({"alg": "ES256", "kid": KID}, claims, self.key)


KID = "bench-assertion"


@contextmanager
def oidc_provider(folder: Path, form: dict[str, str]) -> Iterator[Peer]:
    """oidc-provider@9 in ``folder``, answering client_credentials for one
    client_secret_basic and one private_key_jwt client; waits until it issues a token for
    ``form`` to each."""
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
    key = ECKey.generate_key("P-256")
    public = {**key.as_dict(private=False), "kid": KID, "alg": "ES256", "use": "sig"}
    env.update(
        {"ASSERTION_CLIENT_ID": "bench-peer-jwt", "ASSERTION_JWKS": json.dumps({"keys": [public]})}
    )
    log = (folder / "server.log").open("wb")
    node = subprocess.Popen(  # noqa: S603 - fixed argument list
        [tool("node"), "server.mjs"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    peer = Peer(
        base_url, psutil.Process(node.pid), version, client_id, secret, "bench-peer-jwt", key
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"{base_url}/token", data=form, auth=(client_id, secret))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or node.poll() is not None:
                    raise
                time.sleep(0.2)
        signed = peer.assertion(int(time.time()) + 60)
        by_key = httpx.post(
            f"{base_url}/token",
            data={**form, "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed},
        )
        for answered in (answer, by_key):
            if answered.status_code != 200:
                raise RuntimeError(
                    f"oidc-provider answered {answered.status_code}: {answered.text}"
                )
        yield peer
    finally:
        node.terminate()
        node.wait(timeout=10)
        log.close()
