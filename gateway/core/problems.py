"""RFC 9457 problem details for every API error.

One mapping from the domain :class:`~gateway.core.errors.Category` to an HTTP status, one
handler for domain errors, and handlers that turn FastAPI's own errors (validation, 404,
405) and unexpected exceptions into the same ``application/problem+json`` shape. The ``type``
member is a stable URN (``urn:govconnect:problem:<slug>``) that ``docs/problems.md`` explains;
``detail`` always says what the caller can do about it.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.core.errors import Category, GovConnectError, StoreUnavailableError
from gateway.core.redis import FAILOVER_ERRORS
from gateway.core.requestctx import current_request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

STATUS_BY_CATEGORY: dict[Category, int] = {
    Category.INVALID: 400,
    Category.UNAUTHENTICATED: 401,
    Category.FORBIDDEN: 403,
    Category.NOT_FOUND: 404,
    Category.CONFLICT: 409,
    Category.TOO_MANY: 429,
    Category.INTERNAL: 500,
    Category.UNAVAILABLE: 503,
}

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("request-too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Build an RFC 9457 response; ``type`` is a stable URI naming the problem."""
    body: dict[str, Any] = {
        "type": f"urn:govconnect:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovConnectError)
    status = STATUS_BY_CATEGORY[exc.category]
    headers = None
    if exc.category is Category.UNAUTHENTICATED:
        headers = {"WWW-Authenticate": 'Bearer realm="govconnect"'}
    if exc.category is Category.INTERNAL:
        log.error("internal domain error", exc_info=exc)
    return problem(status, exc.slug, exc.title, exc.detail, headers, **exc.extensions)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", "invalid"),
        }
        for error in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return problem(
        422, "invalid-input", "Invalid input", f"The request is not valid: {summary}", errors=errors
    )


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "There is nothing at this address. Check the path against the API documentation."
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = "This address does not accept that method. Check the API documentation."
    return problem(exc.status_code, slug, title, detail, dict(exc.headers or {}))


def _store_down(_: Request, exc: Exception) -> JSONResponse:
    log.error("store unavailable", exc_info=exc)
    error = StoreUnavailableError("The gateway's store is unreachable. Retry in a few seconds.")
    return problem(503, error.slug, error.title, error.detail, {"Retry-After": "5"})


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem(
        500,
        "internal-error",
        "Internal error",
        "Something went wrong on our side. Quote the request_id if you contact support.",
    )


def install(app: FastAPI) -> None:
    """Route every error the app can raise to a problem response."""
    app.add_exception_handler(GovConnectError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(redis.ConnectionError, _store_down)
    app.add_exception_handler(redis.TimeoutError, _store_down)
    for failover in FAILOVER_ERRORS:
        app.add_exception_handler(failover, _store_down)
    app.add_exception_handler(Exception, _unexpected)
