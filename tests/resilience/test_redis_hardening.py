"""The gateway on a hardened external Redis: TLS only (``rediss://``, the server certificate
issued by the development PKI and checked against its root CA) and a least-privilege ACL user
(:data:`GATEWAY_ACL`), with the default user switched off.

The smoke part of the suite runs on it (a citizen creates an account and signs in, a client
gets a token, a council submits a form), and the attacks that hardening stops are refused: the
gateway's user cannot list or wipe keys or change the server, touch a key outside the gateway's
namespace, nobody gets in without a password or over plain TCP, and a client that does not
trust the PKI's root refuses the server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis
import redis.asyncio

from certs.authority import ROOT_CERT, TLS_CERT, TLS_KEY, CertificateAuthority
from gateway.core.errors import ConfigurationError
from gateway.core.settings import Settings
from gateway.runtime import Runtime, open_runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.delivery.support import exchange, submit
from tests.resilience.redis_server import GATEWAY_ACL, GATEWAY_COMMANDS, RedisServer
from tests.support.accounts import create_account, sign_in
from tests.support.servers import ROOT, threaded_gateway
from tests.support.web import Browser

PASSWORD = "hardened-" + uuid.uuid4().hex
_WITHOUT_CHANNELS = GATEWAY_COMMANDS.replace(" +publish +subscribe +unsubscribe", "")
_PUBLISH_ONLY = GATEWAY_COMMANDS.replace(" +subscribe +unsubscribe", "")


@dataclass(frozen=True)
class Hardened:
    server: RedisServer
    url: str
    ca: Path


@pytest.fixture(scope="module")
def hardened(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hardened]:
    directory = tmp_path_factory.mktemp("hardened-redis")
    server = RedisServer(
        directory,
        [
            "port 0",
            "tls-port $PORT",
            f"tls-cert-file {pki_dir / TLS_CERT}",
            f"tls-key-file {pki_dir / TLS_KEY}",
            f"tls-ca-cert-file {pki_dir / ROOT_CERT}",
            "tls-auth-clients no",
            "appendonly yes",
            "appendfsync always",
            "user default off",
            f"user govconnect {GATEWAY_ACL} >{PASSWORD}",
            # The rule this page showed before clients' changes were announced on a channel.
            f"user before-channels on ~{{gc:* resetchannels -@all {_WITHOUT_CHANNELS} >{PASSWORD}",
            f"user publish-only on ~{{gc:* resetchannels &{{gc:* -@all {_PUBLISH_ONLY} >{PASSWORD}",
        ],
    )
    server.start()
    ca = pki_dir / ROOT_CERT
    url = (
        f"rediss://govconnect:{quote(PASSWORD)}@127.0.0.1:{server.port}/0"
        f"?ssl_ca_certs={quote(str(ca))}"
    )
    try:
        yield Hardened(server, url, ca)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hardened_settings(settings: Settings, hardened: Hardened) -> Settings:
    return settings.model_copy(update={"redis_url": hardened.url, "redis_cluster": False})


@pytest.fixture(scope="module")
async def hardened_runtime(hardened_settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(hardened_settings) as built:
        yield built


@pytest.fixture(scope="module")
def hardened_url(hardened_settings: Settings) -> Iterator[str]:
    with threaded_gateway(hardened_settings) as base_url:
        yield base_url


async def test_a_user_that_may_not_announce_client_changes_is_refused_at_start(
    hardened: Hardened, hardened_settings: Settings
) -> None:
    """An ACL from before client changes were announced on a channel: the gateway says what
    to add, instead of starting and then failing every change to a client."""
    assert "+publish" not in _WITHOUT_CHANNELS
    assert "+publish" in _PUBLISH_ONLY and "+subscribe" not in _PUBLISH_ONLY
    for user in ("before-channels", "publish-only"):
        url = hardened.url.replace("//govconnect:", f"//{user}:", 1)
        older = hardened_settings.model_copy(update={"redis_url": url})
        with pytest.raises(ConfigurationError, match=r"\+publish \+subscribe \+unsubscribe"):
            async with open_runtime(older):
                pass


async def test_readyz_reports_the_tls_store(hardened_url: str) -> None:
    """The gateway is ready on the hardened store; CONFIG being refused to its user only makes
    the AOF policy ``unknown``, never the gateway unready."""
    async with httpx.AsyncClient(base_url=hardened_url) as http:
        body = (await http.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["store"]["url"].startswith("rediss://")
    assert PASSWORD not in body["store"]["url"]
    assert body["store"]["aof"] == "unknown"


def test_a_citizen_creates_an_account_and_signs_in(hardened_url: str) -> None:
    browser = Browser(hardened_url)
    try:
        email = create_account(browser)
        browser.post("/sign-out", {})
        assert sign_in(browser, email) == "/account"
    finally:
        browser.close()


async def test_a_council_gets_a_token_and_submits_a_form(
    hardened_url: str, hardened_runtime: Runtime
) -> None:
    issued = await hardened_runtime.admin.create_token("hardened", TEST_ACTOR)
    admin = {"Authorization": f"Bearer {issued.secret}"}
    async with httpx.AsyncClient(base_url=hardened_url, timeout=10) as http:
        parties = await exchange(http, hardened_runtime, admin)
        response = await submit(http, parties.sender.headers, parties.request())
        assert response.status_code == 202, response.text
        inbox = await http.get("/api/v1/inbox", headers=parties.recipient.headers)
    assert inbox.status_code == 200, inbox.text
    assert response.json()["id"] in [s["id"] for s in inbox.json()["submissions"]]


def _client(hardened: Hardened, **overrides: object) -> redis.Redis:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": hardened.server.port,
        "username": "govconnect",
        "password": PASSWORD,
        "ssl": True,
        "ssl_ca_certs": str(hardened.ca),
        "socket_timeout": 5,
    }
    options.update(overrides)
    return redis.Redis(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "command",
    [
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "appendonly", "no"),
        ("DEBUG", "SLEEP", "0"),
        ("SHUTDOWN",),
        ("ACL", "LIST"),
        ("MONITOR",),
        ("REPLICAOF", "127.0.0.1", "1"),
        ("MODULE", "LIST"),
        ("SET", "not-the-gateways-key", "1"),
        ("SUBSCRIBE", "anything"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_the_gateway_user_cannot_run_dangerous_commands(
    hardened: Hardened, command: tuple[str, ...]
) -> None:
    """A stolen gateway password still cannot dump, wipe or reconfigure the store."""
    client = _client(hardened)
    try:
        with pytest.raises(redis.exceptions.ResponseError) as refused:
            client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        client.close()
    # DEBUG is also off server-wide (enable-debug-command no), which Redis checks first.
    assert isinstance(refused.value, redis.exceptions.NoPermissionError) or (
        command[0] == "DEBUG" and "not allowed" in str(refused.value)
    ), refused.value


def test_the_default_user_is_off(hardened: Hardened) -> None:
    client = _client(hardened, username=None, password=None)
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
    finally:
        client.close()


def test_a_wrong_password_is_refused(hardened: Hardened) -> None:
    client = _client(hardened, password="guess")
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
    finally:
        client.close()


def test_plain_tcp_gets_no_answer(hardened: Hardened) -> None:
    """The port speaks only TLS: a plain-text client learns nothing and sends no password in
    the clear that the server would read."""
    client = _client(hardened, ssl=False, ssl_ca_certs=None)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
    finally:
        client.close()


def test_a_client_that_does_not_trust_the_root_refuses_the_server(
    hardened: Hardened, tmp_path: Path
) -> None:
    """Certificate checking is on: another PKI's root fails the handshake (no MITM)."""
    CertificateAuthority.initialise(tmp_path)
    client = _client(hardened, ssl_ca_certs=str(tmp_path / ROOT_CERT))
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
            client.ping()
    finally:
        client.close()


def test_the_documented_acl_is_the_tested_one() -> None:
    """docs/architecture.md shows operators exactly the rule this suite runs the gateway on."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("user govconnect on >PASSWORD", 1)[1].split("```", 1)[0]
    assert block.split() == [
        "~{gc:*",
        "resetchannels",
        "&{gc:*",
        "-@all",
        *GATEWAY_COMMANDS.split(),
    ]
