"""Sign-in, the second step, and sign-out pages (server-rendered, JavaScript optional).

Sign-in is two steps when the account has an authenticator app: the password step leaves
the account id in the (anonymous) session as pending, and only the second step creates the
signed-in session, under a new id, so the pre-sign-in cookie is worthless afterwards.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.accounts.errors import CodeSendLimitError, SignInFailedError, SignInThrottledError
from gateway.accounts.models import SignInAttempt
from gateway.core.deps import RuntimeDep
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod, Session
from gateway.web.messages import message
from gateway.web.pages import (
    CookieNames,
    PageSession,
    checked_form,
    client_ip,
    field,
    redirect,
    render,
    safe_next,
    secret_field,
    use_session,
)

router = APIRouter(include_in_schema=False)

SECOND_STEP_WINDOW = timedelta(minutes=10)
SECOND_STEP_ATTEMPTS = 5
SECOND_FACTORS = {
    "totp": AuthMethod.TOTP,
    "recovery": AuthMethod.RECOVERY_CODE,
    "email": AuthMethod.EMAIL_CODE,
}


async def complete_sign_in(
    request: Request,
    runtime: Runtime,
    session: Session,
    account_id: str,
    methods: list[AuthMethod],
    next_path: str,
) -> Response:
    """Swap the anonymous session for a signed-in one and remember this browser."""
    signed_in = await runtime.sessions.sign_in(session, account_id, methods)
    use_session(request, signed_in)
    request.state.new_device = await runtime.accounts.issue_device_token(account_id)
    return redirect(request, next_path)


@router.get("/sign-in")
async def sign_in_page(
    request: Request, session: PageSession, next: str | None = None, done: str | None = None
) -> Response:
    """Public."""
    if session.signed_in:
        return redirect(request, safe_next(next))
    banner = message(f"banner.{done}") if done in {"password-reset", "email-changed"} else None
    return render(
        request,
        "sign_in.html",
        session,
        title="Sign in",
        next=safe_next(next),
        email="",
        banner=banner,
    )


@router.post("/sign-in")
async def sign_in(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    email, password = field(form, "email"), secret_field(form, "password")
    next_path = safe_next(field(form, "next"))
    errors = {}
    if not email:
        errors["email"] = message("email.missing")
    if not password:
        errors["password"] = message("password.missing")
    if errors:
        return render(
            request,
            "sign_in.html",
            session,
            400,
            title="Sign in",
            next=next_path,
            email=email,
            errors=errors,
        )
    device = request.cookies.get(CookieNames.for_settings(runtime.settings).device)
    try:
        account = await runtime.accounts.authenticate(
            email, password, SignInAttempt(client_ip(request), device)
        )
    except SignInThrottledError as exc:
        errors = {"email": message("sign_in.throttled", seconds=exc.retry_after_seconds)}
        return render(
            request,
            "sign_in.html",
            session,
            429,
            title="Sign in",
            next=next_path,
            email=email,
            errors=errors,
        )
    except SignInFailedError:
        errors = {"email": message("sign_in.failed")}
        return render(
            request,
            "sign_in.html",
            session,
            400,
            title="Sign in",
            next=next_path,
            email=email,
            errors=errors,
        )
    if not account.email_verified:
        with contextlib.suppress(CodeSendLimitError):  # the codes already sent still work
            await runtime.accounts.resend_verification(account.email)
        await runtime.sessions.set_pending(
            session, {"verify_email": account.email, "next": next_path}
        )
        return redirect(request, "/create-account/check-email")
    if account.totp_enabled:
        await start_second_step(runtime, session, account.id, next_path)
        return redirect(request, "/sign-in/code")
    return await complete_sign_in(
        request, runtime, session, account.id, [AuthMethod.PASSWORD], next_path
    )


async def start_second_step(
    runtime: Runtime, session: Session, account_id: str, next_path: str
) -> Session:
    """Ask for the account's second factor on the ``/sign-in/code`` pages, then go on to
    ``next_path``: after a password at sign-in, and for a signed-in person who must prove it
    again (a step-up, adding a passkey, accepting an agent). The same code checks and attempt
    limits apply everywhere."""
    pending = {
        "second_step": account_id,
        "at": runtime.clock.now().isoformat(),
        "next": next_path,
        "tries": 0,
    }
    return await runtime.sessions.set_pending(session, pending)


def _second_step_account(runtime: Runtime, session: Session) -> str | None:
    """The account waiting for its second factor, if the password step was recent."""
    account_id = session.pending.get("second_step")
    started = session.pending.get("at")
    if not isinstance(account_id, str) or not isinstance(started, str):
        return None
    if runtime.clock.now() - datetime.fromisoformat(started) > SECOND_STEP_WINDOW:
        return None
    return account_id


@router.get("/sign-in/code")
async def second_step_page(
    request: Request, session: PageSession, runtime: RuntimeDep, method: str = "totp"
) -> Response:
    """Public."""
    if _second_step_account(runtime, session) is None:
        return redirect(request, "/sign-in")
    method = method if method in SECOND_FACTORS else "totp"
    return render(request, "sign_in_code.html", session, title="Enter your code", method=method)


@router.post("/sign-in/email-code")
async def send_email_code(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    await checked_form(request, session)
    account_id = _second_step_account(runtime, session)
    if account_id is None:
        return redirect(request, "/sign-in")
    try:
        await runtime.accounts.send_sign_in_code(account_id, Channel.EMAIL)
    except CodeSendLimitError as exc:
        errors = {"code": message("code.send_limit", seconds=exc.retry_after_seconds)}
        return render(
            request,
            "sign_in_code.html",
            session,
            429,
            title="Enter your code",
            method="email",
            errors=errors,
        )
    return redirect(request, "/sign-in/code?method=email")


@router.post("/sign-in/code")
async def second_step(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    account_id = _second_step_account(runtime, session)
    if account_id is None:
        return redirect(request, "/sign-in")
    method = field(form, "method") if field(form, "method") in SECOND_FACTORS else "totp"
    code = field(form, "code").replace(" ", "")
    accounts = runtime.accounts
    try:
        if method == "totp":
            accepted = bool(code) and await accounts.verify_totp(account_id, code)
        elif method == "recovery":
            accepted = bool(code) and await accounts.use_recovery_code(account_id, code)
        else:
            accepted = bool(code) and await accounts.verify_sign_in_code(account_id, code)
    except SignInThrottledError as exc:
        errors = {"code": message("sign_in.throttled", seconds=exc.retry_after_seconds)}
        return render(
            request,
            "sign_in_code.html",
            session,
            429,
            title="Enter your code",
            method=method,
            errors=errors,
        )
    if accepted:
        next_path = safe_next(session.pending.get("next"))
        methods = [AuthMethod.PASSWORD, SECOND_FACTORS[method]]
        return await complete_sign_in(request, runtime, session, account_id, methods, next_path)
    tries = int(session.pending.get("tries", 0)) + 1
    if tries >= SECOND_STEP_ATTEMPTS:
        # Too many wrong codes: start again from the password, which is throttled.
        await runtime.sessions.set_pending(session, {})
        return redirect(request, "/sign-in")
    await runtime.sessions.set_pending(session, {**session.pending, "tries": tries})
    key = {"totp": "code.authenticator_invalid", "recovery": "code.recovery_invalid"}.get(
        method, "code.invalid"
    )
    errors = {"code": message(key) if code else message("code.missing")}
    return render(
        request,
        "sign_in_code.html",
        session,
        400,
        title="Enter your code",
        method=method,
        errors=errors,
    )


@router.get("/sign-out")
async def sign_out_page(request: Request, session: PageSession) -> Response:
    """Public."""
    if not session.signed_in:
        return redirect(request, "/sign-in")
    return render(
        request,
        "confirm.html",
        session,
        title="Sign out of GovConnect",
        action="/sign-out",
        button="Sign out",
        paragraphs=[],
    )


@router.post("/sign-out")
async def sign_out(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    await checked_form(request, session)
    await runtime.sessions.end(session)
    request.state.clear_session = True
    return render(
        request,
        "message.html",
        None,
        title=message("pages.signed_out_title"),
        paragraphs=[message("pages.signed_out_body")],
        link={"href": "/sign-in", "text": "Sign in again"},
    )
