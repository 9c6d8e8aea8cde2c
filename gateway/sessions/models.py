"""Browser sessions and the record of how the person signed in.

The cookie carries a 256-bit random session id; the store knows the session only by the
SHA-256 of that id (its ``handle``), so a copy of the store cannot be replayed as cookies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class AuthMethod(StrEnum):
    """How a factor was proven; values are RFC 8176 ``amr`` names where one exists."""

    PASSWORD = "pwd"  # noqa: S105 - an amr value, not a password
    TOTP = "otp"
    RECOVERY_CODE = "rc"  # not in RFC 8176; a single-use code standing in for the app
    EMAIL_CODE = "email"  # not in RFC 8176; One Login style
    SMS = "sms"
    # A passkey (WebAuthn with user verification): proof of possession of a key plus the
    # device's own check of the person (RFC 8176 §2 ``pop`` and ``user``), one gesture.
    PASSKEY = "pop"


@dataclass(frozen=True, slots=True)
class AuthEvent:
    method: AuthMethod
    at: datetime

    def to_json(self) -> list[str]:
        return [self.method.value, self.at.isoformat()]

    @classmethod
    def from_json(cls, value: list[str]) -> AuthEvent:
        return cls(AuthMethod(value[0]), datetime.fromisoformat(value[1]))


def handle_of(session_id: str) -> str:
    """The name the store knows a session by: SHA-256 of the cookie value, hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session. ``id`` is the cookie value and is never stored."""

    id: str
    account_id: str | None
    created_at: datetime
    last_seen: datetime
    csrf_token: str
    ip: str
    user_agent: str
    auth: tuple[AuthEvent, ...] = ()
    pending: dict[str, Any] = field(default_factory=dict)
    # OIDC ``sid``: names the sign-in, not the cookie, so it survives a step-up's new id
    # (OpenID Connect Front-/Back-Channel Logout 1.0 §2).
    sid: str = ""
    # Relying parties this sign-in was handed to: each gets a back-channel logout.
    clients: frozenset[str] = frozenset()

    @property
    def handle(self) -> str:
        return handle_of(self.id)

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    @property
    def auth_time(self) -> datetime | None:
        """When the person last proved a factor (OIDC Core §2 ``auth_time``)."""
        return max((e.at for e in self.auth), default=None)

    def methods(self) -> frozenset[AuthMethod]:
        return frozenset(e.method for e in self.auth)

    def with_pending(self, pending: dict[str, Any]) -> Session:
        return replace(self, pending=pending)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What the person sees of each of their sessions on the sessions page."""

    handle: str
    created_at: datetime
    last_seen: datetime
    ip: str
    user_agent: str
    current: bool
