"""The shared queue machinery (gateway.core.queue) where the notification and logout queue
tests do not reach: running() around a worker, the tuning defaults and checks, and an entry
whose consumers keep stopping when the worker does not limit redeliveries."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any, Unpack

import pytest

from gateway.core.keyspace import tagged
from gateway.core.queue import (
    Delivered,
    Drained,
    Failed,
    QueueEntry,
    StreamQueue,
    StreamWorker,
    Tuning,
    running,
)
from gateway.runtime import Runtime

log = logging.getLogger(__name__)


class Recorder(StreamWorker[dict[str, Any]]):
    """Records each job; fails a job with ``"fail"`` set, retryably."""

    noun = "test job"
    task_name = "test-worker"
    malformed_reason = "not a test job"
    retry_message = "test job not delivered; will retry"
    stop_grace_seconds = 5.0
    limit_unacknowledged = False
    defaults = Tuning(
        max_attempts=2, retry_base_seconds=0, retry_max_seconds=0, claim_idle_seconds=0.1
    )

    def __init__(self, store: StreamQueue, **tuning: Unpack[Tuning]) -> None:
        super().__init__(
            store, consumer=secrets.token_hex(4), log=log, now=lambda: datetime.now(UTC), **tuning
        )
        self.delivered: list[dict[str, Any]] = []
        self.closed = False

    def decode(self, entry: QueueEntry, attempt: int) -> dict[str, Any]:
        job = json.loads(entry.data or "null")
        if not isinstance(job, dict):
            raise TypeError("not an object")
        return job

    def facts(self, job: dict[str, Any], entry: QueueEntry, attempt: int) -> dict[str, Any]:
        return {"queue_entry": entry.id, "attempt": attempt}

    async def deliver(self, job: dict[str, Any], attempt: int) -> Delivered | Failed:
        if job.get("fail"):
            return Failed("failing", "asked to fail", retryable=True)
        self.delivered.append(job)
        return Delivered("test job delivered")

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def store(runtime: Runtime) -> StreamQueue:
    name = secrets.token_hex(6)
    return StreamQueue(
        runtime.redis,
        key=tagged("test", name),
        dead_letter_key=tagged("test", name, "dead"),
        group="g",
        field="j",
        dead_letter_maxlen=100,
    )


async def test_running_delivers_in_the_background_then_stops_leaves_and_closes(
    store: StreamQueue,
) -> None:
    worker = Recorder(store, block_seconds=0.05)
    async with running(worker):
        await store.add_many([{"n": 1}, {"n": 2}])
        for _ in range(200):
            if len(worker.delivered) == 2:
                break
            await asyncio.sleep(0.02)
    assert sorted(job["n"] for job in worker.delivered) == [1, 2]
    assert worker.closed and await store.length() == 0
    assert worker.consumer not in {c.name for c in await store.consumers()}
    async with running(None):  # nothing to run: a no-op
        pass


async def test_tuning_is_checked_and_defaults_fill_what_is_not_given(store: StreamQueue) -> None:
    with pytest.raises(ValueError, match="retry_max_seconds"):
        Recorder(store, retry_max_seconds=1.0)  # longer than the default claim idle time
    with pytest.raises(ValueError, match="at least 1"):
        Recorder(store, batch=0)
    await store.add({"fail": True})
    worker = Recorder(store)
    assert await worker.drain() == Drained(retrying=1)
    assert await worker.drain() == Drained(dead_lettered=1)  # max_attempts=2 from defaults
    [dead] = await store.dead_letters()
    assert (dead["error"], dead["attempts"]) == ("failing", "2")


async def test_without_a_redelivery_limit_a_stopped_consumers_entry_is_delivered(
    store: StreamQueue,
) -> None:
    await store.add({"n": 1})
    await store.ensure_group()
    for consumer in ("died-1", "died-2", "died-3"):  # three deliveries, none acknowledged
        await asyncio.sleep(0.15)
        if consumer == "died-1":
            assert len(await store.read_new(consumer, 10, None)) == 1
        else:
            assert len(await store.claim(consumer, 100, [(await store.pending())[0].id])) == 1
    await asyncio.sleep(0.15)
    worker = Recorder(store)  # max_attempts=2, but limit_unacknowledged is off
    drained = await worker.drain()
    assert drained == Drained(delivered=1, reclaimed=1) and drained.handled == 1
    assert worker.delivered == [{"n": 1}] and await store.dead_letters() == []
