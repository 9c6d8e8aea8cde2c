"""Errors of business accounts.

BusinessError
├── BusinessNotFoundError          (not-found: no such business, or the caller is not in it)
├── InvalidBusinessDetailsError    (invalid: a name, kind or number that cannot be accepted)
├── NumberAlreadyRegisteredError   (conflict: another business holds the registered number)
├── NotAdministratorError          (forbidden: only the business's administrators may do this)
├── MemberNotFoundError            (not-found: the account is not a member of the business)
├── LastAdministratorError         (conflict: the change would leave no administrator)
├── InvalidInvitationError         (not-found: unknown, expired, revoked or used invitation)
├── InvitationEmailMismatchError   (forbidden: signed in with another address than invited)
├── AlreadyMemberError             (conflict: the person is a member already)
├── TooManyInvitationsError        (too-many: the business has too many invitations waiting)
├── InvalidGroupError              (invalid: a user group name that cannot be accepted)
└── InvalidServiceError            (invalid: a service name that is not scope-like)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class BusinessError(GovConnectError):
    slug = "business-error"
    title = "Business account error"


class BusinessNotFoundError(BusinessError):
    """Also what a person who is not a member gets: another business's members, services and
    invitations are not theirs to know about (or even that the business exists)."""

    category = Category.NOT_FOUND
    slug = "business-not-found"
    title = "Business not found"


class InvalidBusinessDetailsError(BusinessError):
    """``field`` names the form field (``name``, ``kind`` or ``number``) the page marks, and
    ``reason`` the catalogue key of the sentence it shows there."""

    category = Category.INVALID
    slug = "invalid-business-details"
    title = "Invalid business details"

    def __init__(self, detail: str, *, field: str, reason: str) -> None:
        super().__init__(detail, field=field)
        self.field = field
        self.reason = reason


class NumberAlreadyRegisteredError(BusinessError):
    category = Category.CONFLICT
    slug = "business-number-registered"
    title = "Number already registered"


class NotAdministratorError(BusinessError):
    """``administrators`` are the email addresses of the people who can, so the page can say
    whom to ask."""

    category = Category.FORBIDDEN
    slug = "business-administrator-required"
    title = "Only an administrator can do this"

    def __init__(self, detail: str, *, business_name: str, administrators: list[str]) -> None:
        super().__init__(detail)
        self.business_name = business_name
        self.administrators = administrators


class MemberNotFoundError(BusinessError):
    category = Category.NOT_FOUND
    slug = "business-member-not-found"
    title = "Member not found"


class LastAdministratorError(BusinessError):
    category = Category.CONFLICT
    slug = "business-last-administrator"
    title = "A business needs an administrator"


class InvalidInvitationError(BusinessError):
    """One error for every way a link fails (unknown, expired, revoked, used), so a link
    tells whoever holds it nothing about the others."""

    category = Category.NOT_FOUND
    slug = "business-invitation-invalid"
    title = "Invitation not valid"


class InvitationEmailMismatchError(BusinessError):
    category = Category.FORBIDDEN
    slug = "business-invitation-other-email"
    title = "Invitation sent to another email address"

    def __init__(self, detail: str, *, email_hint: str) -> None:
        super().__init__(detail)
        self.email_hint = email_hint


class AlreadyMemberError(BusinessError):
    category = Category.CONFLICT
    slug = "business-already-member"
    title = "Already a member"


class TooManyInvitationsError(BusinessError):
    category = Category.TOO_MANY
    slug = "business-too-many-invitations"
    title = "Too many invitations waiting"


class InvalidGroupError(BusinessError):
    category = Category.INVALID
    slug = "invalid-business-group"
    title = "Invalid user group"


class InvalidServiceError(BusinessError):
    category = Category.INVALID
    slug = "invalid-business-service"
    title = "Invalid service name"
