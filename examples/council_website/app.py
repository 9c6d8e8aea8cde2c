"""The Demo Borough Council website: pages, the OpenID Connect callback and the back-channel
logout endpoint.

=====================  ======  ===================================================
path                   method  what it does
=====================  ======  ===================================================
``/``                  GET     home: the person's claims and level, or "sign in";
                               GovConnect's post-logout redirect comes back here
``/sign-in``           GET     starts the code flow (redirect to GovConnect)
``/callback``          GET     the redirect URI: code → tokens → ID token checked
``/refresh``           POST    uses the refresh token (CSRF-protected form)
``/sign-out``          POST    RP-initiated logout (CSRF-protected form)
``/backchannel-logout`` POST   GovConnect's logout tokens (Back-Channel Logout 1.0)
``/jwks.json``         GET     this site's public key, to register with GovConnect
=====================  ======  ===================================================
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from examples.council_website import keys
from examples.council_website.config import Config
from examples.council_website.logout_tokens import InvalidLogoutToken, SeenTokens, verify
from examples.council_website.oidc import GovConnect, SignInError
from examples.council_website.registration import ensure_registered
from examples.council_website.sessions import LocalSession, SessionMiddleware, SessionStore

log = logging.getLogger(__name__)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
)
# NOTE: 'unsafe-inline' for styles only, for the one <style> block of this small example;
# scripts stay 'self' (there are none).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _time(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S UTC on %d %B %Y")


TEMPLATES.filters["time"] = _time


def _local(request: Request) -> LocalSession:
    session: LocalSession = request.scope["local_session"]
    return session


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = _local(request)
    notice, session.notice = session.notice, None
    html = TEMPLATES.get_template(template).render(
        session=session, notice=notice, events=_store(request).events, **context
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _govconnect(request: Request) -> GovConnect:
    govconnect: GovConnect = request.app.state.govconnect
    return govconnect


async def _checked_form(request: Request) -> bool:
    """The posted form carried this session's CSRF token (OWASP synchronizer token)."""
    form = await request.form()
    token = form.get("csrf_token")
    return isinstance(token, str) and hmac.compare_digest(token, _local(request).csrf_token)


def _home() -> RedirectResponse:
    return RedirectResponse("/", 303)


async def home(request: Request) -> Response:
    session = _local(request)
    if "state" in request.query_params and await _govconnect(request).signed_out(request):
        session.notice = "You have signed out of Demo Borough Council and GovConnect."
    return _page(request, "home.html", sign_in=session.sign_in)


async def sign_in(request: Request) -> Response:
    try:
        return await _govconnect(request).begin(request)
    except (SignInError, httpx.HTTPError) as exc:
        return _page(request, "error.html", 502, problem=f"GovConnect cannot be reached: {exc}")


async def callback(request: Request) -> Response:
    try:
        signed_in = await _govconnect(request).finish(request)
    except SignInError as exc:
        return _page(request, "error.html", 400, problem=str(exc))
    except httpx.HTTPError as exc:
        return _page(request, "error.html", 502, problem=f"GovConnect cannot be reached: {exc}")
    fresh = _store(request).sign_in(_local(request), signed_in)
    request.scope["local_session"] = fresh
    fresh.notice = "You have signed in with GovConnect."
    return _home()


async def refresh(request: Request) -> Response:
    session = _local(request)
    if not await _checked_form(request) or session.sign_in is None:
        return _home()
    try:
        session.sign_in = await _govconnect(request).refresh(session.sign_in)
    except SignInError as exc:
        session.notice = f"The tokens could not be refreshed ({exc}). Sign in again."
        return _home()
    session.sign_in.refreshed_at = datetime.now(UTC)
    session.notice = "Your tokens have been refreshed."
    return _home()


async def sign_out(request: Request) -> Response:
    session = _local(request)
    if not await _checked_form(request) or session.sign_in is None:
        return _home()
    # The site forgets the person first; GovConnect then ends its own session and sends
    # back-channel logouts to every site this sign-in was used for (this one included).
    signed_in, session.sign_in = session.sign_in, None
    govconnect = _govconnect(request)
    try:
        await govconnect.revoke(signed_in)
    except httpx.HTTPError as exc:
        log.warning("could not revoke the refresh token: %s", exc)  # sign out all the same
    return await govconnect.sign_out(request, signed_in)


async def backchannel_logout(request: Request) -> Response:
    """Back-Channel Logout 1.0 §2.5-§2.8: verify, end the sign-in's local sessions, 200."""
    headers = {"Cache-Control": "no-store"}
    form = await request.form()
    token = form.get("logout_token")
    govconnect = _govconnect(request)
    try:
        if not isinstance(token, str):
            raise InvalidLogoutToken("logout_token is missing")
        claims = await verify(
            token,
            govconnect.jwks,
            issuer=govconnect.issuer,
            client_id=govconnect.client_id,
            seen=request.app.state.seen_tokens,
        )
    except InvalidLogoutToken as exc:
        log.warning("refused a logout token: %s", exc)
        body = {"error": "invalid_request", "error_description": str(exc)}
        return JSONResponse(body, 400, headers=headers)
    ended = _store(request).end_sign_in(claims.get("sid"), claims.get("sub"))
    log.info("back-channel logout: %d local session(s) ended", ended)
    return Response(status_code=200, headers=headers)


async def jwks(request: Request) -> Response:
    return JSONResponse(request.app.state.public_jwks)


def create_app(config: Config | None = None) -> Starlette:
    """The website; at start-up it loads (or makes) its key and registers it if need be."""
    config = config or Config.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        key = keys.load_or_create(config.key_file)
        app.state.public_jwks = keys.public_jwks(key)
        async with httpx.AsyncClient(timeout=10) as http:
            client_id = await ensure_registered(config, app.state.public_jwks, http)
        app.state.govconnect = GovConnect(config, key, client_id)
        await app.state.govconnect.metadata()
        yield

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/sign-in", sign_in),
            Route("/callback", callback),
            Route("/refresh", refresh, methods=["POST"]),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/backchannel-logout", backchannel_logout, methods=["POST"]),
            Route("/jwks.json", jwks),
        ],
        lifespan=lifespan,
    )
    app.state.sessions = SessionStore()
    app.state.seen_tokens = SeenTokens()
    app.add_middleware(
        SessionMiddleware,
        store=app.state.sessions,
        secure=config.secure_cookies,
        sessionless=("/backchannel-logout", "/jwks.json"),
    )
    return app
