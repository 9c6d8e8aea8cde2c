"""Fixtures of the passkey tests: the service on the real store, and a live gateway whose
issuer is ``http://localhost:<port>`` (a WebAuthn RP ID cannot be an IP address, and
``http://localhost`` is a secure context in Chromium)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from gateway.app import create_app
from gateway.core.settings import Settings
from gateway.passkeys.services import PasskeyService, build_passkeys
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod, Session
from tests.conftest import TEST_ACTOR
from tests.gateway.passkeys.authenticator import SoftAuthenticator
from tests.support.accounts import PASSWORD, new_email
from tests.support.servers import free_port, wait_until_ready

SERVICE_ORIGIN = "https://gateway.example"
SERVICE_RP_ID = "gateway.example"


@pytest.fixture
def passkeys(runtime: Runtime, settings: Settings) -> PasskeyService:
    """The service as the runtime builds it, for an https issuer on a domain name."""
    issued = settings.model_copy(update={"issuer": SERVICE_ORIGIN})
    return build_passkeys(issued, runtime.redis, runtime.clock, runtime.evidence, runtime.accounts)


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(SERVICE_ORIGIN, SERVICE_RP_ID)


@dataclass(frozen=True)
class Person:
    account_id: str
    session: Session  # signed in with a password and an authenticator app code


MakePerson = Callable[[], Awaitable[Person]]


@pytest.fixture
def make_person(runtime: Runtime) -> MakePerson:
    """A verified account and a session signed in with a password and a second factor."""

    async def make() -> Person:
        account = await runtime.accounts.create(
            new_email(), PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
        )
        started = await runtime.sessions.start("192.0.2.1", "pytest")
        session = await runtime.sessions.sign_in(
            started, account.id, [AuthMethod.PASSWORD, AuthMethod.TOTP]
        )
        return Person(account.id, session)

    return make


@pytest.fixture(scope="session")
def passkey_url(web_settings: Settings) -> Iterator[str]:
    """A live gateway (as ``web_url``: behind a trusted loopback proxy, quick throttle) with
    its issuer on ``http://localhost:<port>``."""
    port = free_port()
    base_url = f"http://localhost:{port}"
    app = create_app(web_settings.model_copy(update={"issuer": base_url}))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until_ready(f"http://127.0.0.1:{port}")
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
