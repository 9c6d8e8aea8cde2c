"""What the authorization pages share: reading parameters, and turning outcomes and refusals
into redirects or pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from gateway.authorize.errors import RequestRefused
from gateway.authorize.models import (
    AUTHORIZE_PATH,
    AuthorizationRequest,
    Interact,
    Outcome,
    Respond,
)
from gateway.authorize.validation import Params
from gateway.clients.models import Client
from gateway.oidc.errors import InvalidRequestError
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.web.messages import message
from gateway.web.pages import redirect, render

# The id of a held request, as the pages pass it along (``authz_`` + 22 characters).
RequestId = Annotated[str, Query(alias="request", max_length=64)]


def multi(items: Iterable[tuple[str, str | UploadFile]]) -> Params:
    """Every value of every parameter, so a repeated one can be refused (RFC 6749 §3.1)."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        if isinstance(value, str):
            found.setdefault(name, []).append(value)
    return found


def resume_path(request_id: str) -> str:
    return f"{AUTHORIZE_PATH}/resume?request={request_id}"


def follow(request: Request, outcome: Outcome) -> Response:
    """A page for the person to act on, or the answer to the client."""
    if isinstance(outcome, Respond):
        return redirect(request, outcome.url)
    assert isinstance(outcome, Interact)
    return redirect(request, f"{AUTHORIZE_PATH}/{outcome.kind.value}?request={outcome.request_id}")


def refused(
    request: Request, runtime: Runtime, session: Session | None, exc: RequestRefused
) -> Response:
    """The error to the client's redirect URI once that is proven; a page otherwise."""
    if exc.target is not None:
        return redirect(request, runtime.authorization.authorizer.error_url(exc.target, exc.oauth))
    return render(
        request,
        "authorize_refused.html",
        session,
        400,
        title=message(f"authorize.refused.{exc.page}.title"),
        body=message(f"authorize.refused.{exc.page}.body"),
        error=exc.oauth.error,
        description=exc.oauth.detail,
    )


def expired(request: Request, runtime: Runtime, session: Session | None) -> Response:
    """A held request that is gone: finished, or older than its 30 minutes."""
    gone = InvalidRequestError(
        "The sign-in request is unknown, already answered or older than 30 minutes."
    )
    return refused(request, runtime, session, RequestRefused(gone, page="expired"))


@dataclass(frozen=True, slots=True)
class Held:
    """A held request, its id and its (still enabled) client: what a step page works on."""

    request: AuthorizationRequest
    request_id: str
    client: Client


async def held(
    request: Request,
    runtime: Runtime,
    session: Session,
    request_id: str,
    *,
    signed_in: bool = True,
) -> Held | Response:
    """The held request a step page (``/authorize/<step>?request=…``) is for, or what to show
    instead: the expired page when it is gone, back to ``resume`` when the step needs a
    signed-in person and there is none, the refused page when its client was switched off."""
    authorizer = runtime.authorization.authorizer
    pending = await authorizer.pending(request_id)
    if pending is None:
        return expired(request, runtime, session)
    if signed_in and not session.signed_in:
        return redirect(request, resume_path(request_id))
    try:
        client = await authorizer.client(pending)
    except RequestRefused as exc:
        return refused(request, runtime, session, exc)
    return Held(pending, request_id, client)


def scope_descriptions(scopes: Iterable[str]) -> list[str]:
    """What each scope lets a service do, in plain English (messages.toml)."""
    described = []
    for scope in scopes:
        try:
            text = message(f"authorize.scopes.{scope}") if scope != "other" else None
        except KeyError:
            text = None
        described.append(text or message("authorize.scopes.other", scope=scope))
    return described
