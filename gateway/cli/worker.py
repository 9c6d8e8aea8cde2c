"""``govconnect worker``: deliver every durable queue, without serving HTTP.

The queues (each a Redis Streams consumer group, :mod:`gateway.core.queue`): email and text
messages for GOV.UK Notify (only when ``GOVCONNECT_NOTIFY_API_KEY`` is set; in development
they go straight to the local outbox and there is no queue), back-channel logout tokens
(OpenID Connect Back-Channel Logout 1.0), and submission pushes (Standard Webhooks). Every
``govconnect serve`` process runs the same workers; this command runs them on their own (on
another machine, or to catch up after an outage). Any number may run at once: each joins
each queue's consumer group under a name of its own, and a worker killed mid-delivery leaves
its entries pending for another to reclaim (``XAUTOCLAIM``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any

import typer

from gateway.cli.common import JsonOption, emit, fail, run_async, settings
from gateway.core.errors import ConfigurationError
from gateway.core.observability import configure_logging
from gateway.core.queue import StreamWorker, running
from gateway.delivery.worker import delivery_worker
from gateway.logout.worker import backchannel_worker
from gateway.runtime import Runtime, open_runtime
from payments.worker import payments_worker

OUTBOX_NOTE = (
    "notifications: no queue (without GOVCONNECT_NOTIFY_API_KEY, email and text messages go "
    "straight to the local development outbox)"
)
COUNTS = ("delivered", "retrying", "dead_lettered", "reclaimed")


def _workers(runtime: Runtime) -> dict[str, StreamWorker[Any] | None]:
    """Every queue's worker, by queue; None where a queue does not exist here."""
    return {
        "notifications": runtime.notification_worker(),
        "backchannel-logout": backchannel_worker(runtime),
        "submissions": delivery_worker(runtime),
        # Payment webhooks, and the mop-up of abandoned payments (payments/worker.py).
        "payments": payments_worker(runtime),
    }


async def _drain(worker: StreamWorker[Any]) -> dict[str, int]:
    try:
        drained = await worker.drain()
    finally:
        await worker.leave()
        await worker.close()
    return {name: getattr(drained, name) for name in COUNTS}


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Make one pass over every queue, then stop.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deliver queued notifications, back-channel logout tokens and submission pushes until
    SIGINT or SIGTERM."""
    config = settings()
    try:
        config.check_production()
    except ConfigurationError as exc:
        fail(exc.detail)
    configure_logging(config.log_level)

    async def main() -> None:
        async with open_runtime(config) as runtime:
            workers = _workers(runtime)
            if once:
                queues = {
                    name: None if found is None else await _drain(found)
                    for name, found in workers.items()
                }
                totals = {
                    name: sum(q[name] for q in queues.values() if q is not None) for name in COUNTS
                }
                lines = [
                    OUTBOX_NOTE
                    if counts is None
                    else f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                    for name, counts in queues.items()
                ]
                emit({**totals, "queues": queues}, as_json, lines)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            async with contextlib.AsyncExitStack() as stack:
                for found in workers.values():
                    await stack.enter_async_context(running(found))
                await stop.wait()

    run_async(main())
