"""Fixtures of the example tests: a live gateway whose issuer is its own address (the example
discovers its endpoints from it), and the Demo Borough Council website beside it, registered
as a council registers a client, on free loopback ports."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from examples.council_website import keys
from examples.council_website.app import create_app as create_site
from examples.council_website.config import Config
from gateway.app import create_app
from gateway.core.settings import Settings
from tests.support.servers import free_port, wait_until_ready


@contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[str]:
    """``app`` under uvicorn in a thread on ``port`` until the block ends; fails fast if
    its start-up fails."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def issuer_gateway(settings: Settings) -> Iterator[str]:
    """A live gateway whose issuer is the address it listens on (OIDC Discovery §4.3)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(create_app(settings.model_copy(update={"issuer": url})), port):
        wait_until_ready(url)
        yield url


@dataclass(frozen=True)
class CouncilSite:
    url: str
    client_id: str
    config: Config


@contextmanager
def council_site(
    gateway: str, admin_headers: dict[str, str], workdir: Path, *, register: bool = True
) -> Iterator[CouncilSite]:
    """The example website on a free port. With ``register``, its client is registered
    first through the admin API (private_key_jwt with the site's public key, third party so
    the consent page shows); otherwise the site finds its client in a demo credentials
    file, as beside ``make run``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = Config(
        govconnect_url=gateway,
        base_url=base,
        key_file=workdir / "council-key.json",
        demo_credentials=workdir / "demo-credentials.json",
    )
    with httpx.Client(base_url=gateway, headers=admin_headers, timeout=10) as admin:
        organisation = admin.post(
            "/admin/v1/organisations",
            json={
                "name": "Demo Borough Council",
                "kind": "council",
                "contact_email": "digital@demo-borough.example",
            },
        )
        assert organisation.status_code == 201, organisation.text
        registration = {
            "client_name": "Demo Borough Council website",
            "organisation_id": organisation.json()["id"],
            "redirect_uris": [config.redirect_uri],
            "post_logout_redirect_uris": [config.post_logout_redirect_uri],
            "backchannel_logout_uri": config.backchannel_logout_uri,
            "scope": "openid email profile",
        }
        if register:
            jwks = keys.public_jwks(keys.load_or_create(config.key_file))
            registration |= {"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
        else:
            registration["token_endpoint_auth_method"] = "client_secret_basic"
        client = admin.post("/admin/v1/clients", json=registration)
        assert client.status_code == 201, client.text
    client_id = client.json()["client_id"]
    if register:
        config = replace(config, client_id=client_id)
    else:
        token = admin_headers["Authorization"].removeprefix("Bearer ")
        demo = {"website_client_id": client_id, "admin_token": token}
        config.demo_credentials.write_text(json.dumps(demo), encoding="utf-8")
    with serving(create_site(config), port) as url:
        yield CouncilSite(url, client_id, config)
