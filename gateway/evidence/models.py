"""Entries of the evidence log and the result of checking the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same content, every time."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: who did what to which thing, with details."""

    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """An event placed in the chain: ``hash = SHA-256(prev ‖ canonical(body))``."""

    seq: int
    time: str
    event: Event
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.event.actor,
            "action": self.event.action,
            "subject": self.event.subject,
            "details": self.event.details,
        }

    @staticmethod
    def link(prev: str, body: dict[str, Any]) -> str:
        return hashlib.sha256(prev.encode() + canonical_json(body)).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "prev": self.prev, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``audit verify`` found: how many entries and signed checkpoints hold, and the
    first broken entry (or the entry a broken checkpoint names) if any."""

    entries: int
    head: str
    first_broken_seq: int | None = None
    reason: str | None = None
    checkpoints: int = 0
    broken_checkpoint: int | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None and self.broken_checkpoint is None


CHECKPOINT_TYPE = "evidence-checkpoint+jwt"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that entry ``seq`` of ``chain`` has ``hash`` (and, by the chain,
    that every entry before it is as it was), as a compact JWS by the gateway's key."""

    chain: str
    seq: int
    hash: str
    time: str
    jws: str
