"""OAuth 2.0 and OpenID Connect errors, each with its registered ``error`` code.

    OAuthError
    ├── InvalidRequestError             invalid_request (RFC 6749 §4.1.2.1, §5.2)
    ├── InvalidClientError              invalid_client (RFC 6749 §5.2)
    ├── InvalidGrantError               invalid_grant
    ├── UnauthorizedClientError         unauthorized_client
    ├── UnsupportedGrantTypeError       unsupported_grant_type
    ├── UnsupportedResponseTypeError    unsupported_response_type
    ├── InvalidScopeError               invalid_scope
    ├── AccessDeniedError               access_denied
    ├── LoginRequiredError              login_required (OIDC Core §3.1.2.6)
    ├── ConsentRequiredError            consent_required
    ├── InteractionRequiredError        interaction_required
    ├── InvalidRequestUriError          invalid_request_uri (RFC 9126 §2.2, RFC 9101 §10.3)
    ├── InvalidRequestObjectError       invalid_request_object (RFC 9101 §10.2)
    ├── InvalidDpopProofError           invalid_dpop_proof (RFC 9449 §5, §7.1)
    ├── InvalidTokenError               invalid_token (RFC 6750 §3.1)
    ├── InsufficientScopeError          insufficient_scope (RFC 6750 §3.1)
    └── InsufficientUserAuthenticationError  insufficient_user_authentication (RFC 9470 §3)

The token, PAR, introspection, revocation and userinfo endpoints answer these as JSON with
``error`` and ``error_description`` (what every OAuth client library reads) plus the RFC 9457
members; the authorization endpoint sends them back to the client's redirect URI.
"""

from __future__ import annotations

from typing import Any, ClassVar

from gateway.core.errors import Category, GovConnectError


class OAuthError(GovConnectError):
    error: ClassVar[str] = "server_error"
    category = Category.INVALID
    slug = "oauth-error"
    title = "OAuth error"

    def __init__(self, description: str, **extensions: Any) -> None:
        super().__init__(description, **extensions)


class InvalidRequestError(OAuthError):
    error = "invalid_request"
    slug = "invalid-request"
    title = "Invalid request"


class InvalidClientError(OAuthError):
    error = "invalid_client"
    category = Category.UNAUTHENTICATED
    slug = "invalid-client"
    title = "Client authentication failed"


class InvalidGrantError(OAuthError):
    error = "invalid_grant"
    slug = "invalid-grant"
    title = "Invalid grant"


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"
    slug = "unauthorized-client"
    title = "Client not allowed this grant"


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"
    slug = "unsupported-grant-type"
    title = "Unsupported grant type"


class UnsupportedResponseTypeError(OAuthError):
    error = "unsupported_response_type"
    slug = "unsupported-response-type"
    title = "Unsupported response type"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"
    slug = "invalid-scope"
    title = "Invalid scope"


class AccessDeniedError(OAuthError):
    error = "access_denied"
    category = Category.FORBIDDEN
    slug = "access-denied"
    title = "Access denied"


class LoginRequiredError(OAuthError):
    error = "login_required"
    slug = "login-required"
    title = "Sign-in required"


class ConsentRequiredError(OAuthError):
    error = "consent_required"
    slug = "consent-required"
    title = "Consent required"


class InteractionRequiredError(OAuthError):
    error = "interaction_required"
    slug = "interaction-required"
    title = "Interaction required"


class InvalidRequestUriError(OAuthError):
    error = "invalid_request_uri"
    slug = "invalid-request-uri"
    title = "Invalid request_uri"


class InvalidRequestObjectError(OAuthError):
    error = "invalid_request_object"
    slug = "invalid-request-object"
    title = "Invalid request object"


class InvalidDpopProofError(OAuthError):
    error = "invalid_dpop_proof"
    slug = "invalid-dpop-proof"
    title = "Invalid DPoP proof"


class InvalidTokenError(OAuthError):
    error = "invalid_token"
    category = Category.UNAUTHENTICATED
    slug = "invalid-token"
    title = "Invalid access token"


class InsufficientScopeError(OAuthError):
    error = "insufficient_scope"
    category = Category.FORBIDDEN
    slug = "insufficient-scope"
    title = "Insufficient scope"


class InsufficientUserAuthenticationError(OAuthError):
    error = "insufficient_user_authentication"
    category = Category.UNAUTHENTICATED
    slug = "insufficient-user-authentication"
    title = "Stronger sign-in needed"
