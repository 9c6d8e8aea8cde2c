"""The evidence log chains every entry to the one before and detects any break."""

from __future__ import annotations

import asyncio
import secrets
from itertools import pairwise

import pytest
import redis.asyncio
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.core.clock import SystemClock
from gateway.core.keyspace import tagged
from gateway.core.settings import Settings
from gateway.evidence.models import CHECKPOINT_TYPE, GENESIS, Entry, Event
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
    assert await store.append(entry.hash, [(2, forged.hash, forged.to_json())]) is None
    check = await log.verify()
    assert not check.ok
    assert check.first_broken_seq == 2
    assert check.reason is not None and "hash" in check.reason


async def test_an_append_from_a_stale_head_is_refused(runtime: Runtime) -> None:
    """Compare-and-set: a writer that chained from an old head cannot add a fork."""
    log, store = fresh_log(runtime)
    first = await log.record(Event("cli:a", "one", "x"))
    stale = Entry(2, "t", Event("cli:b", "fork", "x"), GENESIS, "0" * 64)
    # Refused, and told the head to chain from instead.
    assert await store.append(GENESIS, [(2, stale.hash, stale.to_json())]) == (1, first.hash)
    assert (await log.verify()).entries == 1


async def test_appends_read_the_same_over_resp3(settings: Settings) -> None:
    """A store URL may ask for RESP3 (``?protocol=3``): an append and a refusal must read
    the same over it, or a committed append would be retried and its events written
    twice."""
    if settings.redis_cluster:
        pytest.skip("a single-server client on purpose")
    client = redis.asyncio.Redis.from_url(
        settings.redis_url or "", protocol=3, decode_responses=True
    )
    try:
        store = EvidenceStore(client, chain=f"test-{secrets.token_hex(6)}")
        log = EvidenceLog(store, SystemClock())
        first = await log.record(Event("cli:a", "one", "x"))
        assert (await log.record(Event("cli:a", "two", "x"))).prev == first.hash
        stale = Entry(2, "t", Event("cli:b", "fork", "x"), GENESIS, "0" * 64)
        assert await store.append(GENESIS, [(2, stale.hash, stale.to_json())]) == (
            2,
            (await store.head())[1],
        )
        check = await log.verify()
        assert check.ok and check.entries == 2
    finally:
        await client.aclose()


async def test_processes_writing_one_chain_in_turn_never_fork_it(runtime: Runtime) -> None:
    """Two logs on one chain stand for two gateway processes: each one's remembered head
    is stale after the other writes, so most appends are refused once and chained again
    from the head the refusal names."""
    first, store = fresh_log(runtime)
    second = EvidenceLog(EvidenceStore(runtime.redis, chain=store.chain), SystemClock())
    written = []
    for n in range(10):
        for log in (first, second):
            written.append(await log.record(Event("cli:w", "tick", str(n))))
    assert [entry.seq for entry in written] == list(range(1, 21))
    assert all(b.prev == a.hash for a, b in pairwise(written))
    check = await log.verify()
    assert check.ok and check.entries == 20 and check.head == written[-1].hash


def signed_log(runtime: Runtime, every: int = 5) -> tuple[EvidenceLog, EvidenceStore]:
    """A chain of its own whose checkpoints the gateway's key ring signs every ``every``."""
    store = EvidenceStore(runtime.redis, chain=f"test-{secrets.token_hex(6)}")
    return EvidenceLog(store, SystemClock(), keys=runtime.keys, checkpoint_every=every), store


async def _rebuild(runtime: Runtime, store: EvidenceStore, rows: list[dict[str, object]]) -> None:
    """What an attacker with the store (but not the signing key) can do: replace the log
    with ``rows``, re-linked so every hash matches, and move the head to match."""
    await runtime.redis.delete(tagged(f"evidence:{store.chain}", "log"))
    await runtime.redis.delete(tagged(f"evidence:{store.chain}", "head"))
    prev = GENESIS
    for raw in rows:
        details = raw["details"]
        assert isinstance(details, dict)
        event = Event(str(raw["actor"]), str(raw["action"]), str(raw["subject"]), details)
        seq, time = int(str(raw["seq"])), str(raw["time"])
        entry = Entry(
            seq, time, event, prev, Entry.link(prev, Entry(seq, time, event, prev, "").body())
        )
        assert await store.append(prev, [(entry.seq, entry.hash, entry.to_json())]) is None
        prev = entry.hash


async def test_checkpoints_are_signed_every_n_entries_and_verify(runtime: Runtime) -> None:
    log, store = signed_log(runtime)
    for n in range(12):
        await log.record(Event("cli:a", "tick", str(n)))
    assert sorted(await store.checkpoints()) == [5, 10]
    check = await log.verify()
    assert check.ok and check.entries == 12 and check.checkpoints == 2
    on_demand = await log.checkpoint()
    assert on_demand is not None and on_demand.seq == 12
    assert (await log.verify()).checkpoints == 3


async def test_a_chain_rebuilt_from_a_changed_entry_fails_at_the_next_checkpoint(
    runtime: Runtime,
) -> None:
    log, store = signed_log(runtime)
    for n in range(7):
        await log.record(Event("cli:a", "tick", str(n)))
    rows = await store.read(0, 100)
    rows[2] = {**rows[2], "details": {"forged": True}}
    await _rebuild(runtime, store, rows)
    check = await log.verify()
    assert not check.ok and check.broken_checkpoint == 5
    assert check.reason is not None and "another hash" in check.reason


async def test_a_cut_tail_is_caught_by_a_checkpoint_beyond_the_end(runtime: Runtime) -> None:
    log, store = signed_log(runtime)
    for n in range(6):
        await log.record(Event("cli:a", "tick", str(n)))
    await _rebuild(runtime, store, (await store.read(0, 100))[:3])
    check = await log.verify()
    assert not check.ok and check.broken_checkpoint == 5
    assert check.reason is not None and "entries were removed" in check.reason


async def test_a_checkpoint_signed_by_another_key_is_named(runtime: Runtime) -> None:
    log, store = signed_log(runtime)
    for n in range(5):
        await log.record(Event("cli:a", "tick", str(n)))
    head = (await store.read(0, 100))[-1]
    forged = jwt.encode(
        {"alg": "ES256", "kid": runtime.keys.current("ES256").kid, "typ": CHECKPOINT_TYPE},
        {"chain": store.chain, "seq": 5, "hash": head["hash"]},
        ECKey.generate_key("P-256"),
    )
    await runtime.redis.hset(tagged(f"evidence:{store.chain}", "checkpoints"), "5", forged)
    check = await log.verify()
    assert not check.ok and check.broken_checkpoint == 5
    assert check.reason is not None and "does not verify" in check.reason


async def test_concurrent_callers_share_writes_but_each_gets_its_own_entries(
    runtime: Runtime,
) -> None:
    log, _ = fresh_log(runtime)
    results = await asyncio.gather(
        *(
            log.record_many([Event("cli:w", "pair", f"{i}-a"), Event("cli:w", "pair", f"{i}-b")])
            for i in range(20)
        )
    )
    for i, (first, second) in enumerate(results):
        assert (first.event.subject, second.event.subject) == (f"{i}-a", f"{i}-b")
        assert second.seq == first.seq + 1 and second.prev == first.hash
    check = await log.verify()
    assert check.ok and check.entries == 40
