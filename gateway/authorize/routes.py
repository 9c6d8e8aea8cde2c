"""The authorization endpoint and the pages it sends the person through (OIDC Core §3.1.2).

Every route here is public: the person's browser arrives from a client's website, and what
it may do depends on its session (:data:`~gateway.web.pages.PageSession`). Thin: parse, call
the validator or the authorizer, and turn the outcome into a redirect or a page.

A request the gateway cannot send back safely (unknown client, redirect URI not registered,
an expired ``request_uri``) is answered with a page that says what to do, never a redirect
(RFC 6749 §4.1.2.1, RFC 9700 §4.11.2). Everything else goes back to the client's redirect URI.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.authorize import account_routes, api_routes
from gateway.authorize.errors import RequestRefused
from gateway.authorize.models import AUTHORIZE_PATH
from gateway.authorize.pages import (
    RequestId,
    expired,
    follow,
    held,
    multi,
    refused,
    resume_path,
    scope_descriptions,
)
from gateway.core.deps import RuntimeDep
from gateway.sessions.routes import start_second_step
from gateway.web.messages import message
from gateway.web.pages import (
    MAX_FORM_FIELDS,
    PageSession,
    checked_form,
    field,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)


@router.get(AUTHORIZE_PATH)
async def authorize(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """OIDC Core §3.1.2.1, HTTP GET. Public."""
    services = runtime.authorization
    try:
        validated = await services.validator.front_channel(
            multi(request.query_params.multi_items())
        )
        outcome = await services.authorizer.decide(validated, session)
    except RequestRefused as exc:
        return refused(request, runtime, session, exc)
    return follow(request, outcome)


@router.post(AUTHORIZE_PATH)
async def authorize_form(request: Request, runtime: RuntimeDep) -> Response:
    """OIDC Core §3.1.2.1, HTTP POST. Public.

    A form posted from the client's site carries no ``SameSite=Lax`` session cookie, so the
    session is not read here (starting a new one would sign the person out): the validated
    request is held and the browser continues with a GET, which carries the cookie.
    """
    request.state.pages = True
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    services = runtime.authorization
    try:
        validated = await services.validator.front_channel(multi(form.multi_items()))
    except RequestRefused as exc:
        return refused(request, runtime, None, exc)
    return redirect(request, resume_path(await services.authorizer.hold(validated)))


@router.get(f"{AUTHORIZE_PATH}/resume")
async def resume(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """Where the browser comes back to after each page of sign-in or consent. Public."""
    authorizer = runtime.authorization.authorizer
    pending = await authorizer.pending(request_id)
    if pending is None:
        return expired(request, runtime, session)
    try:
        outcome = await authorizer.decide(pending, session, request_id=request_id)
    except RequestRefused as exc:
        return refused(request, runtime, session, exc)
    return follow(request, outcome)


@router.get(f"{AUTHORIZE_PATH}/sign-in")
async def sign_in(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """The sign-in page for a client's request: the usual form (it posts to ``/sign-in``,
    which comes back to ``resume``), with ``login_hint`` filled in. Public."""
    step = await held(request, runtime, session, request_id, signed_in=False)
    if isinstance(step, Response):
        return step
    return render(
        request,
        "authorize_sign_in.html",
        session,
        title="Sign in",
        next=resume_path(request_id),
        email=step.request.login_hint or "",
        client_name=step.client.client_name,
        again=session.signed_in,
    )


@router.get(f"{AUTHORIZE_PATH}/step-up")
async def step_up(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """A second factor for a signed-in person whose sign-in is below ``Cl.Cm`` (or whose
    ``Cl.Cm`` is no longer fresh): the second-step pages of sign-in (``/sign-in/code``) for
    the signed-in account with ``next`` set to ``resume`` — the authenticator app if the
    account has one, else an emailed code. Public."""
    step = await held(request, runtime, session, request_id)
    if isinstance(step, Response):
        return step
    assert session.account_id is not None
    account = await runtime.accounts.get(session.account_id)
    session = await start_second_step(runtime, session, account.id, resume_path(request_id))
    if account.totp_enabled:
        return redirect(request, "/sign-in/code")
    return render(
        request,
        "confirm.html",
        session,
        title=message("authorize.step_up_title"),
        paragraphs=[message("authorize.step_up_body", client=step.client.client_name)],
        action="/sign-in/email-code",
        button=message("authorize.step_up_button"),
    )


@router.get(f"{AUTHORIZE_PATH}/consent")
async def consent_page(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """OIDC Core §3.1.2.4: what the client asks to see, in plain words. Public."""
    step = await held(request, runtime, session, request_id)
    if isinstance(step, Response):
        return step
    return render(
        request,
        "authorize_consent.html",
        session,
        title=message("authorize.consent_title", client=step.client.client_name),
        client_name=step.client.client_name,
        scopes=scope_descriptions(step.request.scope),
        request_id=request_id,
    )


@router.post(f"{AUTHORIZE_PATH}/consent")
async def consent(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """Allow or Cancel (CSRF-checked). Public: the signed-in person's own answer."""
    form = await checked_form(request, session)
    request_id = field(form, "request")
    services = runtime.authorization
    pending = await services.authorizer.pending(request_id)
    if pending is None:
        return expired(request, runtime, session)
    if session.account_id is None:
        return redirect(request, resume_path(request_id))
    if field(form, "decision") != "allow":
        return follow(request, await services.authorizer.deny(pending, request_id))
    await services.consents.grant(session.account_id, pending.client_id, pending.scope)
    try:
        outcome = await services.authorizer.decide(
            pending, session, request_id=request_id, consented=True
        )
    except RequestRefused as exc:
        return refused(request, runtime, session, exc)
    return follow(request, outcome)


@router.post(f"{AUTHORIZE_PATH}/give-up")
async def give_up(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """ "Go back to the service" from a step the person cannot finish now (a passkey they do
    not have, identity evidence they cannot give): the client gets
    ``unmet_authentication_requirements``. CSRF-checked; public."""
    form = await checked_form(request, session)
    request_id = field(form, "request")
    authorizer = runtime.authorization.authorizer
    pending = await authorizer.pending(request_id)
    if pending is None:
        return expired(request, runtime, session)
    return follow(request, await authorizer.give_up(pending, request_id))


router.include_router(api_routes.router)
router.include_router(account_routes.router)
