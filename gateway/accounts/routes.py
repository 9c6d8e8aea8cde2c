"""Account pages: create and verify, reset a password, and everything on "Your account".

Thin: each handler checks the form (CSRF first), calls one service method, and renders the
next page or the same page with GOV.UK-style errors. Sentences live in templates and in
``gateway/web/messages.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.accounts.errors import (
    CodeSendLimitError,
    InvalidCodeError,
    InvalidEmailError,
    SignInFailedError,
    WeakPasswordError,
)
from gateway.core.deps import RuntimeDep
from gateway.sessions.models import AuthMethod, Session
from gateway.sessions.routes import complete_sign_in
from gateway.web.messages import message
from gateway.web.pages import (
    PageSession,
    SignedInSession,
    checked_form,
    field,
    redirect,
    render,
    safe_next,
    secret_field,
)
from trust_levels.table import credential_level

router = APIRouter(include_in_schema=False)
VERIFIED = "/account?done=verified"


@dataclass(frozen=True, slots=True)
class CodeFlow:
    """A flow that sends a code by email and asks for it back on the next page."""

    template: str
    title: str
    pending_key: str
    action: str
    resend_action: str | None
    start: str  # where the flow begins, for a browser that arrives without it in progress


VERIFY_EMAIL = CodeFlow(
    "check_email.html",
    "Check your email",
    "verify_email",
    "/create-account/check-email",
    "/create-account/resend",
    "/create-account",
)
RESET_PASSWORD = CodeFlow(
    "reset_password.html",
    "Reset your password",
    "reset_email",
    "/reset-password",
    "/forgot-password/resend",
    "/forgot-password",
)
# A new code for an email change means entering the new address and password again.
CHANGE_EMAIL = CodeFlow(
    "check_email.html",
    "Check your email",
    "new_email",
    "/account/email/confirm",
    None,
    "/account/email",
)


def _email_error(email: str) -> str | None:
    if not email:
        return message("email.missing")
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        return message("email.invalid")
    return None


def _password_error(exc: WeakPasswordError) -> str:
    return message(f"password.{exc.reason}")


def _code(form_value: str) -> str:
    """Codes as people type them: spaces and hyphens from copying are not part of the code."""
    return form_value.replace(" ", "")


# --- Create an account and confirm the email address -------------------------------------------


@router.get("/create-account")
async def create_account_page(
    request: Request,
    session: PageSession,
    next: str | None = None,
) -> Response:
    """``next`` brings a person who came from a council's sign-in back to it once verified.
    Public."""
    if session.signed_in:
        return redirect(request, safe_next(next))
    return render(
        request,
        "create_account.html",
        session,
        title="Create an account",
        email="",
        next=safe_next(next, VERIFIED),
    )


@router.post("/create-account")
async def create_account(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    email, password = field(form, "email"), secret_field(form, "password")
    errors: dict[str, str] = {}
    if problem := _email_error(email):
        errors["email"] = problem
    if not password:
        errors["password"] = message("password.missing")
    if not errors:
        try:
            # The same outcome whether or not the address has an account (no enumeration).
            await runtime.accounts.register(email, password)
        except InvalidEmailError:
            errors["email"] = message("email.invalid")
        except WeakPasswordError as exc:
            errors["password"] = _password_error(exc)
        except CodeSendLimitError as exc:
            errors["email"] = message("code.send_limit", seconds=exc.retry_after_seconds)
    if errors:
        return render(
            request,
            "create_account.html",
            session,
            400,
            title="Create an account",
            email=email,
            next=safe_next(field(form, "next"), VERIFIED),
            errors=errors,
        )
    await runtime.sessions.set_pending(
        session, {"verify_email": email, "next": safe_next(field(form, "next"), VERIFIED)}
    )
    return redirect(request, "/create-account/check-email")


def _code_page(
    request: Request,
    session: Session,
    flow: CodeFlow,
    status: int = 200,
    **errors: str,
) -> Response:
    """The "check your email" page of a flow: enter the code we sent, or ask for another."""
    return render(
        request,
        flow.template,
        session,
        status,
        title=flow.title,
        email=session.pending.get(flow.pending_key, ""),
        action=flow.action,
        resend_action=flow.resend_action,
        errors=errors,
    )


def _code_page_or_start(request: Request, session: Session, flow: CodeFlow) -> Response:
    if not session.pending.get(flow.pending_key):
        return redirect(request, flow.start)
    return _code_page(request, session, flow)


@router.get("/create-account/check-email")
async def check_email_page(request: Request, session: PageSession) -> Response:
    """Public."""
    return _code_page_or_start(request, session, VERIFY_EMAIL)


@router.post("/create-account/check-email")
async def check_email(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    email = session.pending.get("verify_email")
    if not isinstance(email, str):
        return redirect(request, "/create-account")
    code = _code(field(form, "code"))
    if not code:
        return _code_page(request, session, VERIFY_EMAIL, 400, code=message("code.missing"))
    try:
        account = await runtime.accounts.verify_email(email, code)
    except InvalidCodeError:
        return _code_page(request, session, VERIFY_EMAIL, 400, code=message("code.invalid"))
    next_path = safe_next(session.pending.get("next"))
    return await complete_sign_in(
        request, runtime, session, account.id, [AuthMethod.PASSWORD], next_path
    )


@router.post("/create-account/resend")
async def resend_code(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    await checked_form(request, session)
    email = session.pending.get("verify_email")
    if not isinstance(email, str):
        return redirect(request, "/create-account")
    try:
        await runtime.accounts.resend_verification(email)
    except CodeSendLimitError as exc:
        limit = message("code.send_limit", seconds=exc.retry_after_seconds)
        return _code_page(request, session, VERIFY_EMAIL, 429, code=limit)
    return redirect(request, "/create-account/check-email")


# --- Forgotten password ------------------------------------------------------------------------


@router.get("/forgot-password")
async def forgot_password_page(request: Request, session: PageSession) -> Response:
    """Public."""
    return render(request, "forgot_password.html", session, title="Reset your password", email="")


@router.post("/forgot-password")
async def forgot_password(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    email = field(form, "email")
    errors: dict[str, str] = {}
    if problem := _email_error(email):
        errors["email"] = problem
    else:
        try:
            await runtime.accounts.start_password_reset(email)
        except InvalidEmailError:
            errors["email"] = message("email.invalid")
        except CodeSendLimitError as exc:
            errors["email"] = message("code.send_limit", seconds=exc.retry_after_seconds)
    if errors:
        return render(
            request,
            "forgot_password.html",
            session,
            400,
            title="Reset your password",
            email=email,
            errors=errors,
        )
    await runtime.sessions.set_pending(session, {"reset_email": email})
    return redirect(request, "/reset-password")


@router.get("/reset-password")
async def reset_password_page(request: Request, session: PageSession) -> Response:
    """Public."""
    return _code_page_or_start(request, session, RESET_PASSWORD)


@router.post("/reset-password")
async def reset_password(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Public."""
    form = await checked_form(request, session)
    email = session.pending.get("reset_email")
    if not isinstance(email, str):
        return redirect(request, "/forgot-password")
    code, new_password = _code(field(form, "code")), secret_field(form, "new_password")
    if not code:
        return _code_page(request, session, RESET_PASSWORD, 400, code=message("code.missing"))
    if not new_password:
        return _code_page(
            request, session, RESET_PASSWORD, 400, new_password=message("password.missing")
        )
    try:
        account = await runtime.accounts.reset_password(email, code, new_password)
    except InvalidCodeError:
        return _code_page(request, session, RESET_PASSWORD, 400, code=message("code.invalid"))
    except WeakPasswordError as exc:
        return _code_page(request, session, RESET_PASSWORD, 400, new_password=_password_error(exc))
    await runtime.sessions.end_all(account.id)
    await runtime.sessions.set_pending(session, {})
    return redirect(request, "/sign-in?done=password-reset")


@router.post("/forgot-password/resend")
async def resend_reset_code(
    request: Request, session: PageSession, runtime: RuntimeDep
) -> Response:
    """Public."""
    await checked_form(request, session)
    email = session.pending.get("reset_email")
    if not isinstance(email, str):
        return redirect(request, "/forgot-password")
    try:
        await runtime.accounts.start_password_reset(email)
    except CodeSendLimitError as exc:
        limit = message("code.send_limit", seconds=exc.retry_after_seconds)
        return _code_page(request, session, RESET_PASSWORD, 429, code=limit)
    return redirect(request, "/reset-password")


# --- Your account ------------------------------------------------------------------------------

_METHOD_NAMES = {
    AuthMethod.PASSWORD: "password",
    AuthMethod.TOTP: "authenticator app",
    AuthMethod.RECOVERY_CODE: "recovery code",
    AuthMethod.EMAIL_CODE: "emailed code",
    AuthMethod.SMS: "text message code",
    AuthMethod.PASSKEY: "passkey",
}


def _banner(done: str | None, allowed: set[str]) -> str | None:
    return message(f"banner.{done}") if done in allowed else None


@router.get("/account")
async def account_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: str | None = None
) -> Response:
    """Signed-in session."""
    assert session.account_id is not None
    account = await runtime.accounts.get(session.account_id)
    recovery_left = (
        await runtime.accounts.remaining_recovery_codes(account.id) if account.totp_enabled else 0
    )
    methods = " and ".join(sorted(_METHOD_NAMES[m] for m in session.methods()))
    standing = await runtime.levels.assurance(session)
    return render(
        request,
        "account.html",
        session,
        title="Your account",
        account=account,
        recovery_left=recovery_left,
        methods=methods,
        level=standing.credential and credential_level(standing.credential),
        banner=_banner(done, {"password-changed", "authenticator-ready", "verified"}),
    )


@router.get("/account/sessions")
async def sessions_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: str | None = None
) -> Response:
    """Signed-in session."""
    assert session.account_id is not None
    sessions = await runtime.sessions.list_for(session.account_id, session)
    return render(
        request,
        "sessions.html",
        session,
        title="Your sessions",
        sessions=sessions,
        banner=_banner(done, {"sessions-ended", "session-ended"}),
    )


@router.post("/account/sessions/end")
async def end_session(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    await runtime.sessions.end_by_handle(session.account_id, field(form, "handle"))
    return redirect(request, "/account/sessions?done=session-ended")


@router.post("/account/sessions/end-others")
async def end_other_sessions(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    assert session.account_id is not None
    await runtime.sessions.end_all(session.account_id, except_session=session.id)
    return redirect(request, "/account/sessions?done=sessions-ended")


@router.get("/account/authenticator")
async def authenticator_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    assert session.account_id is not None
    enrolment = await runtime.accounts.begin_totp(session.account_id)
    return render(
        request,
        "authenticator.html",
        session,
        title="Set up an authenticator app",
        enrolment=enrolment,
    )


@router.post("/account/authenticator")
async def confirm_authenticator(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    code = _code(field(form, "code"))
    try:
        codes = await runtime.accounts.confirm_totp(session.account_id, code)
    except InvalidCodeError:
        # A fresh secret each time the page is shown: the one that failed is discarded.
        enrolment = await runtime.accounts.begin_totp(session.account_id)
        errors = {
            "code": message("code.authenticator_invalid") if code else message("code.missing")
        }
        return render(
            request,
            "authenticator.html",
            session,
            400,
            title="Set up an authenticator app",
            enrolment=enrolment,
            errors=errors,
        )
    return render(
        request, "recovery_codes.html", session, title="Save your recovery codes", codes=codes.codes
    )


@router.get("/account/recovery-codes")
async def recovery_codes_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return render(
        request,
        "confirm.html",
        session,
        title="Make new recovery codes",
        action="/account/recovery-codes",
        button="Make new codes",
        paragraphs=["Your old recovery codes will stop working."],
    )


@router.post("/account/recovery-codes")
async def regenerate_recovery_codes(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    assert session.account_id is not None
    codes = await runtime.accounts.regenerate_recovery_codes(session.account_id)
    return render(
        request, "recovery_codes.html", session, title="Save your recovery codes", codes=codes.codes
    )


@router.get("/account/password")
async def change_password_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return render(request, "change_password.html", session, title="Change your password")


@router.post("/account/password")
async def change_password(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    current, new = secret_field(form, "current_password"), secret_field(form, "new_password")
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = message("password.missing")
    if not new:
        errors["new_password"] = message("password.missing")
    if not errors:
        try:
            await runtime.accounts.change_password(session.account_id, current, new)
        except SignInFailedError:
            errors["current_password"] = message("password.wrong")
        except WeakPasswordError as exc:
            errors["new_password"] = _password_error(exc)
    if errors:
        return render(
            request,
            "change_password.html",
            session,
            400,
            title="Change your password",
            errors=errors,
        )
    await runtime.sessions.end_all(session.account_id, except_session=session.id)
    return redirect(request, "/account?done=password-changed")


@router.get("/account/email")
async def change_email_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return render(
        request, "change_email.html", session, title="Change your email address", new_email=""
    )


@router.post("/account/email")
async def change_email(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    new_email, password = field(form, "new_email"), secret_field(form, "password")
    errors: dict[str, str] = {}
    if problem := _email_error(new_email):
        errors["new_email"] = problem
    if not password:
        errors["password"] = message("password.missing")
    if not errors:
        try:
            await runtime.accounts.start_email_change(session.account_id, password, new_email)
        except InvalidEmailError:
            errors["new_email"] = message("email.invalid")
        except SignInFailedError:
            errors["password"] = message("password.wrong")
        except CodeSendLimitError as exc:
            errors["new_email"] = message("code.send_limit", seconds=exc.retry_after_seconds)
    if errors:
        return render(
            request,
            "change_email.html",
            session,
            400,
            title="Change your email address",
            new_email=new_email,
            errors=errors,
        )
    await runtime.sessions.set_pending(session, {"new_email": new_email})
    return redirect(request, "/account/email/confirm")


@router.get("/account/email/confirm")
async def confirm_email_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return _code_page_or_start(request, session, CHANGE_EMAIL)


@router.post("/account/email/confirm")
async def confirm_email(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    code = _code(field(form, "code"))
    try:
        await runtime.accounts.confirm_email_change(session.account_id, code)
    except InvalidCodeError:
        error = message("code.invalid") if code else message("code.missing")
        return _code_page(request, session, CHANGE_EMAIL, 400, code=error)
    # A changed address means signing in again, everywhere (this browser included).
    await runtime.sessions.end_all(session.account_id)
    request.state.clear_session = True
    return redirect(request, "/sign-in?done=email-changed")


@router.get("/account/delete")
async def delete_account_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return render(request, "delete_account.html", session, title="Delete your account")


@router.post("/account/delete")
async def delete_account(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    password = secret_field(form, "password")
    error = None if password else message("confirm.delete_missing")
    if error is None:
        try:
            await runtime.accounts.delete(session.account_id, password)
        except SignInFailedError:
            error = message("password.wrong")
    if error is not None:
        return render(
            request,
            "delete_account.html",
            session,
            400,
            title="Delete your account",
            errors={"password": error},
        )
    await runtime.authorization.consents.forget(session.account_id)
    await runtime.passkeys.forget(session.account_id)
    await runtime.sessions.end_all(session.account_id)
    request.state.clear_session = True
    return render(
        request,
        "message.html",
        None,
        title=message("pages.deleted_title"),
        paragraphs=[message("pages.deleted_body")],
        link={"href": "/create-account", "text": "Create a new account"},
    )
