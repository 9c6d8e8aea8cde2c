"""What every page route uses: the session, CSRF-checked forms, rendering and redirects.

Pages are rendered on the server with GOV.UK Frontend's Jinja macros and work with
JavaScript off. Each response carries a CSP with a fresh nonce for the one inline script
the GOV.UK template needs, and the session cookie when the session id changed.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from starlette.datastructures import FormData

from gateway.core.deps import RuntimeDep
from gateway.core.settings import Settings, is_loopback_host
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.web.errors import CsrfError, SignInRequired
from gateway.web.messages import message

R = TypeVar("R", HTMLResponse, RedirectResponse)
UK = ZoneInfo("Europe/London")
TEMPLATES = Path(__file__).with_name("templates")
MAX_FORM_FIELDS = 50


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = message
    env.filters["uk_time"] = uk_time
    return env


def uk_time(value: datetime) -> str:
    """GOV.UK style dates in UK time: ``4 December 2026 at 3:15pm``."""
    local = value.astimezone(UK)
    hour, half = local.hour % 12 or 12, "am" if local.hour < 12 else "pm"
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{half}"


ENVIRONMENT = _environment()


@dataclass(frozen=True, slots=True)
class CookieNames:
    """``__Host-`` cookies need Secure; plain http is allowed only on loopback development."""

    session: str
    device: str
    secure: bool

    @classmethod
    def for_settings(cls, settings: Settings) -> CookieNames:
        parts = urlsplit(settings.issuer)
        # NOTE: Secure is dropped only for an http issuer on a loopback host (development);
        # Settings.check_production refuses any other http issuer.
        if parts.scheme == "http" and is_loopback_host(parts.hostname):
            return cls("gc_session", "gc_device", secure=False)
        return cls("__Host-gc_session", "__Host-gc_device", secure=True)


def client_ip(request: Request) -> str:
    """The peer address, already rewritten from X-Forwarded-For only for trusted proxies."""
    return request.client.host if request.client else "unknown"


async def page_session(request: Request, runtime: RuntimeDep) -> Session:
    """The browser's session, starting an anonymous one (for CSRF and sign-in state)."""
    request.state.pages = True
    names = CookieNames.for_settings(runtime.settings)
    session = await runtime.sessions.load(request.cookies.get(names.session))
    if session is None:
        session = await runtime.sessions.start(
            client_ip(request), request.headers.get("user-agent", "")
        )
        use_session(request, session)
    return session


PageSession = Annotated[Session, Depends(page_session)]


async def signed_in_session(request: Request, session: PageSession) -> Session:
    """The session of a signed-in person; anyone else is sent to sign in and brought back."""
    if not session.signed_in:
        raise SignInRequired(request.url.path)
    return session


SignedInSession = Annotated[Session, Depends(signed_in_session)]


def account_of(session: Session) -> str:
    """The account of a :data:`SignedInSession` (which guarantees there is one)."""
    assert session.account_id is not None, "SignedInSession guarantees an account"
    return session.account_id


def banner(group: str, done: str | None) -> str | None:
    """The success banner ``<group>.banners.<done>`` a redirect asked for with ``?done=``;
    only the catalogue's words reach the page, never the link's."""
    try:
        return message(f"{group}.banners.{done}") if done else None
    except KeyError:
        return None


def use_session(request: Request, session: Session) -> None:
    """Send this session's id as the cookie with the response (after start or sign-in)."""
    request.state.new_session = session


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form, once its CSRF token matches the session's (OWASP synchronizer token)."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get("csrf_token")
    if (
        not isinstance(token, str)
        or not token.isascii()  # compare_digest refuses non-ASCII str with a TypeError
        or not hmac.compare_digest(token, session.csrf_token)
    ):
        raise CsrfError("The form was out of date or did not come from this service.")
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def secret_field(form: FormData, name: str) -> str:
    """A password or code exactly as typed: never stripped or changed."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def render(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    *,
    language: str = "en",
    **context: Any,
) -> HTMLResponse:
    """``template`` with ``context``; ``language`` ("en" or "cy") picks the catalogue that
    ``t()`` reads and the page's ``lang`` (WCAG 2.2 SC 3.1.1)."""
    nonce = secrets.token_urlsafe(16)
    errors: dict[str, str] = context.get("errors") or {}
    context["errors_list"] = [{"text": text, "href": f"#{name}"} for name, text in errors.items()]
    html = ENVIRONMENT.get_template(template).render(
        request=request,
        session=session,
        csrf_token=session.csrf_token if session else "",
        cspNonce=nonce,
        htmlLang=language,
        t=partial(message, language=language),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["content-security-policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return finish(request, response)


def redirect(request: Request, url: str) -> RedirectResponse:
    """303 See Other: the browser follows with GET, so a reload never re-posts a form."""
    return finish(request, RedirectResponse(url, status_code=303))


def finish(request: Request, response: R) -> R:
    runtime: Runtime = request.app.state.runtime
    names = CookieNames.for_settings(runtime.settings)
    new: Session | None = getattr(request.state, "new_session", None)
    if new is not None:
        response.set_cookie(
            names.session,
            new.id,
            httponly=True,
            secure=names.secure,
            samesite="lax",
            path="/",
        )
    device: str | None = getattr(request.state, "new_device", None)
    if device is not None:
        response.set_cookie(
            names.device,
            device,
            max_age=365 * 86_400,
            httponly=True,
            secure=names.secure,
            samesite="lax",
            path="/",
        )
    if getattr(request.state, "clear_session", False):
        response.delete_cookie(names.session, path="/", secure=names.secure, httponly=True)
    return response


def safe_next(value: str | None, default: str = "/account") -> str:
    """Only a path on this site: never an absolute URL or ``//host`` (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
