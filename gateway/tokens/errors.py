"""OAuth errors the token endpoint needs beyond :mod:`gateway.oidc.errors`.

gateway.oidc.errors.OAuthError
├── InvalidTargetError                  invalid_target (RFC 8707 §2)
└── InvalidDpopProofError
    └── ResourceDpopProofError          invalid_dpop_proof at a resource: 401 (RFC 9449 §7.1)
"""

from __future__ import annotations

from gateway.core.errors import Category
from gateway.oidc.errors import InvalidDpopProofError, OAuthError


class InvalidTargetError(OAuthError):
    """The ``resource`` asked for is not one tokens can be issued for."""

    error = "invalid_target"
    slug = "invalid-target"
    title = "Invalid resource"


class ResourceDpopProofError(InvalidDpopProofError):
    """A protected resource refuses a DPoP proof with 401 and a ``DPoP`` challenge, where the
    token endpoint answers 400 (RFC 9449 §7.1 vs §5)."""

    category = Category.UNAUTHENTICATED
