"""``govconnect worker``: deliver queued notifications, without serving HTTP.

Every ``govconnect serve`` process already runs a delivery worker; this command runs one on
its own (on another machine, or to catch up after an outage). Any number may run at once:
each joins the queue's consumer group under a name of its own.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from gateway.cli.common import JsonOption, emit, fail, run_async, settings
from gateway.core.errors import ConfigurationError
from gateway.core.observability import configure_logging
from gateway.runtime import open_runtime

NOTHING_QUEUED = (
    "there is no queue to deliver: without GOVCONNECT_NOTIFY_API_KEY, email and text "
    "messages go straight to the local development outbox"
)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Make one pass over the queue, then stop.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deliver queued email and text messages through GOV.UK Notify until SIGINT or SIGTERM."""
    config = settings()
    try:
        config.check_production()
    except ConfigurationError as exc:
        fail(exc.detail)
    configure_logging(config.log_level)

    async def main() -> None:
        async with open_runtime(config) as runtime:
            delivery = runtime.notification_worker()
            if delivery is None:
                fail(NOTHING_QUEUED)
            if once:
                drained = await delivery.drain_once()
                await delivery.leave()
                emit(
                    {
                        "delivered": drained.delivered,
                        "retrying": drained.retrying,
                        "dead_lettered": drained.dead_lettered,
                        "reclaimed": drained.reclaimed,
                    },
                    as_json,
                )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await delivery.run(stop)

    run_async(main())
