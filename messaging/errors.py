"""Errors of secure messaging.

MessagingError
├── MessageNotFoundError        (no such conversation, message or attachment *for this reader*:
│                                another person's, another team's, a guessed id, a destroyed
│                                message; never a 403 that confirms it exists)
├── TeamNotFoundError           (no such team, or not one of the caller's organisation)
├── RecipientNotFoundError      (a pairwise subject nobody enrolled under the council's sectors,
│                                or an unknown business)
├── InvalidMessageError         (a body, subject, level or team that cannot be accepted)
├── InvalidCursorError          (a page cursor this API did not give, or given for other filters)
├── AttachmentRefusedError      (a type the magic bytes do not show as allowed, or too many)
├── AttachmentTooLargeError     (over the size limit)
├── IdempotencyKeyError         (Idempotency-Key missing or malformed)
├── IdempotencyConflictError    (Idempotency-Key reused for a different request)
├── ConversationClosedError     (a reply to a closed conversation)
├── InsufficientScopeError      (a council token without the ``messages`` scope)
├── MessageKeyError             (the key-encryption key ring is missing or damaged)
└── LiveStreamLimitError        (a session holding as many live-update streams as allowed)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class MessagingError(GovConnectError):
    slug = "messaging-error"
    title = "Messaging error"


class MessageNotFoundError(MessagingError):
    category = Category.NOT_FOUND
    slug = "message-not-found"
    title = "Message not found"


class TeamNotFoundError(MessagingError):
    category = Category.NOT_FOUND
    slug = "team-not-found"
    title = "Team not found"


class RecipientNotFoundError(MessagingError):
    category = Category.NOT_FOUND
    slug = "recipient-not-found"
    title = "Recipient not found"


class InvalidMessageError(MessagingError):
    category = Category.INVALID
    slug = "invalid-message"
    title = "Invalid message"


class InvalidCursorError(MessagingError):
    category = Category.INVALID
    slug = "invalid-cursor"
    title = "Invalid page cursor"


class AttachmentRefusedError(MessagingError):
    category = Category.INVALID
    slug = "attachment-refused"
    title = "Attachment refused"


class AttachmentTooLargeError(MessagingError):
    category = Category.INVALID
    slug = "attachment-too-large"
    title = "Attachment too large"


class IdempotencyKeyError(MessagingError):
    category = Category.INVALID
    slug = "idempotency-key-required"
    title = "Idempotency-Key required"


class IdempotencyConflictError(MessagingError):
    category = Category.CONFLICT
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused"


class ConversationClosedError(MessagingError):
    category = Category.CONFLICT
    slug = "conversation-closed"
    title = "Conversation closed"


class InsufficientScopeError(MessagingError):
    """RFC 6750 §3.1 ``insufficient_scope``: the token lacks the ``messages`` scope."""

    category = Category.FORBIDDEN
    slug = "insufficient-scope"
    title = "Insufficient scope"


class MessageKeyError(MessagingError):
    slug = "message-key-unavailable"
    title = "Message key unavailable"


class LiveStreamLimitError(MessagingError):
    category = Category.TOO_MANY
    slug = "live-streams-exceeded"
    title = "Too many live-update streams"
