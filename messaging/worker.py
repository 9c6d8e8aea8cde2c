"""The scheduled sweep every ``govconnect serve`` process runs: new-message notifications
that are due (batched per person, reminders for messages still unread) and messages whose
retention has ended. Each sweep takes its work atomically from Redis, so any number of
processes can sweep at once and each notification or destruction happens once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gateway.runtime import Runtime

log = logging.getLogger(__name__)


async def sweep(runtime: Runtime) -> tuple[int, int]:
    """One pass: (notifications sent, messages destroyed)."""
    messaging = runtime.messaging
    return await messaging.sweep_notifications(), await messaging.sweep_retention()


async def _loop(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.messaging_sweep_seconds
    while not stop.is_set():
        try:
            await sweep(runtime)
        except Exception as exc:
            # NOTE: a batch is taken before it is queued for sending, so a pass that fails
            # between the two (Redis lost mid-pass) drops that batch; the reminder still due
            # for each unread message sends it again later.
            log.error("messaging sweep failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


@contextlib.asynccontextmanager
async def sweeping(runtime: Runtime) -> AsyncIterator[None]:
    """Sweep in the background for the length of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(runtime, stop), name="messaging-sweep")
    try:
        yield
    finally:
        stop.set()
        await task
