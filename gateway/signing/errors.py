"""Errors of the signing key ring.

A missing or unreadable key file is a :class:`~gateway.core.errors.ConfigurationError`
(the operator runs ``govconnect init``), not one of these: these say what is wrong with a
request to sign or a token to verify.

    SigningError
    ├── UnsupportedAlgorithmError    (asked to sign with an alg the ring has no key family for)
    └── TokenVerificationError       (the token's signature cannot be trusted)
        ├── UnknownKeyError          (no published key has the token's kid)
        ├── AlgorithmNotAllowedError (alg "none", outside the allow-list, or not the key's family)
        └── UntrustedKeyHeaderError  (the header carries its own key: jwk, jku, x5u or x5c)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class SigningError(GovConnectError):
    slug = "signing-error"
    title = "Signing error"


class UnsupportedAlgorithmError(SigningError):
    category = Category.INVALID
    slug = "signing-algorithm-unsupported"
    title = "Signing algorithm not supported"


class TokenVerificationError(SigningError):
    category = Category.UNAUTHENTICATED
    slug = "token-invalid"
    title = "Token not valid"


class UnknownKeyError(TokenVerificationError):
    slug = "token-unknown-key"
    title = "Token signed with an unknown key"


class AlgorithmNotAllowedError(TokenVerificationError):
    slug = "token-algorithm-not-allowed"
    title = "Token algorithm not allowed"


class UntrustedKeyHeaderError(TokenVerificationError):
    slug = "token-untrusted-key-header"
    title = "Token carries its own key"
