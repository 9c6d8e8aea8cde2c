"""Errors of browser sessions.

SessionError
└── SessionNotFoundError   (no such session for this account)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class SessionError(GovConnectError):
    slug = "session-error"
    title = "Session error"


class SessionNotFoundError(SessionError):
    category = Category.NOT_FOUND
    slug = "session-not-found"
    title = "Session not found"
