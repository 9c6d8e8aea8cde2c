"""Errors of the client (relying party) registry.

ClientError
├── InvalidClientRegistrationError   (invalid: a registration rule refused the input; each
│                                     refusal is listed in ``errors``)
├── ClientSecretsNotAllowedError     (invalid: shared secrets are switched off here)
├── ClientHasNoSecretError           (conflict: the client authenticates with its keys)
├── ClientChangedConcurrentlyError   (conflict: another change kept winning; retry)
├── ClientNotFoundError              (not-found: no client has that id)
├── ClientDisabledError              (forbidden: the client exists but is switched off)
└── ClientAuthenticationError        (unauthenticated: the client id and secret do not
                                      prove a usable client)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class ClientError(GovConnectError):
    slug = "client-error"
    title = "Client error"


class InvalidClientRegistrationError(ClientError):
    """RFC 7591 §3.2.2 ``invalid_redirect_uri`` / ``invalid_client_metadata``, in one type."""

    category = Category.INVALID
    slug = "invalid-client-registration"
    title = "Invalid client registration"


class ClientSecretsNotAllowedError(ClientError):
    category = Category.INVALID
    slug = "client-secrets-not-allowed"
    title = "Client secrets not allowed"

    def __init__(self) -> None:
        super().__init__(
            "client secrets are switched off in production; register a JWKS and use private_key_jwt"
        )


class ClientHasNoSecretError(ClientError):
    category = Category.CONFLICT
    slug = "client-has-no-secret"
    title = "Client has no secret"


class ClientChangedConcurrentlyError(ClientError):
    category = Category.CONFLICT
    slug = "client-changed-concurrently"
    title = "Client changed concurrently"


class ClientNotFoundError(ClientError):
    category = Category.NOT_FOUND
    slug = "client-not-found"
    title = "Client not found"


class ClientDisabledError(ClientError):
    category = Category.FORBIDDEN
    slug = "client-disabled"
    title = "Client disabled"


class ClientAuthenticationError(ClientError):
    """RFC 6749 §5.2 ``invalid_client``: one message whatever the reason, so a caller cannot
    learn which client ids exist or which are disabled."""

    category = Category.UNAUTHENTICATED
    slug = "client-authentication-failed"
    title = "Client authentication failed"

    def __init__(self) -> None:
        super().__init__(
            "Client authentication failed: the client id and secret do not match an enabled "
            "client that authenticates with a secret."
        )
