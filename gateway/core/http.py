"""ASGI middleware every response passes through: security headers and body size limits.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming bodies are not buffered and
each layer costs one function call.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.problems import problem

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
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Adds the security headers and ``Cache-Control: no-store`` unless a route set its own.

    HSTS (RFC 6797) is sent only when the request arrived over https or the issuer is https
    (TLS ended at a proxy), since browsers ignore it on http and it would pin a development
    host.
    """

    def __init__(self, app: ASGIApp, *, https_issuer: bool) -> None:
        self.app = app
        self.https_issuer = https_issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https" or self.https_issuer

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in BASE_SECURITY_HEADERS if h[0] not in names)
                if secure:
                    headers.append(HSTS)
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``limit`` bytes with 413, whether or not Content-Length is honest.

    A declared length over the limit is refused before reading; a chunked or understated body
    is cut off as soon as the running count passes the limit.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _too_large(send, "Content-Length must be a non-negative integer.", 400)
                return
            if int(declared) > self.limit:
                await _too_large(send, self._detail(), 413)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged (any
                    # other error there becomes a generic 400) and reaches the problem handler.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than the {self.limit}-byte limit for this gateway."


async def _too_large(send: Send, detail: str, status: int) -> None:
    slug, title = (
        ("request-too-large", "Request too large")
        if status == 413
        else ("bad-request", "Bad request")
    )
    response = problem(status, slug, title, detail)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
