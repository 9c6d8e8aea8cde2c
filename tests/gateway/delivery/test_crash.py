"""Crash test of delivery (DESIGN.md §3: "a submission that was acknowledged is never lost").

While 2,000 submissions are sent and pushed to the example back office (which stores each
once, by submission id, in SQLite), the gateway process (``govconnect serve``) and the
separate worker process (``govconnect worker``) are SIGKILLed at random moments and started
again, and in the second run the Redis server too (an external server with ``appendonly yes``
and ``appendfsync always``, on its own data folder). The sender retries every unanswered
request with its Idempotency-Key. Afterwards every submission the sender got a 202 for is in
the back office's store exactly once, and ``govconnect audit verify`` passes.

A killed worker's pushes are taken over after ``GOVCONNECT_DELIVERY_CLAIM_IDLE_SECONDS``
(3 seconds here instead of 10 minutes), so the test runs in about a minute per run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from examples.back_office.app import create_app
from examples.back_office.config import Config
from gateway.core.redis import EmbeddedRedis
from tests.examples.conftest import serving
from tests.gateway.delivery.support import FORM, SCHEMA
from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli

pytestmark = pytest.mark.crash

SUBMISSIONS = 2000
CONCURRENCY = 24
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Installation:
    """A gateway, a worker and Redis in processes of their own, on one folder."""

    workdir: Path
    env: dict[str, str]
    redis: EmbeddedRedis
    gateway: GatewayProcess
    worker: subprocess.Popen[bytes] | None = None
    kills: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gateway.base_url

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker"],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "worker.log").open("ab"),
        )

    def kill(self, victim: str) -> None:
        """SIGKILL ``victim`` (no shutdown hooks, no flushing) and start it again."""
        self.kills.append(victim)
        if victim == "gateway":
            self.gateway.kill()
            self.gateway.start()
        elif victim == "worker":
            assert self.worker is not None
            self.worker.send_signal(signal.SIGKILL)
            self.worker.wait(10)
            self.start_worker()
        else:
            pid = int((self.redis.directory / "redis.pid").read_text().strip())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            self.redis.ensure_running()

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            self.worker.wait(30)
        self.gateway.stop()
        self.redis.stop()


@contextmanager
def installation(workdir: Path) -> Iterator[Installation]:
    redis = EmbeddedRedis(workdir / "redis")
    redis.ensure_running()
    port = free_port()
    env = gateway_env(
        workdir,
        {
            "GOVCONNECT_REDIS_URL": redis.url,
            "GOVCONNECT_ISSUER": f"http://127.0.0.1:{port}",
            "GOVCONNECT_DELIVERY_CLAIM_IDLE_SECONDS": "3",
            "GOVCONNECT_DELIVERY_RETRY_MAX_SECONDS": "2",
            "GOVCONNECT_LOG_LEVEL": "WARNING",
        },
    )
    run_cli(env, workdir, "init")
    gateway = GatewayProcess(env, workdir, port)
    running = Installation(workdir, env, redis, gateway)
    try:
        gateway.start()
        running.start_worker()
        yield running
    finally:
        running.stop()


def _assertion(client_id: str, key: ECKey, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key)


@dataclass
class Sender:
    """The sending back-office system: its client, key and current access token."""

    http: httpx.AsyncClient
    client_id: str
    key: ECKey
    issuer: str
    token: str = ""

    async def refresh(self) -> None:
        while True:
            try:
                answer = await self.http.post(
                    "/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": _assertion(self.client_id, self.key, self.issuer),
                    },
                )
                if answer.status_code == 200:
                    self.token = answer.json()["access_token"]
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)

    async def submit(self, request: dict[str, Any]) -> str:
        """Send until a 202, with one Idempotency-Key; the submission id."""
        key = str(uuid.uuid4())
        while True:
            try:
                answer = await self.http.post(
                    "/api/v1/submissions",
                    json=request,
                    headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code == 202:
                return str(answer.json()["id"])
            if answer.status_code == 401:
                await self.refresh()
                continue
            assert answer.status_code >= 500, answer.text  # anything else is a real refusal
            await asyncio.sleep(0.2)


async def _created(admin: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await admin.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@dataclass
class Exchange:
    sender: Sender
    recipient: str
    service: str
    webhook_secret: str
    office_port: int


async def _exchange(site: Installation, http: httpx.AsyncClient) -> Exchange:
    token = json.loads(
        run_cli(site.env, site.workdir, "admin", "create-token", "--name", "crash", "--json").stdout
    )["token"]
    async with httpx.AsyncClient(
        base_url=site.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as admin:
        orgs = [
            await _created(
                admin,
                "/admin/v1/organisations",
                {"name": name, "kind": "council", "contact_email": "it@crash.example"},
            )
            for name in ("Sending Council", "Receiving Council")
        ]
        key = ECKey.generate_key("P-256")
        client = await _created(
            admin,
            "/admin/v1/clients",
            {
                "client_name": "Sending back office",
                "organisation_id": orgs[0]["id"],
                "redirect_uris": [],
                "grant_types": ["client_credentials"],
                "scope": "submissions",
                "jwks": {"keys": [{**key.as_dict(private=False), "kid": "k1"}]},
            },
        )
        await _created(
            admin,
            "/admin/v1/services",
            {"name": "crash-permit", "version": "1", "title": "Permit", "schema": SCHEMA},
        )
        await _created(
            admin,
            "/admin/v1/routes",
            {"sender": orgs[0]["id"], "service": "crash-permit", "recipient": orgs[1]["id"]},
        )
        office_port = free_port()
        pushed = await admin.put(
            f"/admin/v1/recipients/{orgs[1]['id']}",
            json={
                "mode": "push",
                "endpoint": f"http://127.0.0.1:{office_port}/govconnect/submissions",
            },
        )
        assert pushed.status_code == 200, pushed.text
    sender = Sender(http, client["client_id"], key, site.url)
    await sender.refresh()
    return Exchange(
        sender, orgs[1]["id"], "crash-permit", pushed.json()["webhook_secret"], office_port
    )


def _reached(progress: list[str], point: float) -> bool:
    return len(progress) >= point


async def _chaos(
    site: Installation,
    victims: list[str],
    progress: list[str],
    moved: asyncio.Condition,
    seed: int,
) -> None:
    """Kill each victim once, and one of them again, in a random order at random points of
    the sending (so restarts, which take seconds, do not dominate the run)."""
    chance = random.Random(seed)
    order = [*victims, chance.choice(victims)]
    chance.shuffle(order)
    points = sorted(chance.uniform(0.05, 0.9) * SUBMISSIONS for _ in order)
    for point, victim in zip(points, order, strict=True):
        async with moved:
            await moved.wait_for(functools.partial(_reached, progress, point))
        await asyncio.sleep(chance.uniform(0.0, 0.3))
        await asyncio.to_thread(site.kill, victim)


def _stored(database: Path) -> tuple[int, set[str]]:
    with sqlite3.connect(database) as db:
        rows = [row[0] for row in db.execute("SELECT id FROM submissions")]
    return len(rows), set(rows)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    "victims", [["gateway", "worker"], ["gateway", "worker", "redis"]], ids=["processes", "redis"]
)
async def test_no_acknowledged_submission_is_lost_or_stored_twice_through_kills(
    tmp_path: Path, victims: list[str]
) -> None:
    seed = random.SystemRandom().randrange(2**32)
    with installation(tmp_path) as site:
        async with httpx.AsyncClient(base_url=site.url, timeout=10) as http:
            ex = await _exchange(site, http)
            database = tmp_path / "back-office.sqlite3"
            office = create_app(
                Config(
                    govconnect_url=site.url,
                    base_url=f"http://127.0.0.1:{ex.office_port}",
                    client_id="not-needed-without-answers",
                    key_file=tmp_path / "back-office-key.json",
                    database=database,
                    webhook_secret=ex.webhook_secret,
                    answer=False,
                )
            )
            with serving(office, ex.office_port):
                request = {"recipient": ex.recipient, "service": ex.service, "version": "1"}
                gate = asyncio.Semaphore(CONCURRENCY)

                acknowledged: list[str] = []
                moved = asyncio.Condition()

                async def one(n: int) -> None:
                    async with gate:
                        body = {**FORM, "street": f"{n} High Street"}
                        acknowledged.append(await ex.sender.submit({**request, "body": body}))
                    async with moved:
                        moved.notify_all()

                chaos = asyncio.create_task(_chaos(site, victims, acknowledged, moved, seed))
                started = time.monotonic()
                await asyncio.gather(*(one(n) for n in range(SUBMISSIONS)))
                await chaos
                sent_in = time.monotonic() - started
                assert len(set(acknowledged)) == SUBMISSIONS
                assert set(victims) <= set(site.kills), (seed, site.kills)
                deadline = time.monotonic() + 90
                while True:
                    rows, ids = _stored(database)
                    if set(acknowledged) <= ids or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                missing = set(acknowledged) - ids
                assert not missing, (seed, site.kills, sent_in, len(missing))
                assert rows == len(ids) == SUBMISSIONS, (seed, rows, len(ids))
        audit = json.loads(run_cli(site.env, tmp_path, "audit", "verify", "--json").stdout)
        assert audit["ok"], (seed, audit)
