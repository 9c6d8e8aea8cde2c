"""Where the queue is wired in: with GOV.UK Notify configured, callers get the queue and a
worker delivers through Notify, both inside a serving gateway (a citizen's code, queued by a
page, reaches the Notify stand-in) and as ``govconnect worker`` on its own (one pass, or
until SIGTERM, after which it leaves the consumer group); in development the local outbox
is written directly and there is no worker to run."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.core.settings import Settings
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Channel, Notification
from gateway.notify.outbox import LocalOutbox
from gateway.notify.queue import QueuedNotifier
from gateway.notify.services import build_notifications
from gateway.notify.store import NotificationQueueStore
from gateway.runtime import Runtime
from tests.support.notify_api import NotifyApiStandIn, Received
from tests.support.servers import gateway_env, run_cli, threaded_gateway
from tests.support.web import Browser

CODE = "593017"


def sent_to(api: NotifyApiStandIn, to: str) -> list[Received]:
    return [r for r in api.received if r.payload.get("email_address") == to]


def wait_for(api: NotifyApiStandIn, to: str, timeout: float = 60.0) -> list[Received]:
    """What Notify received for ``to`` once something arrived (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sent_to(api, to):
        time.sleep(0.05)
    return sent_to(api, to)


@pytest.fixture
def notify_settings(
    settings: Settings, notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> Settings:
    return settings.model_copy(
        update={
            "notify_api_key": SecretStr(notify_api.api_key),
            "notify_base_url": notify_api.base_url,
            "notify_templates": notify_template_ids,
        }
    )


@pytest.fixture
def worker_env(
    tmp_path: Path,
    settings: Settings,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
) -> dict[str, str]:
    """``govconnect`` in a child process, on the test store, with Notify configured."""
    return gateway_env(
        tmp_path,
        {
            "GOVCONNECT_REDIS_URL": str(settings.redis_url),
            "GOVCONNECT_REDIS_CLUSTER": "1" if settings.redis_cluster else "0",
            "GOVCONNECT_PKI_DIR": str(settings.pki_dir),
            "GOVCONNECT_NOTIFY_API_KEY": notify_api.api_key,
            "GOVCONNECT_NOTIFY_BASE_URL": notify_api.base_url,
            "GOVCONNECT_NOTIFY_TEMPLATES": json.dumps(notify_template_ids),
        },
    )


@pytest.fixture
def default_queue(runtime: Runtime) -> QueuedNotifier:
    """The queue every gateway process shares (the test stores' own are named)."""
    return QueuedNotifier(NotificationQueueStore(runtime.redis), runtime.clock)


def test_with_notify_configured_callers_get_the_queue_and_the_worker_gets_notify(
    runtime: Runtime, notify_settings: Settings
) -> None:
    built = build_notifications(notify_settings, runtime.redis, runtime.clock)
    assert isinstance(built.notifier, QueuedNotifier)
    assert isinstance(built.delivery, GovUkNotify)
    assert built.queue is not None and built.outbox is None


def test_in_development_callers_write_to_the_outbox_and_no_worker_runs(
    runtime: Runtime, settings: Settings
) -> None:
    built = build_notifications(settings, runtime.redis, runtime.clock)
    assert isinstance(built.notifier, LocalOutbox) and built.outbox is built.notifier
    assert built.queue is None and built.delivery is None
    assert runtime.outbox is runtime.notifier
    assert runtime.notification_worker() is None


def test_a_serving_gateway_delivers_a_code_a_page_queued_through_notify(
    notify_settings: Settings, notify_api: NotifyApiStandIn, email: str
) -> None:
    with threaded_gateway(notify_settings) as base_url:
        browser = Browser(base_url)
        try:
            response = browser.submit(
                "/create-account",
                "/create-account",
                {"email": email, "password": "amber lantern quietly 42"},
            )
            assert response.url.path == "/create-account/check-email", response.text
            [received] = wait_for(notify_api, email)
            code = received.payload["personalisation"]["code"]
            response = browser.post("/create-account/check-email", {"code": code})
            assert response.url.path == "/account", response.text
        finally:
            browser.close()


async def test_govconnect_worker_once_delivers_what_is_queued(
    default_queue: QueuedNotifier,
    worker_env: dict[str, str],
    tmp_path: Path,
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    await default_queue.send(Notification(Channel.EMAIL, email, "sign-in-code", {"code": CODE}))
    ran = await asyncio.to_thread(run_cli, worker_env, tmp_path, "worker", "--once", "--json")
    result = json.loads(ran.stdout)
    assert result["delivered"] >= 1 and result["dead_lettered"] == 0
    [received] = sent_to(notify_api, email)
    assert received.payload["personalisation"] == {"code": CODE}


@pytest.fixture
def worker_process(worker_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker"],
        cwd=tmp_path,
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("wb"),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_govconnect_worker_delivers_until_sigterm_then_leaves_the_group(
    default_queue: QueuedNotifier,
    runtime: Runtime,
    worker_process: subprocess.Popen[bytes],
    notify_api: NotifyApiStandIn,
    email: str,
) -> None:
    await default_queue.send(Notification(Channel.EMAIL, email, "sign-in-code", {"code": CODE}))
    received = await asyncio.to_thread(wait_for, notify_api, email)
    assert [r.payload["personalisation"] for r in received] == [{"code": CODE}]
    worker_process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker_process.wait, 30) == 0
    ours = f"{socket.gethostname()}-{worker_process.pid}-"
    consumers = await NotificationQueueStore(runtime.redis).consumers()
    assert not [c.name for c in consumers if c.name.startswith(ours)]


def test_govconnect_worker_explains_that_development_has_no_notification_queue(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in worker_env.items() if not k.startswith("GOVCONNECT_NOTIFY_")}
    result = run_cli(env, tmp_path, "worker", "--once")
    assert "straight to the local development outbox" in result.stdout
