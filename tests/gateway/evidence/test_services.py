"""The evidence log chains every entry to the one before and detects any break."""

from __future__ import annotations

import asyncio
import secrets

from gateway.core.clock import SystemClock
from gateway.evidence.models import GENESIS, Entry, Event
from gateway.evidence.services import EvidenceLog
from gateway.evidence.store import EvidenceStore
from gateway.runtime import Runtime


def fresh_log(runtime: Runtime) -> tuple[EvidenceLog, EvidenceStore]:
    """A chain of its own, so tampering here cannot disturb the main log other tests use."""
    store = EvidenceStore(runtime.redis, chain=f"test-{secrets.token_hex(6)}")
    return EvidenceLog(store, SystemClock()), store


async def test_entries_link_to_their_predecessor_and_verify(runtime: Runtime) -> None:
    log, _ = fresh_log(runtime)
    first = await log.record(Event("cli:alice", "thing.created", "t1", {"n": 1}))
    second = await log.record(Event("cli:alice", "thing.updated", "t1"))
    assert first.prev == GENESIS and first.seq == 1
    assert second.prev == first.hash and second.seq == 2
    check = await log.verify()
    assert check.ok and check.entries == 2 and check.head == second.hash


async def test_concurrent_writers_never_fork_the_chain(runtime: Runtime) -> None:
    log, _ = fresh_log(runtime)
    await asyncio.gather(*(log.record(Event("cli:w", "tick", str(i))) for i in range(25)))
    check = await log.verify()
    assert check.ok and check.entries == 25


async def test_an_entry_whose_content_does_not_match_its_hash_is_named(runtime: Runtime) -> None:
    log, store = fresh_log(runtime)
    entry = await log.record(Event("cli:a", "one", "x"))
    forged = Entry(2, entry.time, Event("cli:mallory", "two", "x"), entry.hash, "f" * 64)
    assert await store.append(entry.hash, 2, forged.hash, forged.to_json())
    check = await log.verify()
    assert not check.ok
    assert check.first_broken_seq == 2
    assert check.reason is not None and "hash" in check.reason


async def test_an_append_from_a_stale_head_is_refused(runtime: Runtime) -> None:
    """Compare-and-set: a writer that chained from an old head cannot add a fork."""
    log, store = fresh_log(runtime)
    await log.record(Event("cli:a", "one", "x"))
    stale = Entry(2, "t", Event("cli:b", "fork", "x"), GENESIS, "0" * 64)
    assert not await store.append(GENESIS, 2, stale.hash, stale.to_json())
    assert (await log.verify()).entries == 1
