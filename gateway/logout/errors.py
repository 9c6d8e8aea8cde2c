"""Errors of logout.

LogoutError
├── InvalidLogoutRequestError        (invalid: the relying party's request cannot be
│   │                                 trusted; an error page, never a redirect)
│   ├── InvalidIdTokenHintError       (the hint is not an ID token this gateway issued)
│   ├── UnknownLogoutClientError      (no enabled client by that id)
│   └── UnregisteredLogoutUriError    (post_logout_redirect_uri not registered, or no
│                                      way to know the client it belongs to)
└── BackchannelDeliveryError         (unavailable: a relying party did not take a logout
                                      token; ``retryable`` says whether to try again)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class LogoutError(GovConnectError):
    slug = "logout-error"
    title = "Logout error"


class InvalidLogoutRequestError(LogoutError):
    category = Category.INVALID
    slug = "invalid-logout-request"
    title = "Invalid logout request"


class InvalidIdTokenHintError(InvalidLogoutRequestError):
    slug = "invalid-id-token-hint"
    title = "Invalid id_token_hint"


class UnknownLogoutClientError(InvalidLogoutRequestError):
    slug = "unknown-logout-client"
    title = "Unknown client"


class UnregisteredLogoutUriError(InvalidLogoutRequestError):
    slug = "unregistered-post-logout-redirect-uri"
    title = "Unregistered post_logout_redirect_uri"


class BackchannelDeliveryError(LogoutError):
    category = Category.UNAVAILABLE
    slug = "backchannel-logout-not-delivered"
    title = "Back-channel logout not delivered"

    def __init__(self, detail: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(detail, retryable=retryable, status_code=status_code)
        self.retryable = retryable
        self.status_code = status_code
