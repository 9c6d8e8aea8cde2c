"""Errors raised while serving a page.

WebError
├── CsrfError        (the form's token is missing or does not match the session)
└── SignInRequired   (the page needs a signed-in person: sign in, then come back)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class WebError(GovConnectError):
    slug = "web-error"
    title = "Page error"


class CsrfError(WebError):
    category = Category.FORBIDDEN
    slug = "csrf-token-invalid"
    title = "Form expired"


class SignInRequired(WebError):  # noqa: N818 - an instruction to the browser, not a failure
    category = Category.UNAUTHENTICATED
    slug = "sign-in-required"
    title = "Sign in required"

    def __init__(self, next_path: str) -> None:
        super().__init__("Sign in to see this page.")
        self.next_path = next_path
