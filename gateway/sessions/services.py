"""Starting, loading, upgrading and ending browser sessions.

OWASP Session Management: a fresh id at every sign-in and step-up (no fixation), an idle
timeout and an absolute lifetime enforced on the server, and the ability to end one or every
session of an account. However a signed-in session ends, the :class:`LogoutNotifier` hears of
it, so relying parties get a back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.5).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol

from gateway.core.clock import Clock
from gateway.sessions.errors import SessionNotFoundError
from gateway.sessions.models import AuthEvent, AuthMethod, Session, SessionSummary, handle_of
from gateway.sessions.store import SessionStore

# Writing last-seen on every request would cost a Redis write per page; a minute is precise
# enough for an idle timeout measured in hours.
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_USER_AGENT = 200


class LogoutNotifier(Protocol):
    async def session_ended(self, account_id: str, sid: str, clients: frozenset[str]) -> None:
        """Sign-in ``sid`` of ``account_id`` ended; tell the relying parties in ``clients``."""
        ...


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        *,
        idle_seconds: int,
        absolute_seconds: int,
        on_end: Sequence[LogoutNotifier] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_end = on_end
        self._idle = timedelta(seconds=idle_seconds)
        self._absolute = timedelta(seconds=absolute_seconds)

    async def start(self, ip: str, user_agent: str) -> Session:
        """A new anonymous session: it carries the CSRF token and any sign-in in progress."""
        now = self._clock.now()
        session = Session(
            id=secrets.token_urlsafe(32),
            account_id=None,
            created_at=now,
            last_seen=now,
            csrf_token=secrets.token_urlsafe(32),
            ip=ip,
            user_agent=user_agent[:MAX_USER_AGENT],
        )
        await self._save(session)
        return session

    async def load(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, or None when unknown, idle or too old."""
        if not session_id or len(session_id) > 64:
            return None
        session = await self._store.load(session_id, handle_of(session_id))
        if session is None:
            return None
        now = self._clock.now()
        if self._expired(session):
            await self.end(session)
            return None
        if now - session.last_seen > TOUCH_INTERVAL:
            session = replace(session, last_seen=now)
            await self._store.touch(session.handle, now, self._ttl(session))
        return session

    async def peek(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, as :meth:`load` finds it, without counting the
        request as the person's activity: for requests a page makes by itself (a live-update
        stream), which must not hold an idle session open (OWASP Session Management Cheat
        Sheet, "Idle Timeout"). An expired session is left for :meth:`load` to end."""
        if not session_id or len(session_id) > 64:
            return None
        session = await self._store.load(session_id, handle_of(session_id))
        return None if session is None or self._expired(session) else session

    def _expired(self, session: Session) -> bool:
        now = self._clock.now()
        return now - session.last_seen >= self._idle or now - session.created_at >= self._absolute

    async def sign_in(
        self, previous: Session, account_id: str, methods: list[AuthMethod]
    ) -> Session:
        """Replace ``previous`` with a new session for the account (the old id dies here)."""
        now = self._clock.now()
        events = tuple(AuthEvent(m, now) for m in methods)
        same_person = previous.account_id == account_id
        keep = previous.auth if same_person else ()
        session = replace(
            previous,
            id=secrets.token_urlsafe(32),
            account_id=account_id,
            created_at=now,
            last_seen=now,
            csrf_token=secrets.token_urlsafe(32),
            auth=keep + events,
            pending={},
            sid=previous.sid if same_person and previous.sid else secrets.token_urlsafe(16),
            clients=previous.clients if same_person else frozenset(),
        )
        await self._save(session)
        await self._store.index(account_id, session.handle, now)
        # A step-up keeps the sign-in (its sid and relying parties): no logout to announce.
        await self.end(replace(previous, clients=frozenset()) if same_person else previous)
        return session

    async def record_client(self, session: Session, client_id: str) -> Session:
        """Note that this sign-in was handed to a relying party (for back-channel logout)."""
        if client_id in session.clients:
            return session
        updated = replace(session, clients=session.clients | {client_id})
        await self._store.add_client(session.handle, updated.clients)
        return updated

    async def set_pending(self, session: Session, pending: dict[str, Any]) -> Session:
        """Remember a sign-in step in progress (an account awaiting its second factor…)."""
        updated = session.with_pending(pending)
        await self._save(updated)
        return updated

    async def end(self, session: Session) -> None:
        await self._store.delete(session.handle)
        if session.account_id:
            await self._store.unindex(session.account_id, session.handle)
            await self._ended(session.account_id, session.sid, session.clients)

    async def end_by_handle(self, account_id: str, handle: str) -> None:
        """End one of the account's sessions, named by its handle (from the sessions page)."""
        if handle not in await self._store.handles(account_id):
            raise SessionNotFoundError("That session has already ended.")
        ended = await self._store.sign_in_of(handle)
        await self._store.delete(handle)
        await self._store.unindex(account_id, handle)
        if ended is not None:
            await self._ended(account_id, *ended)

    async def end_all(self, account_id: str, except_session: str | None = None) -> int:
        """End every session of the account but the one with id ``except_session``."""
        keep = handle_of(except_session) if except_session else None
        handles = [h for h in await self._store.handles(account_id) if h != keep]
        ended = [await self._store.sign_in_of(handle) for handle in handles]
        for handle in handles:
            await self._store.delete(handle)
        await self._store.unindex(account_id, *handles)
        for sign_in in ended:
            if sign_in is not None:
                await self._ended(account_id, *sign_in)
        return len(handles)

    async def list_for(self, account_id: str, current: Session) -> list[SessionSummary]:
        """The account's live sessions, newest first; index entries for dead ones are dropped."""
        found: list[SessionSummary] = []
        dead: list[str] = []
        for handle in await self._store.handles(account_id):
            summary = await self._store.summary(handle)
            if summary is None:
                dead.append(handle)
            else:
                found.append(replace(summary, current=handle == current.handle))
        await self._store.unindex(account_id, *dead)
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    async def _ended(self, account_id: str, sid: str, clients: frozenset[str]) -> None:
        if clients:
            for hook in self._on_end:
                await hook.session_ended(account_id, sid, clients)

    async def _save(self, session: Session) -> None:
        await self._store.save(session, self._ttl(session))

    def _ttl(self, session: Session) -> int:
        remaining = session.created_at + self._absolute - self._clock.now()
        return max(1, int(min(self._idle, remaining).total_seconds()) + 1)
