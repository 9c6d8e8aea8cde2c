"""Issue 9's workloads: what each sets up (through the runtime, the admin API and the CLI, as
an operator would), what one operation is, and how it is measured.

Every workload warms up, then measures: throughput, p50/p95/p99 latency, errors, the
gateway's CPU seconds per 1,000 operations (all its processes), its resident memory, Redis's
CPU and its memory per stored item, and the generator's own CPU per 1,000 operations.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

from benchmarks import authcode
from benchmarks.loadgen import Receiver, WrkJob, fixed_rate, http_request, run_wrk
from benchmarks.servers import Gateway, Meter
from benchmarks.stats import Latency, per_item, per_thousand
from gateway.admin.models import Actor
from gateway.runtime import Runtime, open_runtime
from gateway.sessions.models import AuthEvent, Session
from gateway.sessions.models import AuthMethod as SignInMethod
from gateway.sessions.store import SessionStore, account_index_key, session_key
from gateway.tokens.client_auth import ASSERTION_TYPE
from messaging.models import Sent
from messaging.routes import PREFIX as MESSAGING_API
from messaging.store import message_key
from tests.gateway.clients.support import new_organisation
from tests.gateway.tokens.support import Kit, assertion, issue_code, key_client, secret_client
from tests.messaging.support import CouncilKit, api_token, new_citizen, new_council, write_to

ACTOR = Actor("cli", "bench")
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
CLIENT_CREDENTIALS = {"grant_type": "client_credentials", "scope": "submissions"}
# A council form with a free-text field: the whole request body is about 2 KB.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "street": {"type": "string"},
        "permit_type": {"enum": ["resident", "visitor"]},
        "vehicles": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "notes": {"type": "string", "maxLength": 4000},
    },
    "required": ["name", "permit_type"],
    "additionalProperties": False,
}
# inbox-open: issue 9's target is at 100 concurrent readers; the council's messages are spread
# over a few citizens' inboxes, and each is a letter of the length councils send.
READERS = 100
# inbox-open's paced run: the issue's rate, from READERS connections.
INBOX_RATE = 2000.0
INBOX_MESSAGES = 1000
INBOX_CITIZENS = 20
LETTER = (
    "Dear resident, your council tax bill for 2026 to 2027 is ready. The amount due is "
    "£1,873.42, payable in ten monthly instalments of £187.34 from 1 April, by the direct "
    "debit you already have with us. If your circumstances have changed (someone has moved "
    "in or out, or you think the property is in the wrong band), reply to this message "
    "within 28 days and a member of the Council Tax team will look into it. You can see the "
    "bill in full, with how it is worked out, in your account. Anytown Council."
)
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup: float
    connections: int
    threads: int
    login_seconds: float
    login_concurrency: int
    deliver_rate: float
    deliver_seconds: float
    sessions: int


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def row(
    name: str,
    label: str,
    generator: str,
    connections: int,
    ops: int,
    elapsed: float,
    latency: Latency,
    errors: int,
    costs: dict[str, Any],
    generator_cpu: float,
    **extra: Any,
) -> dict[str, Any]:
    """One workload's figures, as the JSON file and the tables carry them."""
    return {
        "workload": name,
        "config": label,
        "generator": generator,
        "connections": connections,
        "seconds": round(elapsed, 2),
        "ops": ops,
        "ops_per_s": round(ops / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": latency.p50,
        "p95_ms": latency.p95,
        "p99_ms": latency.p99,
        "max_ms": latency.max,
        "errors": errors,
        "server_cpu_s_per_1000": costs["server_cpu_s_per_1000"],
        "redis_cpu_s_per_1000": costs["redis_cpu_s_per_1000"],
        "redis_commands_per_op": costs["redis_commands_per_op"],
        "server_rss_mb": costs["server_rss_mb"],
        "redis_bytes_per_item": costs["redis_bytes_per_item"],
        "generator_cpu_s_per_1000": per_thousand(generator_cpu, ops),
        **extra,
    }


def measure_wrk(
    name: str,
    server: Gateway | tuple[str, psutil.Process],
    label: str,
    jobs: tuple[WrkJob, WrkJob],
    o: Options,
    *,
    stores: bool,
) -> dict[str, Any]:
    """Warm up with ``jobs[0]``, then measure ``jobs[1]``, against the gateway or another
    server (its URL and process); ``stores`` when each operation leaves a record in Redis
    (the memory figure is then per operation)."""
    base_url, meter = (
        (server.base_url, Meter(server))
        if isinstance(server, Gateway)
        else (server[0], Meter(server[1]))
    )
    run_wrk(base_url, jobs[0], o.warmup, o.connections, o.threads, secrets.token_hex(6))
    before = meter.start()
    summary = run_wrk(base_url, jobs[1], o.seconds, o.connections, o.threads, secrets.token_hex(6))
    errors = summary["errors"]
    ok = summary["requests"] - errors["status"]
    costs = meter.finish(before, ok, stored_items=ok if stores else None)
    lat = summary["latency_us"]
    latency = Latency(
        p50=round(lat["p50"] / 1000, 1),
        p95=round(lat["p95"] / 1000, 1),
        p99=round(lat["p99"] / 1000, 1),
        max=round(lat["max"] / 1000, 1),
    )
    return row(
        name,
        label,
        f"wrk -t{o.threads} -c{o.connections}",
        o.connections,
        ok,
        summary["duration_us"] / 1e6,
        latency,
        sum(errors.values()),
        costs,
        summary["generator_cpu_s"],
    )


# --- set-up through the runtime, the admin API and the CLI -----------------------------


async def _with_runtime(gw: Gateway, action: Callable[[Runtime], Any]) -> Any:
    async with open_runtime(gw.settings) as runtime:
        return await action(runtime)


def run_setup(gw: Gateway, action: Callable[[Runtime], Any]) -> Any:
    return asyncio.run(_with_runtime(gw, action))


@dataclass(frozen=True)
class TokenClients:
    secret: Kit
    key: Kit


def token_clients(gw: Gateway) -> TokenClients:
    grants: dict[str, Any] = {
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "scope": "submissions",
    }

    async def action(runtime: Runtime) -> TokenClients:
        organisation = await new_organisation(runtime)
        secret = await secret_client(runtime, organisation, **grants)
        key = await key_client(runtime, organisation, **grants)
        return TokenClients(secret, key)

    result: TokenClients = run_setup(gw, action)
    return result


def admin_token(gw: Gateway) -> str:
    async def action(runtime: Runtime) -> str:
        return (await runtime.admin.create_token("bench", ACTOR)).secret

    token: str = run_setup(gw, action)
    return token


@dataclass(frozen=True)
class Exchange:
    """A sender's bearer token and a 2 KB submission it may send."""

    token: str
    body: bytes
    recipient: str


def exchange(gw: Gateway, admin: str, *, push_to: str | None = None) -> Exchange:
    """Two organisations, a sender client, a service and the routing rule between them,
    made through the runtime (clients) and the admin API (service, route, recipient)."""

    async def action(runtime: Runtime) -> tuple[str, str, Kit]:
        sender, recipient = await new_organisation(runtime), await new_organisation(runtime)
        kit = await secret_client(
            runtime,
            sender,
            grant_types=["client_credentials"],
            redirect_uris=[],
            scope="submissions",
        )
        return sender, recipient, kit

    sender, recipient, kit = run_setup(gw, action)
    assert kit.secret is not None
    headers = {"Authorization": f"Bearer {admin}"}
    service = f"permit-{secrets.token_hex(4)}"
    with httpx.Client(base_url=gw.base_url, timeout=30) as http:
        answer = http.post(
            "/admin/v1/services",
            json={"name": service, "version": "1", "title": "Parking permit", "schema": SCHEMA},
            headers=headers,
        )
        answer.raise_for_status()
        rule = {"sender": sender, "service": service, "recipient": recipient}
        http.post("/admin/v1/routes", json=rule, headers=headers).raise_for_status()
        if push_to is not None:
            http.put(
                f"/admin/v1/recipients/{recipient}",
                json={"mode": "push", "endpoint": push_to},
                headers=headers,
            ).raise_for_status()
        token = http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "submissions"},
            auth=(kit.client_id, kit.secret),
        )
        token.raise_for_status()
    form = {
        "name": "Ada Lovelace",
        "street": "1 High Street, Anytown",
        "permit_type": "resident",
        "vehicles": ["AB12 CDE", "XY34 ZZZ"],
        "notes": "",
    }
    request = {"recipient": recipient, "service": service, "version": "1", "body": form}
    filler = 2048 - len(json.dumps(request, separators=(",", ":")))
    form["notes"] = ("The car is parked on the driveway most days. " * 60)[:filler]
    body = json.dumps(request, separators=(",", ":")).encode()
    return Exchange(str(token.json()["access_token"]), body, recipient)


# --- the workloads ---------------------------------------------------------------------


def token_cc_secret(
    gw: Gateway, label: str, clients: TokenClients, folder: Path, o: Options
) -> dict[str, Any]:
    assert clients.secret.secret is not None
    form = folder / "form.txt"
    form.write_text(urlencode(CLIENT_CREDENTIALS) + "\n")
    job = WrkJob(
        "/token", FORM_TYPE, form, basic(clients.secret.client_id, clients.secret.secret), "same"
    )
    return measure_wrk("token-cc-secret", gw, label, (job, job), o, stores=False)


def token_cc_jwt(
    gw: Gateway, label: str, clients: TokenClients, folder: Path, o: Options, rate: float
) -> dict[str, Any]:
    """Every request carries its own pre-signed assertion (unique jti, exp 290 s ahead)."""
    audience = f"{gw.settings.issuer}/token"
    jobs = assertion_jobs(
        folder, "jwt", lambda expires: assertion(clients.key, audience, exp=expires), rate, o
    )
    # Each accepted assertion leaves its jti in Redis until it expires.
    return measure_wrk("token-cc-jwt", gw, label, jobs, o, stores=True)


def assertion_jobs(
    folder: Path, name: str, sign: Callable[[int], str], rate: float, o: Options
) -> tuple[WrkJob, WrkJob]:
    """The warm-up's and the measured run's client_credentials requests, each with its own
    single-use assertion from ``sign`` (given the expiry, 290 s ahead), enough for ``rate``
    requests a second with headroom (wrk mode ``once``)."""

    def bodies(path: Path, count: int) -> WrkJob:
        expires = int(time.time()) + 290
        with path.open("w") as out:
            for _ in range(count):
                form = {
                    **CLIENT_CREDENTIALS,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": sign(expires),
                }
                out.write(urlencode(form) + "\n")
        return WrkJob("/token", FORM_TYPE, path, "", "once")

    return (
        bodies(folder / f"{name}-warmup.txt", int(rate * o.warmup) + 100),
        bodies(folder / f"{name}-measured.txt", int(rate * o.seconds) + 100),
    )


def refresh(gw: Gateway, label: str, folder: Path, o: Options) -> dict[str, Any]:
    """Refresh-token rotation: each request spends a refresh token and gets the next."""
    chains = max(o.connections * 2, 64)

    async def action(runtime: Runtime) -> tuple[Kit, list[Any]]:
        organisation = await new_organisation(runtime)
        kit = await secret_client(runtime, organisation)
        account = await runtime.accounts.create(
            f"refresh-{secrets.token_hex(4)}@example.org",
            authcode.PASSWORD,
            verified=True,
            totp_secret=None,
            actor=ACTOR,
        )
        codes = [await issue_code(runtime, kit, account) for _ in range(chains * 2)]
        return kit, codes

    kit, codes = run_setup(gw, action)
    assert kit.secret is not None
    tokens = []
    with httpx.Client(base_url=gw.base_url, timeout=30) as http:
        for issued in codes:
            answer = http.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": issued.code,
                    "redirect_uri": issued.grant.redirect_uri,
                    "code_verifier": issued.verifier,
                },
                auth=(kit.client_id, kit.secret),
            )
            answer.raise_for_status()
            tokens.append(answer.json()["refresh_token"])
    warm, measured = folder / "refresh-warmup.txt", folder / "refresh-measured.txt"
    warm.write_text("\n".join(tokens[:chains]) + "\n")
    measured.write_text("\n".join(tokens[chains:]) + "\n")
    auth = basic(kit.client_id, kit.secret)
    jobs = (
        WrkJob("/token", FORM_TYPE, warm, auth, "rotate"),
        WrkJob("/token", FORM_TYPE, measured, auth, "rotate"),
    )
    return measure_wrk("refresh", gw, label, jobs, o, stores=True)


def submit(gw: Gateway, label: str, ex: Exchange, folder: Path, o: Options) -> dict[str, Any]:
    """``POST /api/v1/submissions``: 2 KB of JSON, each with its own Idempotency-Key."""
    body = folder / "submission.json"
    body.write_bytes(ex.body + b"\n")
    job = WrkJob("/api/v1/submissions", JSON_TYPE, body, f"Bearer {ex.token}", "idempotent")
    return measure_wrk("submit", gw, label, (job, job), o, stores=True)


def pay_create(gw: Gateway, label: str, folder: Path, o: Options) -> dict[str, Any]:
    """``POST /v1/payments`` with an API key from ``govconnect payments keys create``."""
    organisation = json.loads(
        gw.cli(
            "orgs",
            "add",
            "--name",
            "Anytown Council",
            "--kind",
            "council",
            "--contact-email",
            "payments@anytown.example",
            "--json",
        )
    )
    created = json.loads(
        gw.cli(
            "payments",
            "keys",
            "create",
            "--org",
            organisation["id"],
            "--service",
            "parking-fines",
            "--test",
            "--json",
        )
    )
    body = folder / "payment.json"
    payment = {
        "amount": 12_000,
        "reference": "PCN-AB12-3456",
        "description": "Parking fine",
        "return_url": "https://parking.anytown.example/paid",
    }
    body.write_text(json.dumps(payment) + "\n")
    job = WrkJob("/v1/payments", JSON_TYPE, body, f"Bearer {created['key']}", "idempotent")
    return measure_wrk("pay-create", gw, label, (job, job), o, stores=True)


def login(gw: Gateway, label: str, o: Options) -> dict[str, Any]:
    """Full sign-ins (argon2id, production parameters) and code exchanges, from httpx."""
    setup = asyncio.run(authcode.prepare(gw.settings, accounts=64))
    asyncio.run(authcode.drive(gw.base_url, setup, min(o.warmup, 3.0), o.login_concurrency))
    meter = Meter(gw)
    before = meter.start()
    latencies, errors = asyncio.run(
        authcode.drive(gw.base_url, setup, o.login_seconds, o.login_concurrency)
    )
    # A sign-in leaves a session, its index entry, the refresh token family and the grant.
    costs = meter.finish(before, len(latencies), stored_items=len(latencies))
    return row(
        "login",
        label,
        f"httpx async, {o.login_concurrency} browsers",
        o.login_concurrency,
        len(latencies),
        costs["elapsed_s"],
        Latency.of_seconds(latencies),
        errors,
        costs,
        costs["driver_cpu_s"],
    )


def deliver(gw: Gateway, label: str, admin: str, o: Options) -> dict[str, Any]:
    """Submissions at a fixed rate to a push recipient; latency from the scheduled send to
    the signed webhook's arrival at a local receiver (the gateway's own delivery worker)."""
    connections = 64

    async def drive() -> dict[str, Any]:
        receiver = Receiver()
        url = await receiver.start()
        ex = await asyncio.to_thread(exchange, gw, admin, push_to=url)
        headers = {"Authorization": f"Bearer {ex.token}", "Content-Type": JSON_TYPE}
        endpoint = f"{gw.base_url}/api/v1/submissions"

        def requests(count: int) -> list[bytes]:
            return [
                http_request(
                    "POST", endpoint, {**headers, "Idempotency-Key": str(uuid.uuid4())}, ex.body
                )
                for _ in range(count)
            ]

        warm = requests(int(o.deliver_rate * min(o.warmup, 2.0)))
        await fixed_rate(gw.base_url, warm, o.deliver_rate, connections)
        measured = requests(int(o.deliver_rate * o.deliver_seconds))
        meter = Meter(gw)
        before = meter.start()
        sent, elapsed = await fixed_rate(gw.base_url, measured, o.deliver_rate, connections)
        ids = [json.loads(body)["id"] if status == 202 else None for _, _, status, body in sent]
        wanted = {i for i in ids if i is not None}
        await receiver.wait_for(wanted, within=15)
        await receiver.stop()
        first = min((scheduled for scheduled, _, _, _ in sent), default=0.0)
        latencies, last = [], first
        for (scheduled, _, _, _), submission in zip(sent, ids, strict=True):
            arrived = receiver.arrivals.get(submission) if submission else None
            if arrived is not None:
                latencies.append(arrived - scheduled)
                last = max(last, arrived)
        # Throughput is what arrived, over the time from the first send to the last arrival.
        elapsed = max(elapsed, last - first)
        costs = meter.finish(before, len(latencies), stored_items=len(latencies))
        return row(
            "deliver",
            label,
            f"asyncio, {o.deliver_rate:.0f}/s fixed rate",
            connections,
            len(latencies),
            elapsed,
            Latency.of_seconds(latencies),
            len(sent) - len(latencies),
            costs,
            costs["driver_cpu_s"],
            offered_per_s=o.deliver_rate,
        )

    result: dict[str, Any] = asyncio.run(drive())
    return result


def sessions(gw: Gateway, label: str, o: Options) -> dict[str, Any]:
    """Redis memory per idle signed-in session, written through the session store as a
    sign-in leaves it: the session hash and its entry in the account's session index (one
    account each). ``MEMORY USAGE`` of one of each says which part costs what."""

    async def action(runtime: Runtime) -> tuple[float, dict[str, int]]:
        store = SessionStore(runtime.redis)
        ttl = runtime.settings.session_idle_seconds
        now = datetime.now(UTC)

        def session(n: int) -> Session:
            return Session(
                id=secrets.token_urlsafe(32),
                account_id=f"acc_{n:022d}",
                created_at=now,
                last_seen=now,
                csrf_token=secrets.token_urlsafe(32),
                ip=f"192.0.2.{n % 250}",
                user_agent=USER_AGENT,
                auth=(AuthEvent(SignInMethod.PASSWORD, now),),
                sid=secrets.token_urlsafe(16),
            )

        async def one(made: Session) -> None:
            assert made.account_id is not None
            await store.save(made, ttl)
            await store.index(made.account_id, made.handle, made.created_at)

        began = time.perf_counter()
        # Within the connection pool's limit; Redis joins the fsyncs of concurrent writes.
        batch = 64
        last = session(0)
        for first in range(0, o.sessions, batch):
            made = [session(n) for n in range(first, min(first + batch, o.sessions))]
            await asyncio.gather(*(one(m) for m in made))
            last = made[-1]
        elapsed = time.perf_counter() - began
        assert last.account_id is not None
        usage = {
            "session_hash_bytes": await runtime.redis.memory_usage(session_key(last.handle)),
            "account_index_bytes": await runtime.redis.memory_usage(
                account_index_key(last.account_id)
            ),
        }
        return elapsed, {k: int(v or 0) for k, v in usage.items()}

    meter = Meter(gw)
    before = meter.start()
    elapsed, usage = run_setup(gw, action)
    costs = meter.finish(before, o.sessions, stored_items=o.sessions)
    return {
        "workload": "sessions",
        "config": label,
        "generator": "the session store, in process",
        "ops": o.sessions,
        "seconds": round(elapsed, 2),
        "redis_bytes_per_item": costs["redis_bytes_per_item"],
        "redis_cpu_s_per_1000": costs["redis_cpu_s_per_1000"],
        **usage,
    }


@dataclass(frozen=True)
class Inbox:
    """A council with a team, its back-office client, and conversations it may open (one
    message each, to citizens enrolled by its website); what storing a message cost Redis."""

    council: CouncilKit
    conversations: tuple[str, ...]
    bytes_per_message: float | None
    message_hash_bytes: int


def inbox(gw: Gateway) -> Inbox:
    """``INBOX_MESSAGES`` council messages to ``INBOX_CITIZENS`` citizens, sent through the
    messaging service as the council API sends them; Redis's ``used_memory`` around the
    sending, over the messages, is what one stored message costs (the sealed message and its
    metadata, the conversation, both inbox entries, the retention and notification entries,
    the idempotency record and the ``message.sent`` evidence entry)."""

    async def action(runtime: Runtime) -> Inbox:
        council = await new_council(runtime)
        citizens = [await new_citizen(runtime) for _ in range(INBOX_CITIZENS)]
        for citizen in citizens:
            await runtime.messaging.enrol(council.website.client, citizen.id)
        before = int((await runtime.redis.info("memory"))["used_memory"])
        sent: list[Sent] = []
        batch = 50  # within the connection pool's limit, as the sessions workload
        for first in range(0, INBOX_MESSAGES, batch):
            last = min(first + batch, INBOX_MESSAGES)
            sent += await asyncio.gather(
                *(
                    write_to(runtime, council, citizens[n % INBOX_CITIZENS], LETTER)
                    for n in range(first, last)
                )
            )
        after = int((await runtime.redis.info("memory"))["used_memory"])
        one = sent[-1]
        usage = await runtime.redis.memory_usage(message_key(one.conversation.id, one.message.id))
        return Inbox(
            council,
            tuple(s.conversation.id for s in sent),
            per_item(after - before, len(sent)),
            int(usage or 0),
        )

    made: Inbox = run_setup(gw, action)
    return made


def _council_token(gw: Gateway, box: Inbox) -> str:
    async def action(runtime: Runtime) -> str:
        # A fresh token each time: the profile's second run can come minutes after the first.
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=30) as http:
            return await api_token(http, runtime, box.council)

    token: str = run_setup(gw, action)
    return token


def inbox_open(gw: Gateway, label: str, box: Inbox, folder: Path, o: Options) -> dict[str, Any]:
    """``GET /api/messaging/v1/conversations/{id}`` by the council's back-office client
    (client credentials, ``messages`` scope), the conversations in turn: the token and access
    checks, the data key unwrapped and the body opened, and the ``message.read`` evidence
    entry every council read appends.

    Twice: as fast as ``READERS`` connections go (wrk, closed loop: the throughput), then
    paced at ``INBOX_RATE`` opens a second from ``READERS`` connections (open loop: the
    latency a reader sees at that rate). A closed loop's latency is its connections over its
    throughput whatever the server does (100 connections at 2,000/s wait 50 ms on average),
    so the issue's p99 at 2,000 opens a second is read from the paced run."""
    token = _council_token(gw, box)
    ids = folder / "inbox-conversations.txt"
    ids.write_text("".join(f"{c}\n" for c in box.conversations))
    job = WrkJob(f"{MESSAGING_API}/conversations/", "", ids, f"Bearer {token}", "get")
    readers = replace(o, connections=READERS)
    result = measure_wrk("inbox-open", gw, label, (job, job), readers, stores=True)
    endpoint = f"{gw.base_url}{MESSAGING_API}/conversations/"
    headers = {"Authorization": f"Bearer {token}"}
    count = int(INBOX_RATE * o.seconds)
    requests = [
        http_request("GET", endpoint + box.conversations[n % len(box.conversations)], headers, b"")
        for n in range(count)
    ]

    async def paced() -> tuple[list[tuple[float, float, int, bytes]], float]:
        return await fixed_rate(gw.base_url, requests, INBOX_RATE, READERS)

    sent, elapsed = asyncio.run(paced())
    answered = [finish - scheduled for scheduled, finish, status, _ in sent if status == 200]
    latency = Latency.of_seconds(answered)
    return {
        **result,
        "paced": {
            "offered_per_s": INBOX_RATE,
            "connections": READERS,
            "ops_per_s": round(len(answered) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": latency.p50,
            "p99_ms": latency.p99,
            "errors": len(sent) - len(answered),
        },
        # What the run stored is the evidence entry of each read; the column is per message.
        "redis_bytes_per_read": result["redis_bytes_per_item"],
        "redis_bytes_per_item": box.bytes_per_message,
        "message_hash_bytes": box.message_hash_bytes,
        "messages": len(box.conversations),
    }


def inbox_list(gw: Gateway, label: str, box: Inbox, folder: Path, o: Options) -> dict[str, Any]:
    """``GET /api/messaging/v1/conversations?limit=50&team=…`` by the council's back-office
    client at ``READERS`` connections: the first page (50, the API's default page) of the
    team's newest conversations, of the ``INBOX_MESSAGES`` stored, with their unread counts
    and the next page's cursor, read from Redis on every call."""
    token = _council_token(gw, box)
    team = folder / "inbox-team.txt"
    team.write_text(box.council.team.id + "\n")
    path = f"{MESSAGING_API}/conversations?limit=50&team="
    job = WrkJob(path, "", team, f"Bearer {token}", "get")
    return measure_wrk(
        "inbox-list", gw, label, (job, job), replace(o, connections=READERS), stores=False
    )
