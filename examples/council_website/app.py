"""The Demo Borough Council website: pages, the OpenID Connect callback, the permit
application sent through GovConnect (:mod:`.submissions`) and the back-channel logout endpoint.

=====================  ======  ===================================================
path                   method  what it does
=====================  ======  ===================================================
``/``                  GET     home: the person's claims and level, or "sign in";
                               GovConnect's post-logout redirect comes back here
``/sign-in``           GET     starts the code flow (redirect to GovConnect)
``/callback``          GET     the redirect URI: code → tokens → ID token checked
``/refresh``           POST    uses the refresh token (CSRF-protected form)
``/apply``             GET     the parking permit form (signed-in citizens)
``/apply``             POST    sends it, with a PDF, through GovConnect (CSRF-protected)
``/applications/{id}`` GET     an application's state, timeline and answer, checked
``/sign-out``          POST    RP-initiated logout (CSRF-protected form)
``/backchannel-logout`` POST   GovConnect's logout tokens (Back-Channel Logout 1.0)
``/jwks.json``         GET     this site's public key, to register with GovConnect
=====================  ======  ===================================================
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from examples.council_website import keys
from examples.council_website.config import Config
from examples.council_website.logout_tokens import InvalidLogoutToken, SeenTokens, verify
from examples.council_website.oidc import GovConnect, SignInError
from examples.council_website.registration import ensure_registered
from examples.council_website.sessions import (
    LocalSession,
    SessionMiddleware,
    SessionStore,
    SignIn,
)
from examples.council_website.submissions import (
    Applications,
    Refused,
    Submissions,
    Upload,
    describe,
    idempotency_key,
    new_form_key,
    reference_for,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# The application form: what the demo service ("parking-permit", its schema in
# parking-permit.schema.json) takes, with one PDF as proof of address.
PERMIT_TYPES = {"resident": "Resident permit", "visitor": "Visitor permit"}
MAX_NAME_LENGTH = 200
MAX_PDF_BYTES = 500_000
FORM_FIELDS = ("csrf_token", "form_key", "name", "street", "permit_type", "proof")

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
    """Seconds since the epoch, or an ISO 8601 time (GovConnect's timeline), in words."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        return "-"
    return moment.strftime("%H:%M:%S UTC on %d %B %Y")


TEMPLATES.filters["time"] = _time
TEMPLATES.filters["describe"] = describe


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


def _csrf_ok(form: FormData, session: LocalSession) -> bool:
    """The posted form carried this session's CSRF token (OWASP synchronizer token)."""
    token = form.get("csrf_token")
    return isinstance(token, str) and hmac.compare_digest(token, session.csrf_token)


async def _checked_form(request: Request) -> bool:
    return _csrf_ok(await request.form(), _local(request))


def _home() -> RedirectResponse:
    return RedirectResponse("/", 303)


async def home(request: Request) -> Response:
    session = _local(request)
    if "state" in request.query_params and await _govconnect(request).signed_out(request):
        session.notice = "You have signed out of Demo Borough Council and GovConnect."
    applications = (
        _applications(request).of(str(session.sign_in.claims["sub"])) if session.sign_in else []
    )
    return _page(
        request,
        "home.html",
        sign_in=session.sign_in,
        applications=applications,
        can_apply=_submissions(request) is not None,
    )


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


# --- applications: a citizen's form sent through GovConnect -----------------------------


def _submissions(request: Request) -> Submissions | None:
    submissions: Submissions | None = request.app.state.submissions
    return submissions


def _applications(request: Request) -> Applications:
    applications: Applications = request.app.state.applications
    return applications


async def _access_token(request: Request, *, refresh: bool = False) -> str:
    """The citizen's access token, refreshed first when it is about to expire (or when
    ``refresh``: GovConnect said it is no longer valid); RFC 6749 §6."""
    session = _local(request)
    sign_in = session.sign_in
    assert sign_in is not None
    expires_at = sign_in.token.get("expires_at")
    config: Config = request.app.state.config
    deadline = time.time() + config.refresh_margin_seconds
    if refresh or (isinstance(expires_at, int | float) and expires_at < deadline):
        if not sign_in.token.get("refresh_token"):
            raise SignInError("GovConnect gave this sign-in no refresh token")
        session.sign_in = await _govconnect(request).refresh(sign_in)
        session.sign_in.refreshed_at = datetime.now(UTC)
        sign_in = session.sign_in
    return str(sign_in.token["access_token"])


async def _for_citizen(request: Request, call: Callable[[str], Awaitable[T]]) -> T:
    """``call`` with the citizen's access token; once more with a refreshed one when
    GovConnect answers ``invalid-token`` (RFC 6750 §3.1: expired or revoked)."""
    try:
        return await call(await _access_token(request))
    except Refused as exc:
        if exc.slug != "invalid-token":
            raise
    return await call(await _access_token(request, refresh=True))


def _signed_in(request: Request) -> SignIn | None:
    session = _local(request)
    if session.sign_in is None:
        session.notice = "Sign in with GovConnect to apply for a permit or see your applications."
    return session.sign_in


def _refused(request: Request, exc: Exception) -> HTMLResponse:
    """The page for a call to GovConnect that failed: the problem's detail and what to do."""
    if isinstance(exc, Refused):
        refused = exc
    elif isinstance(exc, SignInError):
        refused = Refused(
            {
                "type": "urn:govconnect:problem:invalid-token",
                "status": 401,
                "detail": f"Your sign-in could not be renewed ({exc}).",
            }
        )
    else:
        refused = Refused({"status": 502, "detail": f"GovConnect cannot be reached: {exc}"})
    status = refused.status if 400 <= refused.status < 500 else 502
    return _page(request, "refused.html", status, refused=refused)


def _form_page(
    request: Request,
    form_key: str,
    answers: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "apply.html",
        400 if errors else 200,
        form_key=form_key,
        answers=answers or {},
        errors=errors or {},
        permit_types=PERMIT_TYPES,
        max_pdf_bytes=MAX_PDF_BYTES,
    )


async def _read_application(
    form: FormData,
) -> tuple[dict[str, str], Upload | None, dict[str, str]]:
    """The answers, the PDF and what is wrong with them (GOV.UK error messages: say what
    happened and how to fix it)."""
    answers = {
        name: value.strip()
        for name in ("name", "street", "permit_type")
        if isinstance(value := form.get(name), str)
    }
    errors: dict[str, str] = {}
    if not answers.get("name"):
        errors["name"] = "Enter your full name"
    elif len(answers["name"]) > MAX_NAME_LENGTH:
        errors["name"] = f"Full name must be {MAX_NAME_LENGTH} characters or fewer"
    if len(answers.get("street", "")) > MAX_NAME_LENGTH:
        errors["street"] = f"Street address must be {MAX_NAME_LENGTH} characters or fewer"
    if answers.get("permit_type") not in PERMIT_TYPES:
        errors["permit_type"] = "Select the type of permit you want"
    proof = form.get("proof")
    upload: Upload | None = None
    if not isinstance(proof, UploadFile) or not proof.filename:
        errors["proof"] = "Select a PDF that shows your address"
    else:
        data = await proof.read(MAX_PDF_BYTES + 1)
        if not data:
            errors["proof"] = "The selected file is empty"
        elif len(data) > MAX_PDF_BYTES:
            errors["proof"] = f"The selected file must be smaller than {MAX_PDF_BYTES // 1000} KB"
        elif not data.startswith(b"%PDF-"):  # by content, as GovConnect checks it
            errors["proof"] = "The selected file must be a PDF"
        else:
            name = Path(proof.filename.replace("\\", "/")).name or "proof-of-address.pdf"
            upload = (name, data, "application/pdf")
    return answers, upload, errors


async def apply(request: Request) -> Response:
    """The permit form (GET) and sending it (POST): validated here first, then signed and
    submitted to GovConnect for the citizen (:mod:`.submissions`)."""
    sign_in = _signed_in(request)
    if sign_in is None:
        return _home()
    submissions = _submissions(request)
    if submissions is None:
        return _page(request, "not-set-up.html", 503)
    if request.method == "GET":
        return _form_page(request, new_form_key())
    form = await request.form(max_files=1, max_fields=len(FORM_FIELDS))
    form_key = form.get("form_key")
    if not _csrf_ok(form, _local(request)) or not isinstance(form_key, str) or not form_key:
        return _home()
    answers, upload, errors = await _read_application(form)
    if errors or upload is None:
        return _form_page(request, form_key, answers, errors)
    config: Config = request.app.state.config
    body = {"name": answers["name"], "permit_type": answers["permit_type"]}
    if answers.get("street"):
        body["street"] = answers["street"]
    application_request = {
        "recipient": config.recipient,
        "service": config.service,
        "version": config.service_version,
        "reference": reference_for(form_key),
        "body": body,
    }
    sub = str(sign_in.claims["sub"])
    key = idempotency_key(sub, form_key)
    try:
        application = await _for_citizen(
            request,
            lambda token: submissions.submit(token, application_request, [upload], key),
        )
    except (Refused, SignInError, httpx.HTTPError) as exc:
        return _refused(request, exc)
    _applications(request).add(sub, application)
    _local(request).notice = f"Your application {application.reference} has been sent."
    return RedirectResponse(f"/applications/{application.id}", 303)


async def application(request: Request) -> Response:
    """One of the citizen's applications, as GovConnect reports it, signatures checked."""
    sign_in = _signed_in(request)
    if sign_in is None:
        return _home()
    submissions = _submissions(request)
    found = _applications(request).find(
        str(sign_in.claims["sub"]), request.path_params["submission_id"]
    )
    if submissions is None or found is None:
        return _page(request, "no-application.html", 404)
    try:
        status = await _for_citizen(request, lambda token: submissions.status(token, found))
    except (Refused, SignInError, httpx.HTTPError) as exc:
        return _refused(request, exc)
    return _page(request, "application.html", application=found, progress=status)


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
            registered = await ensure_registered(config, app.state.public_jwks, http)
        govconnect = GovConnect(config, key, registered.client_id)
        app.state.govconnect = govconnect
        await govconnect.metadata()
        if config.recipient is not None and registered.organisation_id is not None:
            app.state.submissions = Submissions(
                issuer=govconnect.issuer,
                client_id=registered.client_id,
                organisation_id=registered.organisation_id,
                key=key,
                jwks=govconnect.jwks,
            )
        yield

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/sign-in", sign_in),
            Route("/callback", callback),
            Route("/refresh", refresh, methods=["POST"]),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/apply", apply, methods=["GET", "POST"]),
            Route("/applications/{submission_id}", application),
            Route("/backchannel-logout", backchannel_logout, methods=["POST"]),
            Route("/jwks.json", jwks),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.sessions = SessionStore()
    app.state.seen_tokens = SeenTokens()
    app.state.applications = Applications()
    app.state.submissions = None  # set at start-up when applying online is set up
    app.add_middleware(
        SessionMiddleware,
        store=app.state.sessions,
        secure=config.secure_cookies,
        sessionless=("/backchannel-logout", "/jwks.json"),
    )
    return app
