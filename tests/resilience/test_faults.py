"""Fault injection under mixed load (DESIGN.md §3: "A submission that was acknowledged is never
lost: not by a killed gateway process, a killed delivery worker, or a Redis restart").

``govconnect serve --workers 2``, a separate ``govconnect worker`` and an external
``redis-server`` (``appendonly yes``, ``appendfsync always``) run as real processes. While
clients sign in, redeem codes, refresh tokens, send DPoP proofs, submit forms and create
payments, a fault injector SIGKILLs a gateway worker, the delivery worker or Redis at random
moments; the first two come back by themselves (uvicorn's supervisor, the test's restart of
the worker), Redis is restarted on the same data folder. The load also pushes authorization
requests (PAR), types emailed one-time codes, captures and refunds delayed-capture payments
and has a council send messages.

Afterwards: every submission, message, payment and refund the gateway acknowledged is there
(and every message opens for its citizen); no authorization code, refresh token, PAR
request_uri, emailed code or DPoP proof was accepted twice, whether presented twice at once
under faults or once more after them; no payment was captured or refunded beyond its amount;
the evidence log verifies (``govconnect audit verify``). While Redis is down the gateway
fails closed (no token, no acknowledgement), ``/readyz`` says why, and it recovers without a
restart.

``GOVCONNECT_SOAK_SECONDS`` sets how long the load runs (default 40 s; ``make soak
DURATION=…``); the summary line prints operations, faults, items checked by kind (codes,
refresh tokens, PAR request_uris, emailed codes, DPoP proofs, submissions, payments, refunds,
messages) and items lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc.jwk import ECKey
from redis.exceptions import RedisError

from gateway.accounts.models import Account
from gateway.authorize.models import PAR_PATH
from gateway.core.errors import GovConnectError
from gateway.core.settings import Settings
from gateway.runtime import Runtime, open_runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.authorize.support import leaves_gateway, pkce_pair
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.support import Exchange, exchange
from tests.gateway.tokens.support import (
    Kit,
    auth,
    dpop_proof,
    issue_code,
    key_client,
)
from tests.messaging.support import CouncilKit, bearer, new_citizen, new_council
from tests.payments.support import Keyed, new_key, pay, payment_body
from tests.resilience.redis_server import RedisServer
from tests.support.accounts import PASSWORD, new_email
from tests.support.servers import free_port, gateway_env, run_cli, wait_until_ready
from tests.support.web import Browser
from tests.trust_levels.agents.support import signed_in_at
from trust_levels.models import CredentialStrength

SECONDS = float(os.environ.get("GOVCONNECT_SOAK_SECONDS") or 40)
# How long the gateway may take to notice Redis is back and answer /readyz 200 again.
RECOVERY_SECONDS = 30.0
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# A delayed-capture payment of payment_body()'s £120.00 is refunded in five £30.00 parts at
# once: more is asked for than was paid, so the store must refuse some under faults too.
REFUND_PART = 3_000
REFUND_PARTS = 5
MESSAGES = "/api/messaging/v1/conversations"
_EMAILED_CODE = re.compile(r"\b(\d{6})\b")


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


# Presents an accepted credential once more; True when the gateway honoured it again.
Replay = Callable[[httpx.AsyncClient], Awaitable[bool]]


@dataclass(frozen=True)
class SentMessage:
    """A message the gateway acknowledged (201), and the text it must open with."""

    conversation: str
    body: str


@dataclass
class Ledger:
    """What happened, and what must hold afterwards."""

    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    submissions: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    # Delayed-capture payments paid by card, with the refunds acknowledged (202) on each.
    refunds: dict[str, list[str]] = field(default_factory=dict)
    accepted: Counter[str] = field(default_factory=Counter)
    replays: list[tuple[str, str, Replay]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def accept(self, kind: str, credential: str, replay: Replay | None = None) -> None:
        """A credential the gateway honoured; a second time is a violation. ``replay``
        presents it again after the run, once every fault has come and gone."""
        self.accepted[f"{kind}:{credential}"] += 1
        if self.accepted[f"{kind}:{credential}"] > 1:
            self.violations.append(f"{kind} accepted twice: {credential[:24]}…")
        elif replay is not None:
            self.replays.append((kind, credential, replay))

    @property
    def items(self) -> Counter[str]:
        """What was checked after the run, by kind, for the summary line."""
        kinds = Counter(key.split(":", 1)[0] for key in self.accepted)
        kinds.update(
            submission=len(self.submissions),
            payment=len(self.payments),
            message=len(self.messages),
            refund=sum(len(ids) for ids in self.refunds.values()),
        )
        return +kinds


@dataclass
class World:
    runtime: Runtime
    parties: Exchange
    web: Kit
    dpop_client: Kit
    payer: Keyed
    account: Account
    email: str
    council: CouncilKit
    # The citizen the council writes to, and the pairwise sub its website knows them by.
    citizen: Account
    citizen_sub: str


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
    council = await new_council(runtime_here)
    citizen = await new_citizen(runtime_here)
    sub = await runtime_here.messaging.enrol(council.website.client, citizen.id)
    return World(
        runtime_here, parties, web, dpop_client, payer, account, email, council, citizen, sub
    )


async def _swallow(call: Awaitable[httpx.Response]) -> httpx.Response | None:
    """The response, or None when the connection failed (a killed worker, Redis away)."""
    try:
        return await call
    except httpx.HTTPError:
        return None


async def _client_post(
    http: httpx.AsyncClient,
    world: World,
    kit: Kit,
    form: dict[str, str],
    path: str = "/token",
    **headers: str,
) -> httpx.Response | None:
    """A client-authenticated POST to the token or PAR endpoint (RFC 9126 §2.1)."""
    auth_form, auth_headers = auth(kit, world.runtime.settings.issuer + path)
    return await _swallow(
        http.post(path, data={**form, **auth_form}, headers={**auth_headers, **headers})
    )


async def _honoured_again(
    http: httpx.AsyncClient, world: World, kit: Kit, form: dict[str, str]
) -> bool:
    answer = await _client_post(http, world, kit, form)
    return answer is not None and answer.status_code == 200


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


async def _code_form(world: World) -> dict[str, str]:
    code = await issue_code(world.runtime, world.web, world.account)
    return {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": code.grant.redirect_uri,
        "code_verifier": code.verifier,
    }


async def redeem_codes(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """One code, redeemed twice at once: at most one answer has tokens (RFC 6749 §4.1.2).
    The second try revokes what the first got, so the refresh chain starts from a code that
    is redeemed once."""
    raced = await _code_form(world)
    answers = await asyncio.gather(*(_client_post(http, world, world.web, raced) for _ in "ab"))
    once = await _code_form(world)
    redeemed = await _client_post(http, world, world.web, once)
    ledger.operations["code redemption"] += 3
    for form, answer in ((raced, answers[0]), (raced, answers[1]), (once, redeemed)):
        if answer is not None and answer.status_code == 200:
            again = partial(_honoured_again, world=world, kit=world.web, form=form)
            ledger.accept("code", form["code"], again)
    if redeemed is not None and redeemed.status_code == 200:
        await refresh_chain(http, world, ledger, redeemed.json()["refresh_token"])


async def refresh_chain(
    http: httpx.AsyncClient, world: World, ledger: Ledger, token: str, length: int = 4
) -> None:
    """Rotate a refresh token a few times, then present the last one twice at once (which,
    as reuse, ends the family): the gateway honours each at most once (RFC 9700 §4.14.2)."""
    for step in range(length):
        form = {"grant_type": "refresh_token", "refresh_token": token}
        presentations = "ab" if step == length - 1 else "a"
        answers = await asyncio.gather(
            *(_client_post(http, world, world.web, form) for _ in presentations)
        )
        ledger.operations["refresh"] += len(answers)
        fresh = [
            a.json()["refresh_token"] for a in answers if a is not None and a.status_code == 200
        ]
        for _ in fresh:
            again = partial(_honoured_again, world=world, kit=world.web, form=form)
            ledger.accept("refresh token", token, again)
        if not fresh:
            return
        token = fresh[0]


async def replay_dpop(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """One DPoP proof sent twice at once: at most one token (RFC 9449 §11.1)."""
    key = ECKey.generate_key("P-256")
    proof = dpop_proof(key, "POST", world.runtime.settings.issuer + "/token")
    form = {"grant_type": "client_credentials"}
    answers = await asyncio.gather(
        *(_client_post(http, world, world.dpop_client, form, DPoP=proof) for _ in "ab")
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


async def _authorize_front(http: httpx.AsyncClient, path: str) -> bool:
    """Whether the browser was sent on into sign-in: the pushed request was taken. A refused
    request_uri is a page (400) or an error redirect to the client, never onward."""
    answer = await _swallow(http.get(path))
    return answer is not None and answer.is_redirect and not leaves_gateway(answer)


async def push_requests(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """One pushed request opened twice at once: at most one browser goes on (RFC 9126 §4:
    a request_uri is used once); it is opened again after the run."""
    _, challenge = pkce_pair()
    form = {
        "client_id": world.web.client_id,
        "redirect_uri": world.web.client.redirect_uris[0],
        "response_type": "code",
        "scope": "openid",
        "state": uuid.uuid4().hex,
        "nonce": uuid.uuid4().hex,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    pushed = await _client_post(http, world, world.web, form, PAR_PATH)
    ledger.operations["par push"] += 1
    if pushed is None or pushed.status_code != 201:
        return
    request_uri = pushed.json()["request_uri"]
    front = "/authorize?" + urlencode(
        {"client_id": world.web.client_id, "request_uri": request_uri}
    )
    answers = await asyncio.gather(*(_authorize_front(http, front) for _ in "ab"))
    ledger.operations["par use"] += 2
    for taken in answers:
        if taken:
            ledger.accept("par request_uri", request_uri, partial(_authorize_front, path=front))


def _start_account(browser: Browser, email: str) -> bool:
    """Create-account with ``email``: the session now waits for the emailed code. For an
    address that has an account no new code is sent, so a second session can try the first's."""
    try:
        started = browser.submit(
            "/create-account", "/create-account", {"email": email, "password": PASSWORD}
        )
    except httpx.HTTPError:
        return False
    return started.url.path == "/create-account/check-email"


def _type_code(browser: Browser, code: str) -> bool:
    """Whether the code confirmed the address (the browser lands signed in on /account)."""
    try:
        return browser.post("/create-account/check-email", {"code": code}).url.path == "/account"
    except httpx.HTTPError:
        return False


def _code_in_another_session(base_url: str, email: str, code: str) -> bool:
    browser = Browser(base_url)
    try:
        # After the run nothing is down: a session that could not get as far as typing the
        # code would make this replay prove nothing.
        assert _start_account(browser, email), "a new session waits for the emailed code"
        return _type_code(browser, code)
    finally:
        browser.close()


async def _emailed_code_again(http: httpx.AsyncClient, email: str, code: str) -> bool:
    return await asyncio.to_thread(_code_in_another_session, str(http.base_url), email, code)


async def _emailed_code(runtime: Runtime, email: str) -> str | None:
    """The code in the verify-email message, as the person would read it."""
    assert runtime.outbox is not None, "the gateway under test writes to the local outbox"
    for sent in await runtime.outbox.for_recipient(email):
        if sent.template == "verify-email" and (match := _EMAILED_CODE.search(sent.body)):
            return match.group(1)
    return None


async def type_emailed_codes(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """An emailed one-time code typed into two sessions at once: it confirms the address at
    most once (NIST SP 800-63B §5.1.3.2: a one-time secret); it is typed again after the run."""
    email = new_email()
    sessions = (Browser(str(http.base_url)), Browser(str(http.base_url)))
    try:
        ledger.operations["account started"] += 1
        if not await asyncio.to_thread(_start_account, sessions[0], email):
            return
        if not await asyncio.to_thread(_start_account, sessions[1], email):
            return
        code = await _emailed_code(world.runtime, email)
        if code is None:
            return
        answers = await asyncio.gather(*(asyncio.to_thread(_type_code, s, code) for s in sessions))
        ledger.operations["emailed code typed"] += 2
        for confirmed in answers:
            if confirmed:
                again = partial(_emailed_code_again, email=email, code=code)
                ledger.accept("emailed code", f"{email}:{code}", again)
    finally:
        for browser in sessions:
            browser.close()


def _paid_by_card(base_url: str, next_url: str) -> bool:
    browser = Browser(base_url)
    try:
        return pay(browser, next_url).status_code == 303
    except (AssertionError, httpx.HTTPError):
        # pay() asserts each page answered; under faults one may not, and the load goes on.
        return False
    finally:
        browser.close()


async def capture_and_refund(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """A delayed-capture payment paid by card, captured twice at once and refunded in parts
    that add up to more than was paid, all at once (GOV.UK Pay delayed capture, refunds)."""
    headers = world.payer.headers
    created = await _swallow(
        http.post(
            "/v1/payments",
            json=payment_body(delayed_capture=True),
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
    )
    ledger.operations["delayed payment"] += 1
    if created is None or created.status_code != 201:
        return
    payment_id, next_url = created.json()["payment_id"], created.json()["_links"]["next_url"]
    ledger.payments.append(payment_id)
    if not await asyncio.to_thread(_paid_by_card, str(http.base_url), next_url["href"]):
        return
    path = f"/v1/payments/{payment_id}"
    await asyncio.gather(*(_swallow(http.post(f"{path}/capture", headers=headers)) for _ in "ab"))
    refunds = await asyncio.gather(
        *(
            _swallow(http.post(f"{path}/refunds", json={"amount": REFUND_PART}, headers=headers))
            for _ in range(REFUND_PARTS)
        )
    )
    ledger.operations["capture"] += 2
    ledger.operations["refund"] += REFUND_PARTS
    ledger.refunds[payment_id] = [
        r.json()["refund_id"] for r in refunds if r is not None and r.status_code == 202
    ]


async def send_messages(http: httpx.AsyncClient, world: World, ledger: Ledger) -> None:
    """A council's system writes to a citizen with an Idempotency-Key and, when no answer
    came, retries with the same key: both answers name one message, never two."""
    kit = world.council
    token = await _client_post(http, world, kit.back_office, {"grant_type": "client_credentials"})
    if token is None or token.status_code != 200:
        return
    body = f"Your council tax bill {uuid.uuid4().hex[:8]} is ready."
    message = {
        "team": kit.team.id,
        "to": {"sub": world.citizen_sub},
        "subject": "Your council tax",
        "reference": "CT-FAULTS",
        "body": body,
    }
    headers = bearer(token.json()["access_token"], **{"Idempotency-Key": str(uuid.uuid4())})
    sent: set[str] = set()
    for _ in "ab":
        answer = await _swallow(http.post(MESSAGES, json=message, headers=headers))
        ledger.operations["message"] += 1
        if answer is not None and answer.status_code == 201:
            sent.add(answer.json()["message"])
            ledger.messages.append(SentMessage(answer.json()["conversation"], body))
            break
    if len(sent) > 1:
        ledger.violations.append(f"one Idempotency-Key sent {len(sent)} messages")


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
    push_requests,
    type_emailed_codes,
    capture_and_refund,
    send_messages,
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
        token = await _client_post(
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


async def _check_payments(
    http: httpx.AsyncClient, world: World, ledger: Ledger, lost: list[str]
) -> None:
    """What the service says was captured (one ``success`` event takes the amount) and
    refunded (every refund not in ``error``) never exceeds the amount; no acknowledged
    refund is missing."""
    headers = world.payer.headers
    for payment_id, acknowledged in ledger.refunds.items():
        path = f"/v1/payments/{payment_id}"
        amount = (await http.get(path, headers=headers)).json()["amount"]
        events = (await http.get(f"{path}/events", headers=headers)).json()["events"]
        captured = amount * [e["state"]["status"] for e in events].count("success")
        listed = (await http.get(f"{path}/refunds", headers=headers)).json()
        refunds = listed["_embedded"]["refunds"]
        refunded = sum(r["amount"] for r in refunds if r["status"] != "error")
        if captured > amount or refunded > amount:
            ledger.violations.append(
                f"payment {payment_id}: captured {captured}, refunded {refunded} of {amount}"
            )
        listed_ids = {r["refund_id"] for r in refunds}
        lost.extend(f"refund {r} of {payment_id}" for r in acknowledged if r not in listed_ids)


async def _check_messages(
    http: httpx.AsyncClient, world: World, ledger: Ledger, lost: list[str]
) -> None:
    """Every acknowledged message is in its conversation for the council, and opens (is
    decrypted) for the citizen it was sent to."""
    token = await _client_post(
        http, world, world.council.back_office, {"grant_type": "client_credentials"}
    )
    assert token is not None and token.status_code == 200, token
    council = bearer(token.json()["access_token"])
    messaging = world.runtime.messaging
    assurance = signed_in_at(world.runtime.clock.now(), CredentialStrength.LOW)
    for sent in ledger.messages:
        found = await http.get(f"{MESSAGES}/{sent.conversation}", headers=council)
        bodies: list[Any] = (
            [m["body"] for m in found.json()["messages"]] if found.status_code == 200 else []
        )
        access = await messaging.as_citizen(world.citizen.id, sent.conversation)
        opened = (await messaging.open(access, assurance)).to_json()
        if sent.body not in bodies or sent.body not in [m["body"] for m in opened["messages"]]:
            lost.append(f"message in {sent.conversation}: {found.status_code}")


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
        for kind, credential, replay in ledger.replays:
            ledger.operations["replay after faults"] += 1
            if await replay(http):
                ledger.accept(kind, credential)
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
        await _check_payments(http, world, ledger, lost)
        await _check_messages(http, world, ledger, lost)
    audit = run_cli(system.env, system.workdir, "audit", "verify", "--json", check=False)
    print(
        f"\nsoak: {SECONDS:.0f}s; operations: {sum(ledger.operations.values())} "
        f"{json.dumps(dict(ledger.operations))}; faults: {sum(ledger.faults.values())} "
        f"{json.dumps(dict(ledger.faults))}; items checked: {ledger.items.total()} "
        f"{json.dumps(dict(ledger.items))}; items lost: {len(lost)}; "
        f"accepted twice or beyond the amount: {len(ledger.violations)}"
    )
    assert lost == []
    assert ledger.violations == []
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert ledger.submissions and ledger.faults["redis SIGKILL"] >= 1
    # Each new kind was exercised, so its check above was not vacuous.
    assert ledger.messages and ledger.refunds, ledger.operations
    assert {"par request_uri", "emailed code", "refresh token"} <= set(ledger.items), ledger.items
