"""The website's own sessions: server-side, in memory, found by a random cookie.

authlib's Starlette client keeps ``state``, ``nonce`` and the PKCE ``code_verifier`` in
``request.session``; :class:`SessionMiddleware` provides that dict from a server-side record
(so no signing secret or cookie-size limit is involved). Records are indexed by GovConnect's
``sid`` so that a back-channel logout can end them (Back-Channel Logout 1.0 §2.7).

One process, in memory: enough for a demo. A council's site keeps sessions in its shared
store (Redis, a database) so that every instance sees a back-channel logout.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "council_session"
MAX_EVENTS = 20


@dataclass
class SignIn:
    """Who signed in through GovConnect, and the tokens the site holds for them."""

    claims: dict[str, Any]
    id_token: str
    token: dict[str, Any]
    userinfo: dict[str, Any]
    refreshed_at: datetime | None = None

    @property
    def sid(self) -> str | None:
        sid = self.claims.get("sid")
        return sid if isinstance(sid, str) else None


@dataclass
class LocalSession:
    id: str
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    data: dict[str, Any] = field(default_factory=dict)  # request.session, for authlib
    sign_in: SignIn | None = None
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class BackchannelEvent:
    """A back-channel logout this site received, shown on its home page."""

    at: datetime
    sid: str | None
    sub: str | None
    ended: int


class SessionStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, LocalSession] = {}
        self.events: deque[BackchannelEvent] = deque(maxlen=MAX_EVENTS)

    def get(self, session_id: str | None) -> LocalSession | None:
        with self._lock:
            return self._sessions.get(session_id or "")

    def create(self) -> LocalSession:
        session = LocalSession(secrets.token_urlsafe(32))
        with self._lock:
            self._sessions[session.id] = session
        return session

    def sign_in(self, session: LocalSession, sign_in: SignIn) -> LocalSession:
        """A new session id for the signed-in person (no session fixation, OWASP)."""
        fresh = LocalSession(secrets.token_urlsafe(32), sign_in=sign_in)
        with self._lock:
            self._sessions.pop(session.id, None)
            self._sessions[fresh.id] = fresh
        return fresh

    def end_sign_in(self, sid: str | None, sub: str | None) -> int:
        """End every local session of GovConnect sign-in ``sid`` (or, without a sid, of the
        person ``sub``); how many ended (§2.7)."""
        with self._lock:
            doomed = [
                s.id
                for s in self._sessions.values()
                if s.sign_in is not None
                and (
                    s.sign_in.sid == sid if sid is not None else s.sign_in.claims.get("sub") == sub
                )
            ]
            for session_id in doomed:
                del self._sessions[session_id]
            self.events.appendleft(BackchannelEvent(datetime.now(UTC), sid, sub, len(doomed)))
        return len(doomed)


class SessionMiddleware:
    """Puts the browser's :class:`LocalSession` in ``scope["local_session"]`` and its data
    in ``scope["session"]`` (what ``request.session`` reads), and sets the cookie when the
    session is new or was replaced (``scope["local_session"]`` swapped by a route).

    Paths in ``sessionless`` (called server to server, or for public documents) get none, so
    GovConnect's back-channel calls do not pile up empty sessions."""

    def __init__(
        self, app: ASGIApp, store: SessionStore, *, secure: bool, sessionless: tuple[str, ...]
    ) -> None:
        self.app = app
        self.store = store
        self.secure = secure
        self.sessionless = sessionless

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.sessionless:
            await self.app(scope, receive, send)
            return
        sent = HTTPConnection(scope).cookies.get(COOKIE)
        session = self.store.get(sent) or self.store.create()
        scope["local_session"] = session
        scope["session"] = session.data

        async def send_with_cookie(message: Message) -> None:
            current: LocalSession = scope["local_session"]
            if message["type"] == "http.response.start" and current.id != sent:
                headers = MutableHeaders(scope=message)
                secure = "; Secure" if self.secure else ""
                headers.append(
                    "Set-Cookie", f"{COOKIE}={current.id}; Path=/; HttpOnly; SameSite=Lax{secure}"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
