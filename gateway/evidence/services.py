"""Appending to and verifying the hash-chained evidence log (DESIGN.md §3.5).

Each entry's hash is SHA-256 over the previous hash and the canonical JSON of the entry, so
changing, removing or reordering any entry breaks every link after it. Sequence numbers are
the stream ids, so a gap is visible too.

Signed checkpoints: every ``checkpoint_every`` entries (and on demand) the gateway signs
``{chain, seq, hash, time}`` with its ES256 key ring, a compact JWS (RFC 7515 §7.1) of JWT
claims (RFC 7519) with ``typ`` :data:`~gateway.evidence.models.CHECKPOINT_TYPE`. A hash chain
alone proves order but not that nobody rebuilt it from some entry on, or cut its tail; a
checkpoint names an entry's hash under a key the store does not hold, so
:meth:`EvidenceLog.verify` catches both, up to the last checkpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.core.clock import Clock
from gateway.core.errors import ConfigurationError
from gateway.evidence.errors import ChainContentionError
from gateway.evidence.models import (
    CHECKPOINT_TYPE,
    GENESIS,
    ChainCheck,
    Checkpoint,
    Entry,
    Event,
)
from gateway.evidence.store import EvidenceStore

MAX_APPEND_ATTEMPTS = 50
PAGE = 1000


class CheckpointKeys(Protocol):
    """What signs and checks checkpoints: the gateway's key ring
    (:class:`gateway.signing.services.KeyRing`)."""

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        alg: str = "ES256",
        typ: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str: ...

    def jwks(self) -> dict[str, Any]: ...

    def archive(self) -> dict[str, Any]: ...


_Waiter = tuple[Sequence[Event], "asyncio.Future[list[Entry]]"]


class EvidenceLog:
    """Appends are serialised within a process (one lock) and chained from the head this
    process last wrote; the store's compare-and-set still decides, so another process moving
    the head costs another attempt (chained from the head the refusal names), never a fork.

    Appends are committed in groups: callers waiting while an append is under way join the
    next one, so a busy process writes many callers' entries in one round trip (with
    ``appendfsync always`` each write waits for a disk flush, which would otherwise bound the
    whole process to one caller per flush). Each caller still gets exactly its own entries,
    in its order, all or none."""

    def __init__(
        self,
        store: EvidenceStore,
        clock: Clock,
        *,
        keys: CheckpointKeys | None = None,
        checkpoint_every: int = 0,
        issuer: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._every = checkpoint_every if keys is not None else 0
        self._issuer = issuer
        self._lock = asyncio.Lock()
        self._waiting: list[_Waiter] = []
        # NOTE: a hint, not state: a stale head only fails the compare-and-set, which answers
        # with the current one.
        self._head: tuple[int, str] | None = None

    async def record(self, event: Event) -> Entry:
        """Chain the event after the current head; retried when another writer moved it."""
        return (await self.record_many([event]))[0]

    async def record_many(self, events: Sequence[Event]) -> list[Entry]:
        """Chain ``events`` in order after the current head: all or none, in one write
        (shared with other callers waiting at the same time)."""
        if not events:
            return []
        done: asyncio.Future[list[Entry]] = asyncio.get_running_loop().create_future()
        self._waiting.append((events, done))
        async with self._lock:
            if not done.done():  # nobody took this caller's events into their group yet
                group, self._waiting = self._waiting, []
                try:
                    entries = await self._append([e for events_, _ in group for e in events_])
                except BaseException as exc:
                    failure = (
                        exc
                        if isinstance(exc, Exception)
                        else ChainContentionError("The append was interrupted; retry.")
                    )
                    for _, waiter in group:
                        if not waiter.done():  # a caller cancelled meanwhile is done
                            waiter.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    offset = 0
                    for events_, waiter in group:
                        if not waiter.done():
                            waiter.set_result(entries[offset : offset + len(events_)])
                        offset += len(events_)
        return await done

    async def _append(self, events: Sequence[Event]) -> list[Entry]:
        for _ in range(MAX_APPEND_ATTEMPTS):
            if self._head is None:
                seq, head = await self._store.head()
                self._head = (seq, head or GENESIS)
            seq, prev = self._head
            time = self._clock.now().isoformat()
            entries: list[Entry] = []
            for offset, event in enumerate(events, start=1):
                link_from = entries[-1].hash if entries else prev
                body = Entry(seq + offset, time, event, link_from, "").body()
                digest = Entry.link(link_from, body)
                entries.append(Entry(seq + offset, time, event, link_from, digest))
            rows = [(e.seq, e.hash, e.to_json()) for e in entries]
            moved = await self._store.append(prev, rows)
            if moved is None:
                last = entries[-1]
                self._head = (last.seq, last.hash)
                if self._every and last.seq // self._every > seq // self._every:
                    await self._sign(last.seq, last.hash)
                return entries
            self._head = moved  # another writer's head: the next attempt chains from it
        raise ChainContentionError(
            "The evidence log is under heavy contention; the change was not made. Retry."
        )

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (``govconnect audit checkpoint``); None for an empty
        log."""
        seq, head = await self.head()
        if head is None:
            return None
        return await self._sign(seq, head)

    async def _sign(self, seq: int, digest: str) -> Checkpoint:
        if self._keys is None:
            raise ConfigurationError("This evidence log has no key to sign checkpoints with.")
        time = self._clock.now()
        claims: dict[str, Any] = {
            "chain": self._store.chain,
            "seq": seq,
            "hash": digest,
            "time": time.isoformat(),
            "iat": int(time.timestamp()),
        }
        if self._issuer is not None:
            claims["iss"] = self._issuer
        signed = self._keys.sign(claims, typ=CHECKPOINT_TYPE)
        await self._store.add_checkpoint(seq, signed)
        return Checkpoint(self._store.chain, seq, digest, claims["time"], signed)

    async def head(self) -> tuple[int, str | None]:
        """(the last sequence number, its hash); (0, None) for an empty log."""
        return await self._store.head()

    async def entries(self, after_seq: int = 0, limit: int = 100) -> list[dict[str, object]]:
        return list(await self._store.read(after_seq, limit))

    async def verify(self) -> ChainCheck:
        """Walk the whole chain from the start; name the first entry whose link fails, or
        the first checkpoint whose signature fails or whose entry differs or is missing."""
        checkpoints = await self._store.checkpoints()
        keys = self._verification_keys() if checkpoints else None
        prev, expected_seq, count, signed = GENESIS, 1, 0, 0
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
                if count in checkpoints:
                    assert keys is not None
                    problem = self._check_checkpoint(checkpoints[count], keys, count, prev)
                    if problem is not None:
                        return ChainCheck(
                            count, prev, None, problem, checkpoints=signed, broken_checkpoint=count
                        )
                    signed += 1
            after = expected_seq - 1
        beyond = sorted(s for s in checkpoints if s > count)
        if beyond:
            return ChainCheck(
                count,
                prev,
                count + 1,
                f"a signed checkpoint names entry {beyond[0]}, but the log ends at {count}: "
                "entries were removed",
                checkpoints=signed,
                broken_checkpoint=beyond[0],
            )
        seq, head = await self._store.head()
        if seq != count or (head or GENESIS) != prev:
            return ChainCheck(
                count, prev, count + 1, "the head names entries that are missing", signed
            )
        return ChainCheck(count, prev, checkpoints=signed)

    def _verification_keys(self) -> KeySet | None:
        if self._keys is None:
            return None
        return KeySet.import_key_set(
            {"keys": [*self._keys.jwks()["keys"], *self._keys.archive()["keys"]]}
        )

    def _check_checkpoint(
        self, token: str, keys: KeySet | None, seq: int, digest: str
    ) -> str | None:
        """Why the checkpoint of entry ``seq`` fails, or None when it holds."""
        if keys is None:
            return f"checkpoint at entry {seq}: no keys here to check its signature"
        try:
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
        except (JoseError, ValueError, TypeError):
            return f"checkpoint at entry {seq}: its signature does not verify"
        claims = decoded.claims
        if decoded.header.get("typ") != CHECKPOINT_TYPE or claims.get("chain") != self._store.chain:
            return f"checkpoint at entry {seq}: not a checkpoint of this chain"
        if claims.get("seq") != seq or claims.get("hash") != digest:
            return f"checkpoint at entry {seq}: it signs another hash than the entry's"
        return None
