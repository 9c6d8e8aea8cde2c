"""Fault injection under mixed load (DESIGN.md §3: "A submission that was acknowledged is never
lost: not by a killed gateway process, a killed delivery worker, or a Redis restart").

``govconnect serve --workers 2``, a separate ``govconnect worker`` and an external
``redis-server`` (``appendonly yes``, ``appendfsync always``) run as real processes. While
clients sign in, redeem codes, refresh tokens, send DPoP proofs, submit forms and create
payments, a fault injector SIGKILLs a gateway worker, the delivery worker or Redis at random
moments; the first two come back by themselves (uvicorn's supervisor, the test's restart of
the worker), Redis is restarted on the same data folder.

Afterwards: every submission and payment the gateway acknowledged is there; no authorization
code, refresh token or DPoP proof was accepted twice; the evidence log verifies
(``govconnect audit verify``). While Redis is down the gateway fails closed (no token, no
acknowledgement), ``/readyz`` says why, and it recovers without a restart.

``GOVCONNECT_SOAK_SECONDS`` sets how long the load runs (default 40 s; ``make soak
DURATION=…``); the summary line prints operations, faults, items checked and items lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey
from redis.exceptions import RedisError

from gateway.accounts.models import Account
from gateway.core.errors import GovConnectError
from gateway.core.settings import Settings
from gateway.runtime import Runtime, open_runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.support import Exchange, exchange
from tests.gateway.tokens.support import (
    Kit,
    auth,
    dpop_proof,
    issue_code,
    key_client,
)
from tests.payments.support import Keyed, new_key, payment_body
from tests.resilience.redis_server import RedisServer
from tests.support.accounts import PASSWORD
from tests.support.servers import free_port, gateway_env, run_cli, wait_until_ready
from tests.support.web import Browser

SECONDS = float(os.environ.get("GOVCONNECT_SOAK_SECONDS") or 40)
# How long the gateway may take to notice Redis is back and answer /readyz 200 again.
RECOVERY_SECONDS = 30.0
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


@dataclass
class Processes:
    """The system under test: Redis, the serving gateway (two workers) and the worker."""

    workdir: Path
    env: dict[str, str]
    redis: RedisServer
    port: int
    serve: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{args[0]}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start(self) -> None:
        self.serve = self._spawn("serve", "--port", str(self.port), "--workers", "2")
        self.start_worker()
        wait_until_ready(self.base_url, 90, self.serve)

    def start_worker(self) -> None:
        self.worker = self._spawn("worker")

    def gateway_workers(self) -> list[int]:
        """The uvicorn worker processes under ``serve`` (its children that run the app)."""
        assert self.serve is not None
        path = Path(f"/proc/{self.serve.pid}/task/{self.serve.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        for process in (self.worker, self.serve):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.redis.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    workdir = tmp_path_factory.mktemp("faults")
    redis = RedisServer(workdir / "redis", ["port $PORT", "appendonly yes", "appendfsync always"])
    redis.start()
    port = free_port()
    env = gateway_env(
        workdir,
        {
            "GOVCONNECT_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "GOVCONNECT_ISSUER": f"http://127.0.0.1:{port}",
        },
    )
    run_cli(env, workdir, "init")
    processes = Processes(workdir, env, redis, port)
    processes.start()
    try:
        yield processes
    finally:
        processes.stop()


@pytest.fixture(scope="module")
async def runtime_here(system: Processes) -> AsyncIterator[Runtime]:
    """Services in the test process on the same store and keys, for setting up clients,
    accounts and codes as the operator's CLI would."""
    settings = Settings(
        redis_url=system.env["GOVCONNECT_REDIS_URL"],
        issuer=system.base_url,
        data_dir=system.workdir / "var",
        pki_dir=system.workdir / "pki",
    )
    async with open_runtime(settings) as built:
        yield built


@dataclass
class Ledger:
    """What happened, and what must hold afterwards."""

    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    submissions: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def accept(self, kind: str, credential: str) -> None:
        """A credential the gateway honoured; a second time is a violation."""
        self.accepted[f"{kind}:{credential}"] += 1
        if self.accepted[f"{kind}:{credential}"] > 1:
            self.violations.append(f"{kind} accepted twice: {credential[:24]}…")


@dataclass
class World:
    runtime: Runtime
    parties: Exchange
    web: Kit
    dpop_client: Kit
    payer: Keyed
    account: Account
    email: str


@pytest.fixture(scope="module")
async def world(system: Processes, runtime_here: Runtime) -> World:
    issued = await runtime_here.admin.create_token("faults", TEST_ACTOR)
    admin = {"Authorization": f"Bearer {issued.secret}"}
    async with httpx.AsyncClient(base_url=system.base_url, timeout=TIMEOUT) as http:
        parties = await exchange(http, runtime_here, admin)
    org = await new_organisation(runtime_here)
    web = await key_client(runtime_here, org, grant_types=["authorization_code", "refresh_token"])
    dpop_client = await key_client(
        runtime_here, org, grant_types=["client_credentials"], redirect_uris=[]
    )
    email = f"faults-{uuid.uuid4().hex[:8]}@example.org"
    account = await runtime_here.accounts.create(
        email, PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )
    payer = await new_key(runtime_here)
    return World(runtime_here, parties, web, dpop_client, payer, account, email)


async def _swallow(call: Awaitable[httpx.Response]) -> httpx.Response | None:
    """The response, or None when the connection failed (a killed worker, Redis away)."""
    try:
        return await call
    except httpx.HTTPError:
        return None


async def _token_form(
    http: httpx.AsyncClient, world: World, kit: Kit, form: dict[str, str], **headers: str
) -> httpx.Response | None:
    auth_form, auth_headers = auth(kit, world.runtime.settings.issuer + "/token")
    return await _swallow(
        http.post("/token", data={**form, **auth_form}, headers={**auth_headers, **headers})
    )


async def submit_forms(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    response = await _swallow(
        http.post(
            "/api/v1/submissions",
            json=world.parties.request(),
            headers={**world.parties.sender.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
    )
    ledger.operations["submission"] += 1
    if response is not None and response.status_code == 202:
        ledger.submissions.append(response.json()["id"])


async def redeem_codes(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """One code, redeemed twice at once: at most one answer has tokens (RFC 6749 §4.1.2)."""
    code = await issue_code(world.runtime, world.web, world.account)
    form = {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": code.grant.redirect_uri,
        "code_verifier": code.verifier,
    }
    answers = await asyncio.gather(*(_token_form(http, world, world.web, form) for _ in "ab"))
    ledger.operations["code redemption"] += 2
    refresh: list[str] = []
    for answer in answers:
        if answer is not None and answer.status_code == 200:
            ledger.accept("code", code.code)
            refresh.append(answer.json()["refresh_token"])
    for token in refresh:
        await refresh_chain(http, world, ledger, token)


async def refresh_chain(
    http: httpx.AsyncClient, world: World, ledger: Ledger, token: str, length: int = 4
) -> None:
    """Rotate a refresh token a few times, presenting each twice at once (RFC 9700 §4.14.2):
    the gateway may honour each at most once."""
    for _ in range(length):
        form = {"grant_type": "refresh_token", "refresh_token": token}
        answers = await asyncio.gather(*(_token_form(http, world, world.web, form) for _ in "ab"))
        ledger.operations["refresh"] += 2
        fresh = [
            a.json()["refresh_token"] for a in answers if a is not None and a.status_code == 200
        ]
        for _ in fresh:
            ledger.accept("refresh token", token)
        if not fresh:
            return
        token = fresh[0]


async def replay_dpop(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """One DPoP proof sent twice at once: at most one token (RFC 9449 §11.1)."""
    key = ECKey.generate_key("P-256")
    proof = dpop_proof(key, "POST", world.runtime.settings.issuer + "/token")
    form = {"grant_type": "client_credentials"}
    answers = await asyncio.gather(
        *(_token_form(http, world, world.dpop_client, form, DPoP=proof) for _ in "ab")
    )
    ledger.operations["dpop proof"] += 2
    for answer in answers:
        if answer is not None and answer.status_code == 200:
            ledger.accept("dpop proof", proof)


async def create_payments(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    response = await _swallow(
        http.post(
            "/v1/payments",
            json=payment_body(),
            headers={**world.payer.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
    )
    ledger.operations["payment"] += 1
    if response is not None and response.status_code == 201:
        ledger.payments.append(response.json()["payment_id"])


async def sign_in(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    def pages() -> bool:
        browser = Browser(str(http.base_url))
        try:
            browser.get("/sign-in")
            landed = browser.post("/sign-in", {"email": world.email, "password": PASSWORD})
            return landed.url.path == "/account"
        except httpx.HTTPError:
            return False
        finally:
            browser.close()

    ledger.operations["sign-in"] += 1
    if await asyncio.to_thread(pages):
        ledger.operations["sign-in succeeded"] += 1


LOADS: list[Callable[[httpx.AsyncClient, World, Ledger], Awaitable[None]]] = [
    submit_forms,
    redeem_codes,
    replay_dpop,
    create_payments,
    sign_in,
]


async def load(base_url: str, world: World, ledger: Ledger, until: float, task: int) -> None:
    operation = LOADS[task % len(LOADS)]
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        while time.monotonic() < until:
            try:
                await operation(http, world, ledger)
            except (RedisError, GovConnectError):
                # The test process's own store connection, used to mint codes, meeting a
                # Redis that is down: no request was made, so nothing to check.
                await asyncio.sleep(0.2)


async def _ready(base_url: str) -> httpx.Response | None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        return await _swallow(http.get("/readyz"))


async def _wait_ready(system: Processes, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        answer = await _ready(system.base_url)
        if answer is not None and answer.status_code == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"the gateway did not become ready within {within}s")


async def kill_redis(system: Processes, world: World, ledger: Ledger) -> None:
    """Redis dies: the gateway fails closed and says so, then recovers by itself."""
    system.redis.kill()
    ledger.faults["redis SIGKILL"] += 1
    await asyncio.sleep(0.5)
    ready = await _ready(system.base_url)
    if ready is not None:  # None: the one answering worker was itself being replaced
        assert ready.status_code == 503, ready.text
        assert "error" in ready.json()["store"], ready.text
    async with httpx.AsyncClient(base_url=system.base_url, timeout=TIMEOUT) as http:
        token = await _token_form(
            http, world, world.dpop_client, {"grant_type": "client_credentials"}
        )
        submitted = await _swallow(
            http.post(
                "/api/v1/submissions",
                json=world.parties.request(),
                headers={**world.parties.sender.headers, "Idempotency-Key": str(uuid.uuid4())},
            )
        )
    for answer, what in ((token, "token"), (submitted, "submission")):
        if answer is not None:
            assert answer.status_code >= 500 or answer.status_code == 401, (what, answer.text)
            assert answer.status_code not in (200, 201, 202), f"{what} accepted with Redis down"
    ledger.operations["fail-closed check"] += 1
    await asyncio.sleep(random.uniform(0.2, 2.0))
    system.redis.start()
    await _wait_ready(system, RECOVERY_SECONDS)


async def kill_gateway_worker(system: Processes, world: World, ledger: Ledger) -> None:
    workers = system.gateway_workers()
    if workers:
        os.kill(random.choice(workers), signal.SIGKILL)
        ledger.faults["gateway worker SIGKILL"] += 1


async def kill_delivery_worker(system: Processes, world: World, ledger: Ledger) -> None:
    assert system.worker is not None
    system.worker.send_signal(signal.SIGKILL)
    system.worker.wait(timeout=10)
    ledger.faults["delivery worker SIGKILL"] += 1
    system.start_worker()


FAULTS = [kill_redis, kill_gateway_worker, kill_delivery_worker]


async def inject(system: Processes, world: World, ledger: Ledger, until: float) -> None:
    index = 0
    while time.monotonic() < until - 3:
        await asyncio.sleep(random.uniform(1.0, 4.0))
        # Every kind at least once, then at random.
        fault = FAULTS[index] if index < len(FAULTS) else random.choice(FAULTS)
        index += 1
        await fault(system, world, ledger)


async def test_nothing_acknowledged_is_lost_and_nothing_is_accepted_twice(
    system: Processes, world: World
) -> None:
    ledger = Ledger()
    until = time.monotonic() + SECONDS
    await asyncio.gather(
        inject(system, world, ledger, until),
        *(load(system.base_url, world, ledger, until, task) for task in range(2 * len(LOADS))),
    )
    await _wait_ready(system, RECOVERY_SECONDS)

    lost: list[str] = []
    async with httpx.AsyncClient(base_url=system.base_url, timeout=TIMEOUT) as http:
        for submission in ledger.submissions:
            found = await http.get(
                f"/api/v1/submissions/{submission}", headers=world.parties.sender.headers
            )
            if found.status_code != 200:
                lost.append(f"submission {submission}: {found.status_code}")
        for payment in ledger.payments:
            found = await http.get(f"/v1/payments/{payment}", headers=world.payer.headers)
            if found.status_code != 200:
                lost.append(f"payment {payment}: {found.status_code}")
    audit = run_cli(system.env, system.workdir, "audit", "verify", "--json", check=False)
    checked = len(ledger.submissions) + len(ledger.payments) + len(ledger.accepted)
    print(
        f"\nsoak: {SECONDS:.0f}s; operations: {sum(ledger.operations.values())} "
        f"{json.dumps(dict(ledger.operations))}; faults: {sum(ledger.faults.values())} "
        f"{json.dumps(dict(ledger.faults))}; items checked: {checked}; "
        f"items lost: {len(lost)}; accepted twice: {len(ledger.violations)}"
    )
    assert lost == []
    assert ledger.violations == []
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert ledger.submissions and ledger.faults["redis SIGKILL"] >= 1
