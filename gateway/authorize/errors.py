"""Errors of the authorization endpoint.

AuthorizeError
└── RequestRefused      an authorization request the gateway will not carry out; it
                        carries the OAuth error and, once the client and redirect URI are
                        proven, the target to send it to (else the person sees a page)

OAuthError (gateway.oidc.errors), codes the shared tree does not have:
├── RequestUriNotSupportedError          request_uri_not_supported (OIDC Core §3.1.2.6)
├── RegistrationNotSupportedError        registration_not_supported (OIDC Core §3.1.2.6)
└── UnmetAuthenticationRequirementsError unmet_authentication_requirements (OpenID
                                         Connect Core Error Code
                                         unmet_authentication_requirements 1.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.core.errors import Category, GovConnectError
from gateway.oidc.errors import OAuthError

if TYPE_CHECKING:
    from gateway.authorize.models import ResponseTarget


class RequestUriNotSupportedError(OAuthError):
    error = "request_uri_not_supported"
    slug = "request-uri-not-supported"
    title = "request_uri not supported"


class RegistrationNotSupportedError(OAuthError):
    error = "registration_not_supported"
    slug = "registration-not-supported"
    title = "registration not supported"


class UnmetAuthenticationRequirementsError(OAuthError):
    error = "unmet_authentication_requirements"
    category = Category.FORBIDDEN
    slug = "unmet-authentication-requirements"
    title = "Authentication requirements cannot be met"


class AuthorizeError(GovConnectError):
    slug = "authorize-error"
    title = "Authorization error"


class RequestRefused(AuthorizeError):  # noqa: N818 - a refusal carrying where it goes
    """``oauth`` is what the client is told. ``target`` is where: ``None`` until the client
    and its redirect URI are proven (RFC 6749 §4.1.2.1: "MUST NOT automatically redirect"),
    and then ``page`` names the message shown to the person instead."""

    category = Category.INVALID
    slug = "authorization-request-refused"
    title = "Authorization request refused"

    def __init__(
        self, oauth: OAuthError, target: ResponseTarget | None = None, page: str = "invalid"
    ) -> None:
        super().__init__(oauth.detail)
        self.oauth = oauth
        self.target = target
        self.page = page
