"""The root of every GovConnect domain error.

Domain errors say *what* went wrong in domain terms and carry no HTTP status. Each package
has one base error deriving from :class:`GovConnectError`; the single handler in
:mod:`gateway.core.problems` maps the :class:`Category` to an RFC 9457 problem response.

    GovConnectError
    ├── ConfigurationError            (core: a setting that cannot work)
    ├── StoreUnavailableError         (core: Redis cannot be reached)
    ├── gateway.organisations.errors.OrganisationError
    ├── gateway.clients.errors.ClientError
    ├── gateway.signing.errors.SigningError
    ├── gateway.admin.errors.AdminError
    ├── UnsealError                   (gateway.core.secretbox: a sealed secret would not open)
    ├── gateway.accounts.errors.AccountError
    ├── gateway.sessions.errors.SessionError
    ├── gateway.logout.errors.LogoutError
    ├── gateway.notify.errors.NotifyError
    ├── gateway.web.errors.WebError
    ├── gateway.evidence.errors.EvidenceError
    ├── trust_levels.errors.TrustLevelError
    ├── messaging.errors.MessagingError
    └── payments.errors.PaymentError
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Category(StrEnum):
    """What kind of failure this is, independent of any transport."""

    INVALID = "invalid"  # the caller sent something that cannot be accepted
    NOT_FOUND = "not-found"  # nothing by that name (or the caller may not know it exists)
    CONFLICT = "conflict"  # clashes with the current state
    UNAUTHENTICATED = "unauthenticated"  # who is calling is unknown or unproven
    FORBIDDEN = "forbidden"  # known caller, not allowed
    TOO_MANY = "too-many"  # rate limited
    UNAVAILABLE = "unavailable"  # a dependency is down; try again later
    INTERNAL = "internal"


class GovConnectError(Exception):
    """Base of all domain errors.

    ``slug`` names the problem type (it becomes the ``type`` URI of the problem response);
    ``detail`` is a sentence a council developer or operator can act on; ``extensions`` are
    extra members for the problem document.
    """

    category: ClassVar[Category] = Category.INTERNAL
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class ConfigurationError(GovConnectError):
    """A setting is missing or cannot work; raised before the gateway serves anything."""

    slug = "configuration-error"
    title = "Configuration error"


class StoreUnavailableError(GovConnectError):
    """The Redis store cannot be reached; everything that protects fails closed."""

    category = Category.UNAVAILABLE
    slug = "store-unavailable"
    title = "Store unavailable"


class InvalidInputError(GovConnectError):
    """Input failed validation; ``errors`` lists each field and what is wrong with it."""

    category = Category.INVALID
    slug = "invalid-input"
    title = "Invalid input"
