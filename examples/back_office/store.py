"""The back office's own records: one SQLite file, one row per submission id.

Duplicate elimination (AS4 style): a submission is inserted with ``INSERT … ON CONFLICT DO
NOTHING`` on its id, so a push retried after a lost answer, or the same submission pushed
and pulled, is stored once. A row is committed (``synchronous=FULL`` in WAL mode) before the
gateway is told it arrived. SQLite work runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    payload_sha256 TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received_via TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    case_reference TEXT
);
CREATE TABLE IF NOT EXISTS attachments (
    submission_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (submission_id, sha256)
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Record:
    number: int
    id: str
    payload_sha256: str
    envelope: dict[str, Any]
    acknowledged: bool
    case_reference: str | None


class Store:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            with db:
                yield db
        finally:
            db.close()

    async def add(
        self,
        submission_id: str,
        payload_sha256: str,
        envelope: dict[str, Any],
        files: Sequence[StoredFile],
        via: str,
    ) -> bool:
        """Store a submission once; False when it was stored already (a duplicate)."""

        def write() -> bool:
            with self._connection() as db:
                added = db.execute(
                    "INSERT INTO submissions (id, payload_sha256, envelope, received_via) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (submission_id, payload_sha256, json.dumps(envelope), via),
                ).rowcount
                if added:
                    db.executemany(
                        "INSERT INTO attachments VALUES (?, ?, ?, ?, ?)",
                        [(submission_id, f.sha256, f.name, f.media_type, f.content) for f in files],
                    )
                return bool(added)

        return await asyncio.to_thread(write)

    async def unsettled(self, limit: int = 100) -> list[Record]:
        """Stored submissions not yet acknowledged or answered, oldest first."""
        return await self._records(
            "SELECT number, id, payload_sha256, envelope, acknowledged, case_reference "
            "FROM submissions WHERE acknowledged = 0 OR case_reference IS NULL "
            "ORDER BY number LIMIT ?",
            (limit,),
        )

    async def get(self, submission_id: str) -> Record | None:
        found = await self._records(
            "SELECT number, id, payload_sha256, envelope, acknowledged, case_reference "
            "FROM submissions WHERE id = ?",
            (submission_id,),
        )
        return found[0] if found else None

    async def all(self) -> list[Record]:
        return await self._records(
            "SELECT number, id, payload_sha256, envelope, acknowledged, case_reference "
            "FROM submissions ORDER BY number",
            (),
        )

    async def _records(self, query: str, args: tuple[Any, ...]) -> list[Record]:
        def read() -> list[Record]:
            with self._connection() as db:
                rows = db.execute(query, args).fetchall()
            return [Record(r[0], r[1], r[2], json.loads(r[3]), bool(r[4]), r[5]) for r in rows]

        return await asyncio.to_thread(read)

    async def files(self, submission_id: str) -> list[StoredFile]:
        def read() -> list[StoredFile]:
            with self._connection() as db:
                rows = db.execute(
                    "SELECT sha256, name, media_type, content FROM attachments "
                    "WHERE submission_id = ?",
                    (submission_id,),
                ).fetchall()
            return [StoredFile(*row) for row in rows]

        return await asyncio.to_thread(read)

    async def mark_acknowledged(self, submission_id: str) -> None:
        await self._update("UPDATE submissions SET acknowledged = 1 WHERE id = ?", (submission_id,))

    async def set_case_reference(self, submission_id: str, reference: str) -> None:
        await self._update(
            "UPDATE submissions SET case_reference = ? WHERE id = ?", (reference, submission_id)
        )

    async def cursor(self) -> str:
        def read() -> str:
            with self._connection() as db:
                row = db.execute("SELECT value FROM settings WHERE name = 'cursor'").fetchone()
            return str(row[0]) if row else ""

        return await asyncio.to_thread(read)

    async def set_cursor(self, cursor: str) -> None:
        await self._update(
            "INSERT INTO settings VALUES ('cursor', ?) ON CONFLICT (name) DO UPDATE SET value = ?",
            (cursor, cursor),
        )

    async def _update(self, sql: str, args: tuple[Any, ...]) -> None:
        def write() -> None:
            with self._connection() as db:
                db.execute(sql, args)

        await asyncio.to_thread(write)
