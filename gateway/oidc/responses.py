"""OAuth error responses: RFC 6749 §5.2 members plus RFC 9457 problem members, one document.

OAuth client libraries read ``error`` and ``error_description``; everything else in GovConnect
speaks RFC 9457. An OAuth error response carries both, as ``application/json`` (RFC 6749
requires that media type), with ``Cache-Control: no-store`` (RFC 6749 §5.1) and, for 401s, a
``WWW-Authenticate`` challenge (RFC 6750 §3, RFC 9449 §7.1 for DPoP, RFC 9470 §3).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.core.problems import STATUS_BY_CATEGORY
from gateway.core.requestctx import current_request_id
from gateway.oidc.errors import (
    InsufficientUserAuthenticationError,
    InvalidClientError,
    OAuthError,
)


def oauth_error_response(exc: OAuthError, challenge: str | None = None) -> JSONResponse:
    status = STATUS_BY_CATEGORY[exc.category]
    body = {
        "error": exc.error,
        "error_description": exc.detail,
        "type": f"urn:govconnect:problem:{exc.slug}",
        "title": exc.title,
        "status": status,
        "detail": exc.detail,
        **exc.extensions,
    }
    if request_id := current_request_id():
        body["request_id"] = request_id
    headers = {"Cache-Control": "no-store"}
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    elif status == 401:
        headers["WWW-Authenticate"] = _challenge(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def _challenge(exc: OAuthError) -> str:
    if isinstance(exc, InvalidClientError):
        return 'Basic realm="govconnect"'
    params = f'error="{exc.error}", error_description="{_quoted(exc.detail)}"'
    if isinstance(exc, InsufficientUserAuthenticationError):
        for name in ("acr_values", "max_age"):
            if name in exc.extensions:
                params += f', {name}="{_quoted(str(exc.extensions[name]))}"'
    return f'Bearer realm="govconnect", {params}'


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def install(app: FastAPI) -> None:
    """Answer OAuth errors raised by the OAuth endpoints in their own format."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OAuthError)
        return oauth_error_response(exc)

    app.add_exception_handler(OAuthError, handle)
