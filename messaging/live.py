"""Live updates of open inbox pages: readers' open pages are told *that* something changed,
by server-sent events (WHATWG HTML Living Standard §9.2), never *what* a message says.

**Publishing.** Each change a page shows — a new message from either side, or a message
opened for the first time (its read receipt) — is appended to a Redis stream per reader
account (``{gc:mlive:<account>}``, :mod:`messaging.store`): the citizen or every member of
the business, every staff member of the team, and every agent user who may read a citizen's
conversation for them at that moment (an active relationship for its service,
:meth:`~messaging.services.Messaging.as_delegate`). An entry holds the conversation id, the
side that reader is on, and whether it is news to them (:attr:`Change.NEW`, a message from
the other side) or only an update (a message from their own side, a read receipt); an
agent's entry also names the relationship it came by, so it shows only on that
relationship's delegated pages, never on the agent's own inbox. No subject, body, name,
reference or count: the page fetches itself again to see what changed.
One stream per reader keeps every write and every read in one slot (Redis Cluster), and a
reader's page waits on one key whatever inboxes it shows.

**Watching.** :meth:`LiveUpdates.watch` reads the signed-in reader's stream from where the
page was rendered (or the browser's ``Last-Event-ID`` after a reconnect), so a change between
the render and the connection is not lost, and any gateway process serves any page: the state
is in Redis, none in the process. It polls (``XREAD`` without ``BLOCK``, every
:data:`POLL_SECONDS`) rather than waiting in Redis: a blocked read would hold one of the
process's store connections (``GOVCONNECT_REDIS_MAX_CONNECTIONS``, shared with every request)
for as long as a page stays open, so a few hundred open pages would starve the rest; a poll
holds one for a fraction of a millisecond. It yields the changes
its :class:`View` shows, a heartbeat every ``GOVCONNECT_MESSAGING_LIVE_HEARTBEAT_SECONDS``
(when it also checks that the session is still live, and ends when it is not), and ends after
``GOVCONNECT_MESSAGING_LIVE_SECONDS`` (the browser reconnects). A session holds at most
``GOVCONNECT_MESSAGING_LIVE_STREAMS_PER_SESSION`` streams at once (:meth:`LiveUpdates.lease`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import anyio

from gateway.core.clock import Clock
from gateway.core.settings import Settings
from messaging.errors import LiveStreamLimitError
from messaging.models import Side
from messaging.store import MessagingStore

# A Redis stream entry id (``<ms>-<seq>``): the only Last-Event-ID a stream accepts.
EVENT_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
# How often an open stream looks for changes: the most a change waits to be told.
POLL_SECONDS = 1.0


class Change(StrEnum):
    NEW = "new"  # a message from the other side: news to this reader
    UPDATED = "updated"  # a message from the reader's own side, or a read receipt


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """``GOVCONNECT_MESSAGING_LIVE_*``."""

    lifetime: float
    heartbeat: float
    per_session: int

    @classmethod
    def of(cls, settings: Settings) -> LiveSettings:
        return cls(
            lifetime=settings.messaging_live_seconds,
            heartbeat=settings.messaging_live_heartbeat_seconds,
            per_session=settings.messaging_live_streams_per_session,
        )


@dataclass(frozen=True, slots=True)
class View:
    """What one open page shows: one side's inboxes, or one conversation on one side; an
    agent's delegated pages, those of one relationship (a reader's own pages, none)."""

    side: Side
    conversation_id: str | None = None
    relationship_id: str | None = None

    def shows(self, fields: dict[str, str]) -> bool:
        if fields.get("side") != self.side.value:
            return False
        if fields.get("relationship", "") != (self.relationship_id or ""):
            return False
        return self.conversation_id is None or fields.get("conversation") == self.conversation_id


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A change the page shows: which conversation, and whether it is news."""

    id: str
    conversation_id: str
    change: Change

    def to_json(self) -> dict[str, str]:
        return {"conversation": self.conversation_id, "change": self.change.value}


@dataclass(frozen=True, slots=True)
class Position:
    """How far the stream has read, with nothing to show: the page's next ``Last-Event-ID``."""

    id: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing happened; the connection is alive (and so is the session)."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The stream is over: its lifetime is up (the browser reconnects) or its session ended
    (the reconnect gets 204 and stops)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Lease:
    """One of a session's open streams (counted against its cap until released)."""

    account_id: str
    session_handle: str
    id: str


Item = LiveEvent | Position | Heartbeat | Ended


class LiveUpdates:
    def __init__(self, store: MessagingStore, clock: Clock, settings: LiveSettings) -> None:
        self._store = store
        self._clock = clock
        self.settings = settings

    async def publish(
        self,
        conversation_id: str,
        by: Side,
        *,
        message: bool,
        citizens: Iterable[str],
        staff: Iterable[str],
        delegates: Iterable[tuple[str, str]],
    ) -> None:
        """Tell both sides' readers that the conversation changed: a message written by
        ``by`` (``message``), or one of ``by``'s readers opening messages for the first time.
        ``delegates`` are ``(relationship id, account id)``: agents reading on the citizen's
        side under that relationship."""

        def entry(side: Side) -> dict[str, str]:
            news = message and side is not by
            change = Change.NEW if news else Change.UPDATED
            return {"conversation": conversation_id, "side": side.value, "change": change.value}

        await self._store.signal(
            [(account, entry(Side.CITIZEN)) for account in citizens]
            + [(account, entry(Side.COUNCIL)) for account in staff]
            + [
                (account, {**entry(Side.CITIZEN), "relationship": relationship_id})
                for relationship_id, account in delegates
            ]
        )

    async def position(self, account_id: str) -> str:
        """Where the reader's stream is now: a page rendered now watches from here."""
        return await self._store.last_signal(account_id)

    async def lease(self, account_id: str, session_handle: str) -> Lease:
        """Open one more stream for the session, or :class:`LiveStreamLimitError` at the cap.
        A lease not released (its process died) lapses when its stream would have ended."""
        now = self._clock.now()
        # The stream's last poll may start just before its lifetime is up.
        until = now + timedelta(seconds=self.settings.lifetime + POLL_SECONDS + 1)
        lease = Lease(account_id, session_handle, secrets.token_urlsafe(12))
        if not await self._store.open_stream(
            account_id, session_handle, lease.id, now, until, self.settings.per_session
        ):
            raise LiveStreamLimitError(
                f"This session already has {self.settings.per_session} live-update streams "
                "open; close a page, or reload this one later."
            )
        return lease

    async def watch(
        self, lease: Lease, view: View, after: str | None, alive: Callable[[], Awaitable[bool]]
    ) -> AsyncIterator[Item]:
        """The changes ``view`` shows after ``after`` (a stream id; otherwise from now), a
        :class:`Heartbeat` now and then, until the lifetime is up or ``alive()`` says the
        session has ended (then :class:`Ended` says which). Releases the lease however it
        ends (a disconnected browser cancels the generator)."""
        settings = self.settings
        try:
            position = after if after and EVENT_ID.fullmatch(after) else None
            position = position or await self._store.last_signal(lease.account_id)
            yield Position(position)
            started = time.monotonic()
            deadline, beat = started + settings.lifetime, started + settings.heartbeat
            while time.monotonic() < deadline:
                changes = await self._store.signals(lease.account_id, position)
                shown = False
                for entry_id, fields in changes:
                    position = entry_id
                    if view.shows(fields):
                        shown = True
                        change = Change(fields.get("change", Change.UPDATED.value))
                        yield LiveEvent(entry_id, fields.get("conversation", ""), change)
                if changes and not shown:
                    yield Position(position)
                if time.monotonic() >= beat:
                    if not await alive():
                        yield Ended("session")
                        return
                    yield Heartbeat()
                    beat = time.monotonic() + settings.heartbeat
                if not changes:
                    await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            yield Ended("lifetime")
        finally:
            # A browser going away cancels the stream; releasing must still reach Redis.
            with anyio.CancelScope(shield=True):
                await self._store.close_stream(lease.account_id, lease.session_handle, lease.id)
