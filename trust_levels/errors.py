"""Errors of the level model.

TrustLevelError
├── InvalidVectorError   (a vector of trust that cannot be parsed)
├── InvalidScoreError    (a GPG 45 score outside its range)
├── ProfileTableError    (a GPG 45 profile table that cannot be read)
└── PolicyNotMetError    (the level shown falls short of a policy; carries the shortfall)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.core.errors import Category, GovConnectError

if TYPE_CHECKING:
    from trust_levels.policies import Shortfall


class TrustLevelError(GovConnectError):
    slug = "trust-level-error"
    title = "Level of assurance error"


class InvalidVectorError(TrustLevelError):
    category = Category.INVALID
    slug = "invalid-vector-of-trust"
    title = "Invalid vector of trust"


class InvalidScoreError(TrustLevelError):
    category = Category.INVALID
    slug = "invalid-gpg45-score"
    title = "Invalid GPG 45 score"


class ProfileTableError(TrustLevelError):
    """The profile table shipped with (or given to) the calculator is malformed: a fault of
    the deployment, not of the caller, so it keeps the internal category."""

    slug = "invalid-gpg45-profile-table"
    title = "Invalid GPG 45 profile table"


class PolicyNotMetError(TrustLevelError):
    """What the person has shown falls short of a level policy; ``shortfall`` says what is
    missing (RFC 9470: the caller can ask for exactly that)."""

    category = Category.FORBIDDEN
    slug = "level-not-met"
    title = "The level of assurance shown is not enough"

    def __init__(self, detail: str, shortfall: Shortfall) -> None:
        super().__init__(detail)
        self.shortfall = shortfall
