"""``govconnect worker`` runs every queue's worker: submission pushes and back-channel
logout always, notifications where GOV.UK Notify is configured (in development they go to
the outbox, and the command says so). ``--once`` makes one pass and reports each queue."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.admin.models import Actor
from gateway.core.settings import Settings
from gateway.delivery.models import (
    DeliveryMode,
    NewRecipientSettings,
    NewRoute,
    NewService,
    Sender,
    SubmissionRequest,
)
from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.receiver import running_receiver
from tests.gateway.delivery.support import FORM, SCHEMA
from tests.support.servers import gateway_env, run_cli

ACTOR = Actor("cli", "pytest")


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    assert settings.redis_url is not None
    return gateway_env(
        tmp_path,
        {"GOVCONNECT_REDIS_URL": settings.redis_url, "GOVCONNECT_PKI_DIR": str(settings.pki_dir)},
    )


async def _queued_push(runtime: Runtime, endpoint: str) -> str:
    """A submission queued for push to ``endpoint``, made through the services."""
    sender, recipient = await new_organisation(runtime), await new_organisation(runtime)
    name = f"worker-{secrets.token_hex(3)}"
    registry = runtime.delivery.registry
    await registry.add_service(
        NewService.model_validate({"name": name, "version": "1", "title": "T", "schema": SCHEMA}),
        ACTOR,
    )
    await registry.add_route(NewRoute(sender=sender, service=name, recipient=recipient), ACTOR)
    await registry.set_recipient(
        recipient,
        NewRecipientSettings(mode=DeliveryMode.PUSH, endpoint=endpoint),
        ACTOR,
    )
    receipt = await runtime.delivery.submissions.submit(
        Sender("cli_worker_test", sender),
        SubmissionRequest(recipient=recipient, service=name, version="1", body=FORM),
        secrets.token_hex(8),
    )
    return receipt.submission.id


async def test_worker_once_drains_every_queue_and_names_the_outbox(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    with running_receiver() as receiver:
        submission_id = await _queued_push(runtime, receiver.url)
        ran = await asyncio.to_thread(
            run_cli, _env(settings, tmp_path), tmp_path, "worker", "--once", "--json"
        )
        result = json.loads(ran.stdout)
        assert {"notifications", "backchannel-logout", "submissions"} <= set(result["queues"])
        assert result["queues"]["notifications"] is None
        pushed = await receiver.arrival(1)
    assert pushed[0].headers["webhook-id"] == submission_id
    stored = await runtime.delivery.submissions.stored(submission_id)
    assert stored is not None and stored.submission.state.value == "delivered"
    text = run_cli(_env(settings, tmp_path), tmp_path, "worker", "--once").stdout
    assert "local development outbox" in text and "submissions: delivered" in text


def test_worker_runs_every_queue_until_sigterm(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker"],
        cwd=tmp_path,
        env=_env(settings, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    nouns = ("submission push", "back-channel logout")
    try:
        deadline = time.monotonic() + 60
        while not all(f"{noun} worker started" in log.read_text() for noun in nouns):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for noun in nouns:
        assert f"{noun} worker stopped" in log.read_text()
