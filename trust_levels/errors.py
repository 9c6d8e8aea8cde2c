"""Errors of the level model.

TrustLevelError
└── InvalidVectorError   (a vector of trust that cannot be parsed)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class TrustLevelError(GovConnectError):
    slug = "trust-level-error"
    title = "Level of assurance error"


class InvalidVectorError(TrustLevelError):
    category = Category.INVALID
    slug = "invalid-vector-of-trust"
    title = "Invalid vector of trust"
