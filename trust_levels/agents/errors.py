"""Errors of agent relationships (DESIGN.md §2, "an intermediary").

Errors a client's page may show never say which known fact was wrong, and an invitation that
is unknown, used, withdrawn or never existed reads the same (no probing of invitation links).

AgentError
├── NotAnAgentError              (forbidden: the business is not an agent organisation)
├── NotAnAdministratorError      (forbidden: only the organisation's administrators may do this)
├── NotAMemberError              (forbidden: the person is not a member of the organisation)
├── UnknownServiceError          (invalid: no agent service of that name)
├── InvalidKnownFactsError       (invalid: a postcode or date of birth that cannot be read)
├── InvalidInvitationError       (invalid: an email, group or end date that cannot be used)
├── RelationshipNotFoundError    (not-found: no relationship by that id for this caller)
├── InvitationNotFoundError      (not-found: the link is unknown, used or withdrawn)
├── InvitationExpiredError       (conflict: the invitation was not accepted in time)
├── InvitationLockedError        (too-many: too many wrong known facts; ask for a new one)
├── KnownFactsMismatchError      (invalid: the facts typed do not match; ``remaining`` tries)
├── WrongInviteeError            (forbidden: the invitation is addressed to another email)
├── RelationshipNotActiveError   (conflict: pending, declined, expired or revoked; ``state``)
├── WrongServiceError            (forbidden: the relationship is for another service)
└── OutsideGroupsError           (forbidden: the relationship is limited to other groups)
"""

from __future__ import annotations

from typing import Any

from gateway.core.errors import Category, GovConnectError


class AgentError(GovConnectError):
    slug = "agent-error"
    title = "Agent relationship error"


class NotAnAgentError(AgentError):
    category = Category.FORBIDDEN
    slug = "not-an-agent-organisation"
    title = "Not an agent organisation"


class NotAnAdministratorError(AgentError):
    category = Category.FORBIDDEN
    slug = "agent-administrator-required"
    title = "Administrator role required"


class NotAMemberError(AgentError):
    category = Category.FORBIDDEN
    slug = "agent-membership-required"
    title = "Not a member of the agent organisation"


class UnknownServiceError(AgentError):
    category = Category.INVALID
    slug = "unknown-agent-service"
    title = "Unknown agent service"


class InvalidKnownFactsError(AgentError):
    category = Category.INVALID
    slug = "invalid-known-facts"
    title = "Known facts cannot be read"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail)
        self.field = field


class InvalidInvitationError(AgentError):
    category = Category.INVALID
    slug = "invalid-agent-invitation"
    title = "Invitation cannot be sent"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail)
        self.field = field


class RelationshipNotFoundError(AgentError):
    category = Category.NOT_FOUND
    slug = "agent-relationship-not-found"
    title = "Agent relationship not found"


class InvitationNotFoundError(AgentError):
    category = Category.NOT_FOUND
    slug = "agent-invitation-not-found"
    title = "Invitation not found"


class InvitationExpiredError(AgentError):
    category = Category.CONFLICT
    slug = "agent-invitation-expired"
    title = "Invitation expired"


class InvitationLockedError(AgentError):
    category = Category.TOO_MANY
    slug = "agent-invitation-locked"
    title = "Too many wrong answers"


class KnownFactsMismatchError(AgentError):
    category = Category.INVALID
    slug = "known-facts-mismatch"
    title = "Known facts do not match"

    def __init__(self, detail: str, *, remaining: int) -> None:
        super().__init__(detail, remaining=remaining)
        self.remaining = remaining


class WrongInviteeError(AgentError):
    category = Category.FORBIDDEN
    slug = "agent-invitation-wrong-account"
    title = "Invitation addressed to someone else"


class RelationshipNotActiveError(AgentError):
    category = Category.CONFLICT
    slug = "agent-relationship-not-active"
    title = "Agent relationship not active"

    def __init__(self, detail: str, *, state: str, **extensions: Any) -> None:
        super().__init__(detail, state=state, **extensions)
        self.state = state


class WrongServiceError(AgentError):
    category = Category.FORBIDDEN
    slug = "agent-relationship-other-service"
    title = "Relationship is for another service"


class OutsideGroupsError(AgentError):
    category = Category.FORBIDDEN
    slug = "agent-user-outside-groups"
    title = "Agent user outside the permitted groups"
