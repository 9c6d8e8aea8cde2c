"""Appending to and verifying the hash-chained evidence log (DESIGN.md §3.5).

Each entry's hash is SHA-256 over the previous hash and the canonical JSON of the entry, so
changing, removing or reordering any entry breaks every link after it. Sequence numbers are
the stream ids, so a gap is visible too.
"""

from __future__ import annotations

import asyncio

from gateway.core.clock import Clock
from gateway.evidence.errors import ChainContentionError
from gateway.evidence.models import GENESIS, ChainCheck, Entry, Event
from gateway.evidence.store import EvidenceStore

MAX_APPEND_ATTEMPTS = 50
PAGE = 1000


class EvidenceLog:
    """Appends are serialised within a process (one lock) and chained from the head this
    process last wrote, so a busy process spends one round trip per entry; the store's
    compare-and-set still decides, so another process moving the head costs a re-read, never
    a fork."""

    def __init__(self, store: EvidenceStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()
        # NOTE: a hint, not state: a stale head only fails the compare-and-set and is re-read.
        self._head: tuple[int, str] | None = None

    async def record(self, event: Event) -> Entry:
        """Chain the event after the current head; retried when another writer moved it."""
        async with self._lock:
            for _ in range(MAX_APPEND_ATTEMPTS):
                if self._head is None:
                    seq, head = await self._store.head()
                    self._head = (seq, head or GENESIS)
                seq, prev = self._head
                draft = Entry(seq + 1, self._clock.now().isoformat(), event, prev, "")
                digest = Entry.link(prev, draft.body())
                entry = Entry(draft.seq, draft.time, event, prev, digest)
                if await self._store.append(prev, entry.seq, digest, entry.to_json()):
                    self._head = (entry.seq, digest)
                    return entry
                self._head = None
        raise ChainContentionError(
            "The evidence log is under heavy contention; the change was not made. Retry."
        )

    async def entries(self, after_seq: int = 0, limit: int = 100) -> list[dict[str, object]]:
        return list(await self._store.read(after_seq, limit))

    async def verify(self) -> ChainCheck:
        """Walk the whole chain from the start; name the first entry whose link fails."""
        prev, expected_seq, count = GENESIS, 1, 0
        after = 0
        while True:
            page = await self._store.read(after, PAGE)
            if not page:
                break
            for raw in page:
                body = {
                    k: raw.get(k) for k in ("seq", "time", "actor", "action", "subject", "details")
                }
                seq = raw.get("seq")
                if seq != expected_seq:
                    return ChainCheck(
                        count, prev, expected_seq, f"expected entry {expected_seq}, found {seq}"
                    )
                if raw.get("prev") != prev:
                    return ChainCheck(
                        count, prev, expected_seq, "prev does not match the entry before"
                    )
                if Entry.link(prev, body) != raw.get("hash"):
                    return ChainCheck(count, prev, expected_seq, "hash does not match the content")
                prev, expected_seq, count = raw["hash"], expected_seq + 1, count + 1
            after = expected_seq - 1
        seq, head = await self._store.head()
        if seq != count or (head or GENESIS) != prev:
            return ChainCheck(count, prev, count + 1, "the head names entries that are missing")
        return ChainCheck(count, prev)
