"""The one ASGI layer every request passes through: request id, body size limit, security
headers, access log and metrics, and the direct dispatch of the hottest API endpoint.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming bodies are not buffered, and
as one layer rather than a stack of three: each layer costs a call, a ``receive`` or ``send``
wrapper and its own scan of the headers on every request, which showed in the token
endpoint's profile (docs/performance.md).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.observability import (
    REQUEST_ID_HEADER,
    record_request,
    request_id,
    route_template,
)
from gateway.core.problems import problem
from gateway.core.requestctx import reset_request_id, set_request_id

# OWASP Secure Headers Project; CSP level 3. ``form-action`` is left out on purpose: Chromium
# applies it to the redirect that follows a form post, which would block the hand-back to a
# relying party's redirect URI after sign-in.
BASE_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
_BASE_NAMES = frozenset(name for name, _ in BASE_SECURITY_HEADERS)
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")

DirectEndpoint = Callable[[Request], Awaitable[Response]]
# The longest path parameter a direct endpoint takes; FastAPI answers longer ones (ids are
# shorter: the routes declare Path(max_length=64)).
MAX_DIRECT_PARAM = 64


class EdgeMiddleware:
    """Request id, body size limit, security headers, access log and metrics, in one layer.

    - **Request id**: the caller's ``X-Request-ID`` when short and plain, else a fresh one; on
      every log line of the request, in problem documents and in the response header.
    - **Body size limit**: a declared ``Content-Length`` over ``limit`` bytes is refused with
      413 before reading (400 when it is not a number); a chunked or understated body is cut
      off with 413 as soon as the running count passes the limit.
    - **Security headers** and ``Cache-Control: no-store`` unless the route set its own. HSTS
      (RFC 6797) only when the request arrived over https or the issuer is https (TLS ended
      at a proxy), since browsers ignore it on http and it would pin a development host.
    - **Access log and metrics**: one JSON line and the Prometheus series per request,
      labelled by the route's path template.

    ``direct`` maps ``(method, path)`` to an endpoint this layer calls itself, without
    FastAPI's routing and dependency resolution. A path may end in one ``{name}`` segment:
    the segment, when it is 1 to :data:`MAX_DIRECT_PARAM` characters without a ``/``, is the
    request's path parameter ``name``. The route stays registered with FastAPI (for the
    OpenAPI document, and as the fallback for a path that does not match, such as one under a
    ``root_path`` or with a parameter FastAPI's validation would refuse). A direct endpoint's
    errors go through the app's own exception handlers, so its responses are those the routed
    call gives.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        https_issuer: bool,
        limit: int,
        direct: Mapping[tuple[str, str], DirectEndpoint] | None = None,
    ) -> None:
        self.app = app
        self.https_issuer = https_issuer
        self.limit = limit
        self.direct: dict[tuple[str, str], DirectEndpoint] = {}
        # (method, path up to the parameter) -> (parameter name, route template, endpoint)
        self.direct_under: dict[tuple[str, str], tuple[str, str, DirectEndpoint]] = {}
        for (method, path), endpoint in (direct or {}).items():
            prefix, brace, name = path.rpartition("/{")
            if brace and name.endswith("}") and "{" not in prefix:
                self.direct_under[(method, prefix + "/")] = (name[:-1], path, endpoint)
            else:
                self.direct[(method, path)] = endpoint

    def _direct(self, scope: Scope, method: str) -> tuple[DirectEndpoint, str] | None:
        """The direct endpoint for the request and its route template, setting the path
        parameter where the template has one."""
        path: str = scope["path"]
        endpoint = self.direct.get((method, path))
        if endpoint is not None:
            return endpoint, path
        if not self.direct_under:
            return None
        prefix, _, value = path.rpartition("/")
        found = self.direct_under.get((method, prefix + "/"))
        if found is None or not 0 < len(value) <= MAX_DIRECT_PARAM:
            return None
        name, template, endpoint = found
        scope["path_params"] = {name: value}
        return endpoint, template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming_id = declared = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                incoming_id = value
            elif name == b"content-length":
                declared = value
        request_id_value = request_id(incoming_id)
        context = set_request_id(request_id_value)
        method: str = scope.get("method", "")
        direct = self._direct(scope, method)
        secure = self.https_issuer or scope.get("scheme") == "https"
        id_header = (REQUEST_ID_HEADER, request_id_value.encode())
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _edge_headers(message.get("headers", ()), secure, id_header)
            await send(message)

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged (any
                    # other error there becomes a generic 400) and reaches the problem handler.
                    raise HTTPException(413, self._too_large_detail())
            return message

        try:
            refusal = self._refusal(declared)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            elif direct is None:
                await self.app(scope, counting_receive, send_with_headers)
            else:
                await _call_direct(direct[0], scope, counting_receive, send_with_headers)
        finally:
            route = direct[1] if direct is not None else route_template(scope)
            record_request(method, route, status, time.perf_counter() - started)
            reset_request_id(context)

    def _refusal(self, declared: bytes | None) -> Response | None:
        """The answer to a declared ``Content-Length`` that is not acceptable, if it is not."""
        if declared is None:
            return None
        if not declared.isdigit():
            detail = "Content-Length must be a non-negative integer."
            return problem(400, "bad-request", "Bad request", detail)
        if int(declared) > self.limit:
            return problem(413, "request-too-large", "Request too large", self._too_large_detail())
        return None

    def _too_large_detail(self) -> str:
        return f"The request body is larger than the {self.limit}-byte limit for this gateway."


def _edge_headers(
    headers: Iterable[tuple[bytes, bytes]], secure: bool, id_header: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """The response's headers plus the security headers it did not set, HSTS when
    ``secure``, ``Cache-Control: no-store`` unless it set its own, and the request id."""
    merged = list(headers)
    names = {name.lower() for name, _ in merged}
    if names.isdisjoint(_BASE_NAMES):
        merged.extend(BASE_SECURITY_HEADERS)
    else:
        merged.extend(h for h in BASE_SECURITY_HEADERS if h[0] not in names)
    if secure:
        merged.append(HSTS)
    if b"cache-control" not in names:
        merged.append(NO_STORE)
    merged.append(id_header)
    return merged


async def _call_direct(
    endpoint: DirectEndpoint, scope: Scope, receive: Receive, send: Send
) -> None:
    request = Request(scope, receive)
    try:
        response = await endpoint(request)
    except Exception as exc:  # every error goes to the app's handlers, as routing would send it
        response = await _handled(request, exc)
    await response(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to ``exc``, found as Starlette finds it: by status code for an
    ``HTTPException``, otherwise by the nearest class in the exception's MRO."""
    handlers: Mapping[Any, Callable[[Request, Exception], Any]] = request.app.exception_handlers
    handler = handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
    if handler is None:
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        raise exc
    response = handler(request, exc)
    if inspect.isawaitable(response):
        response = await response
    assert isinstance(response, Response)
    return response
