"""Errors of secure messaging.

MessagingError
"""

from __future__ import annotations

from gateway.core.errors import GovConnectError


class MessagingError(GovConnectError):
    slug = "messaging-error"
    title = "Messaging error"
