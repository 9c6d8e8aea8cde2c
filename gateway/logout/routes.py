"""RP-initiated logout: ``/logout`` (GET and POST) and its confirmation page.

OpenID Connect RP-Initiated Logout 1.0. ``/logout`` needs no authentication (§2: any relying
party may send a person there); what it does depends on the ``id_token_hint`` and the
browser's own session. A request proven to come from a relying party this sign-in was handed
to ends the session at once; any other asks the person first (§6), with a form that carries
the session's CSRF token to ``/logout/confirm``. A request the gateway cannot trust (a bad
hint, an unregistered ``post_logout_redirect_uri``) gets an error page and no redirect.
Ending the session goes through the session service, which announces it to every relying
party by back-channel logout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.core.deps import RuntimeDep
from gateway.logout.errors import InvalidLogoutRequestError
from gateway.logout.models import LogoutPlan, LogoutRequest
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.web.messages import message
from gateway.web.pages import (
    MAX_FORM_FIELDS,
    CookieNames,
    PageSession,
    checked_form,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)

_PENDING = "logout"


async def signed_in_or_none(request: Request, runtime: RuntimeDep) -> Session | None:
    """The browser's signed-in session, if any. Unlike ``PageSession`` it never starts one:
    a cookie set in answer to a relying party's request would replace the person's own."""
    request.state.pages = True
    names = CookieNames.for_settings(runtime.settings)
    session = await runtime.sessions.load(request.cookies.get(names.session))
    return session if session is not None and session.signed_in else None


CurrentSession = Annotated[Session | None, Depends(signed_in_or_none)]


@router.get("/logout")
async def logout(request: Request, session: CurrentSession, runtime: RuntimeDep) -> Response:
    """§2: the relying party sends the person here with the parameters in the query. Public."""
    return await _logout(request, session, runtime, request.query_params.multi_items())


@router.post("/logout")
async def logout_by_form(
    request: Request, session: CurrentSession, runtime: RuntimeDep
) -> Response:
    """§2: the same parameters, form-encoded. A cross-site form post carries no
    ``SameSite=Lax`` cookie, so without one the browser is sent on to the GET form. Public."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    if session is not None:
        return await _logout(request, session, runtime, form.multi_items())
    try:
        sent = LogoutRequest.from_parameters(form.multi_items())
    except InvalidLogoutRequestError as exc:
        return _refused(request, None, exc)
    # NOTE: the parameters (the ID token included) move into the URL, as with the GET form
    # the relying party could have used; the hint proves only which client asked.
    query = urlencode(sent.parameters())
    return redirect(request, "/logout" + (f"?{query}" if query else ""))


@router.post("/logout/confirm")
async def confirm(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """The person confirmed: end the session, then go where the relying party asked. Public."""
    await checked_form(request, session)
    kept = session.pending.get(_PENDING)
    plan: LogoutPlan | None = None
    if isinstance(kept, dict):
        try:
            plan = await runtime.logout.plan(LogoutRequest.from_parameters(kept.items()))
        except InvalidLogoutRequestError:
            plan = None  # the client changed since; sign out without sending anyone back
    return await _end(request, runtime, session, plan)


async def _logout(
    request: Request, session: Session | None, runtime: Runtime, items: Iterable[tuple[str, Any]]
) -> Response:
    try:
        plan = await runtime.logout.plan(LogoutRequest.from_parameters(items))
    except InvalidLogoutRequestError as exc:
        return _refused(request, session, exc)
    if session is None:
        return _signed_out(request, plan)  # nobody is signed in here: nothing to end
    if runtime.logout.proves(plan, session):
        return await _end(request, runtime, session, plan)
    await runtime.sessions.set_pending(session, {**session.pending, _PENDING: plan.confirmation()})
    return render(
        request,
        "logout_confirm.html",
        session,
        title=message("logout.confirm_title"),
        client_name=plan.client_name,
    )


async def _end(
    request: Request, runtime: Runtime, session: Session, plan: LogoutPlan | None
) -> Response:
    if session.signed_in:
        await runtime.sessions.end(session)
    request.state.clear_session = True
    return _signed_out(request, plan)


def _signed_out(request: Request, plan: LogoutPlan | None) -> Response:
    """§3: back to the registered URI with ``state``, or a page saying it is done."""
    url = plan.return_url() if plan is not None else None
    if url is not None:
        return redirect(request, url)
    return render(
        request,
        "message.html",
        None,
        title=message("pages.signed_out_title"),
        paragraphs=[message("pages.signed_out_body")],
        link={"href": "/sign-in", "text": "Sign in again"},
    )


def _refused(request: Request, session: Session | None, exc: InvalidLogoutRequestError) -> Response:
    return render(
        request,
        "logout_error.html",
        session,
        400,
        title=message("logout.refused_title"),
        detail=exc.detail,
    )
