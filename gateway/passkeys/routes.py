"""Passkey pages: "Your passkeys", sign-in with a passkey, and the ``Cl.Cm.Ch`` step-up.

Thin: each handler checks the form (CSRF first), calls one :class:`PasskeyService` method and
renders the next page or redirects. Each ceremony is two requests from the page's script
(``gateway/passkeys/static/passkeys.js``): a POST for the options (JSON, W3C WebAuthn Level 3
§5.4, §5.5), then the page's own form POST carrying the credential. Without JavaScript the
pages say what else the person can do.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from gateway.accounts.errors import SignInThrottledError
from gateway.authorize.models import AUTHORIZE_PATH
from gateway.authorize.pages import RequestId, expired, held, resume_path
from gateway.core.deps import RuntimeDep
from gateway.passkeys.errors import (
    InvalidPasskeyNameError,
    PasskeyInUseError,
    PasskeyNotFoundError,
    PasskeyRefusedError,
)
from gateway.passkeys.models import Passkey, passkey_name, proves_second_factor
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod, Session
from gateway.sessions.routes import complete_sign_in, start_second_step
from gateway.web.messages import message
from gateway.web.pages import (
    PageSession,
    SignedInSession,
    checked_form,
    client_ip,
    field,
    redirect,
    render,
    safe_next,
    secret_field,
)

router = APIRouter(include_in_schema=False)

PASSKEYS_PATH = "/account/passkeys"
STEP_UP_PATH = f"{AUTHORIZE_PATH}/passkey"
SCRIPT = Path(__file__).with_name("static") / "passkeys.js"
_BANNERS = {"added", "renamed", "removed"}


def _json(body: str) -> Response:
    return Response(body, media_type="application/json")


@router.get("/passkeys/passkeys.js")
async def script() -> Response:
    """The browser half of the ceremonies, a static file from this origin. Public."""
    return FileResponse(SCRIPT, media_type="text/javascript", headers={"cache-control": "no-cache"})


# --- Your passkeys ------------------------------------------------------------------------------


async def _passkeys_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    *,
    next_path: str,
    status: int = 200,
    banner: str | None = None,
    name: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    assert session.account_id is not None
    return render(
        request,
        "passkeys.html",
        session,
        status,
        title=message("passkeys.title"),
        passkeys=await runtime.passkeys.passkeys(session.account_id),
        strong=proves_second_factor(session.methods()),
        next=next_path,
        name=name,
        banner=banner,
        errors=errors,
    )


@router.get(PASSKEYS_PATH)
async def passkeys_page(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    next: str | None = None,
    done: str | None = None,
) -> Response:
    """The account's passkeys, and adding one. Signed-in session (adding or removing also
    needs a second factor or a passkey proven in it). ``next``: where to go once one is
    added (the step-up page)."""
    banner = message(f"passkeys.{done}") if done in _BANNERS else None
    return await _passkeys_page(
        request, session, runtime, next_path=safe_next(next, ""), banner=banner
    )


@router.post(f"{PASSKEYS_PATH}/options")
async def registration_options(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """WebAuthn §5.4 creation options, as JSON for the page's script. Signed-in session with
    a second factor or passkey proven; CSRF-checked. The name is checked first, so the
    person is never asked to create a passkey the server would then refuse."""
    form = await checked_form(request, session)
    if field(form, "name"):
        try:
            passkey_name(field(form, "name"))
        except InvalidPasskeyNameError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=400)
    return _json(await runtime.passkeys.registration_options(session))


@router.post(PASSKEYS_PATH)
async def add_passkey(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """WebAuthn §7.1: keep the passkey the browser created. Signed-in session with a second
    factor or passkey proven; CSRF-checked."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    next_path = safe_next(field(form, "next"), "")
    name = field(form, "name")
    if not name:
        count = len(await runtime.passkeys.passkeys(session.account_id))
        name = message("passkeys.default_name", number=count + 1)
    errors: dict[str, str] = {}
    try:
        await runtime.passkeys.register(session, secret_field(form, "credential"), name)
    except InvalidPasskeyNameError as exc:
        errors["name"] = exc.detail
    except PasskeyInUseError:
        errors["passkey"] = message("passkeys.in_use")
    except PasskeyRefusedError:
        errors["passkey"] = message("passkeys.register_failed")
    if errors:
        return await _passkeys_page(
            request, session, runtime, next_path=next_path, status=400, name=name, errors=errors
        )
    return redirect(request, next_path or f"{PASSKEYS_PATH}?done=added")


@router.get(f"{PASSKEYS_PATH}/second-step")
async def second_step(
    request: Request, session: SignedInSession, runtime: RuntimeDep, next: str | None = None
) -> Response:
    """Start the second-step pages of sign-in (``/sign-in/code``) for the signed-in account,
    coming back to "Your passkeys". Signed-in session."""
    assert session.account_id is not None
    account = await runtime.accounts.get(session.account_id)
    back = safe_next(next, "")
    next_path = PASSKEYS_PATH + (f"?next={quote(back)}" if back else "")
    session = await start_second_step(runtime, session, account.id, next_path)
    if account.totp_enabled:
        return redirect(request, "/sign-in/code")
    return render(
        request,
        "confirm.html",
        session,
        title=message("passkeys.second_step_title"),
        paragraphs=[message("passkeys.second_step_body")],
        action="/sign-in/email-code",
        button=message("passkeys.second_step_button"),
    )


@router.get(f"{PASSKEYS_PATH}/rename")
async def rename_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, id: str = ""
) -> Response:
    """A form to rename one passkey. Signed-in session."""
    assert session.account_id is not None
    passkey = await _passkey(runtime, session.account_id, id)
    return render(
        request,
        "passkey_rename.html",
        session,
        title=message("passkeys.rename_title"),
        passkey=passkey,
        name=passkey.name,
    )


@router.post(f"{PASSKEYS_PATH}/rename")
async def rename(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Save a passkey's new name. Signed-in session; CSRF-checked."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    passkey = await _passkey(runtime, session.account_id, field(form, "id"))
    try:
        await runtime.passkeys.rename(session.account_id, passkey.id, field(form, "name"))
    except InvalidPasskeyNameError as exc:
        return render(
            request,
            "passkey_rename.html",
            session,
            400,
            title=message("passkeys.rename_title"),
            passkey=passkey,
            name=field(form, "name"),
            errors={"name": exc.detail},
        )
    return redirect(request, f"{PASSKEYS_PATH}?done=renamed")


@router.get(f"{PASSKEYS_PATH}/remove")
async def remove_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, id: str = ""
) -> Response:
    """Confirm removing a passkey. Signed-in session with a second factor or passkey proven
    (anyone else is sent to "Your passkeys", which explains)."""
    assert session.account_id is not None
    if not proves_second_factor(session.methods()):
        return redirect(request, PASSKEYS_PATH)
    passkey = await _passkey(runtime, session.account_id, id)
    return render(
        request,
        "passkey_remove.html",
        session,
        title=message("passkeys.remove_title"),
        passkey=passkey,
    )


@router.post(f"{PASSKEYS_PATH}/remove")
async def remove(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Remove a passkey. Signed-in session with a second factor or passkey proven;
    CSRF-checked."""
    form = await checked_form(request, session)
    await runtime.passkeys.remove(session, field(form, "id"))
    return redirect(request, f"{PASSKEYS_PATH}?done=removed")


async def _passkey(runtime: Runtime, account_id: str, credential_id: str) -> Passkey:
    for passkey in await runtime.passkeys.passkeys(account_id):
        if passkey.id == credential_id:
            return passkey
    raise PasskeyNotFoundError(message("passkeys.not_found"))


# --- Sign in with a passkey ---------------------------------------------------------------------


@router.post("/sign-in/passkey/options")
async def sign_in_options(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """WebAuthn §5.5 request options for a usernameless sign-in, as JSON. Public (the
    browser's session holds the challenge); CSRF-checked."""
    await checked_form(request, session)
    return _json(await runtime.passkeys.authentication_options(session, None))


@router.post("/sign-in/passkey")
async def sign_in(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """WebAuthn §7.2: sign in as the passkey's account, then go to the page's ``next``.
    Public; CSRF-checked; throttled per client address."""
    form = await checked_form(request, session)
    next_path = safe_next(field(form, "next"))
    try:
        account = await runtime.passkeys.authenticate(
            session, secret_field(form, "credential"), client_ip(request), None
        )
    except SignInThrottledError as exc:
        wait = message("sign_in.throttled", seconds=exc.retry_after_seconds)
        return _sign_in_failed(request, session, next_path, 429, wait)
    except PasskeyRefusedError:
        return _sign_in_failed(
            request, session, next_path, 400, message("passkeys.sign_in.failed_body")
        )
    return await complete_sign_in(
        request, runtime, session, account.id, [AuthMethod.PASSKEY], next_path
    )


def _sign_in_failed(
    request: Request, session: Session, next_path: str, status: int, body: str
) -> Response:
    """What went wrong, and the way back to the sign-in page (with its ``next``)."""
    return render(
        request,
        "message.html",
        session,
        status,
        title=message("passkeys.sign_in.failed_title"),
        paragraphs=[body],
        link={
            "href": "/sign-in?next=" + quote(next_path, safe="/"),
            "text": message("passkeys.sign_in.try_again"),
        },
    )


# --- Step-up to Cl.Cm.Ch ------------------------------------------------------------------------


async def _step_up_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    request_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    """The step-up page for a held request, or what to do when it cannot be shown."""
    step = await held(request, runtime, session, request_id)
    if isinstance(step, Response):
        return step
    assert session.account_id is not None
    here = f"{STEP_UP_PATH}?request={request_id}"
    return render(
        request,
        "passkey_step_up.html",
        session,
        status,
        title=message("passkeys.step_up.title"),
        client_name=step.client.client_name,
        request_id=request_id,
        has_passkeys=bool(await runtime.passkeys.passkeys(session.account_id)),
        add_href=f"{PASSKEYS_PATH}?next={quote(here, safe='/')}",
        errors=errors,
    )


@router.get(STEP_UP_PATH)
async def step_up_page(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """Where a client's request for ``Cl.Cm.Ch`` sends a signed-in person whose session is
    below it: use a passkey of this account, or add one first. Public (the page acts on the
    browser's own session)."""
    return await _step_up_page(request, session, runtime, request_id)


@router.post(f"{STEP_UP_PATH}/options")
async def step_up_options(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """WebAuthn §5.5 request options limited to the signed-in account's passkeys, as JSON.
    Public, but refused without a signed-in session; CSRF-checked."""
    await checked_form(request, session)
    if session.account_id is None:
        raise PasskeyRefusedError("a step-up needs a signed-in session")
    return _json(await runtime.passkeys.authentication_options(session, session.account_id))


@router.post(STEP_UP_PATH)
async def step_up(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """WebAuthn §7.2 with the signed-in account's own passkey, then back to the request.
    Public (the browser's own session); CSRF-checked; throttled per client address."""
    form = await checked_form(request, session)
    request_id = field(form, "request")
    if await runtime.authorization.authorizer.pending(request_id) is None:
        return expired(request, runtime, session)
    if session.account_id is None:
        return redirect(request, resume_path(request_id))
    try:
        account = await runtime.passkeys.authenticate(
            session, secret_field(form, "credential"), client_ip(request), session.account_id
        )
    except SignInThrottledError as exc:
        error = message("sign_in.throttled", seconds=exc.retry_after_seconds)
        return await _step_up_page(
            request, session, runtime, request_id, status=429, errors={"passkey": error}
        )
    except PasskeyRefusedError:
        error = message("passkeys.step_up.failed")
        return await _step_up_page(
            request, session, runtime, request_id, status=400, errors={"passkey": error}
        )
    return await complete_sign_in(
        request, runtime, session, account.id, [AuthMethod.PASSKEY], resume_path(request_id)
    )
