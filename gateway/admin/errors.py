"""Errors of administration.

AdminError
├── AdminAuthenticationError   (no token, or not a valid one)
└── AdminTokenNotFoundError
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class AdminError(GovConnectError):
    slug = "admin-error"
    title = "Administration error"


class AdminAuthenticationError(AdminError):
    category = Category.UNAUTHENTICATED
    slug = "admin-authentication-required"
    title = "Admin authentication required"


class AdminTokenNotFoundError(AdminError):
    category = Category.NOT_FOUND
    slug = "admin-token-not-found"
    title = "Admin token not found"
