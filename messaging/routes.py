"""The messaging API for council systems, and the enrolment a council website makes for a
signed-in citizen; the citizen and staff pages are in :mod:`messaging.pages`.

Authentication:

- ``POST /api/messaging/v1/recipients`` takes the **citizen's** access token (RFC 6750 §2.1 or
  RFC 9449 §7.1; :func:`~gateway.tokens.resource.require_user`), issued to a website of the
  council: it lets the website's organisation write to that person by the pairwise ``sub``
  the website was given (OIDC Core §8.1).
- Every other route takes a **client credentials** token (RFC 6749 §4.4) of a council's
  back-office client granted the ``messages`` scope (:data:`CouncilDep`); a council sees only
  its own organisation's teams and conversations, and anything else is 404.

Sending takes an ``Idempotency-Key``; a body is JSON (:class:`~messaging.models.NewConversation`
or :class:`~messaging.models.NewReply`) or ``multipart/form-data`` with that JSON in a
``message`` part and up to five files in ``attachment`` parts. The conversation list comes a
page at a time, each continued by an opaque cursor (:class:`~messaging.models.PageCursor`).
Errors are RFC 9457 problems.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from gateway.clients.errors import ClientError
from gateway.core.deps import RuntimeDep, get_runtime
from gateway.core.http import DirectEndpoint
from gateway.oidc.errors import InvalidTokenError
from gateway.runtime import Runtime
from gateway.tokens.models import VerifiedAccessToken, scope_of
from gateway.tokens.resource import SystemTokenRead, presented_unsettled, require_user
from messaging import pages
from messaging.attachments import download
from messaging.errors import InsufficientScopeError, InvalidMessageError
from messaging.models import (
    MESSAGES_SCOPE,
    PAGE_DEFAULT,
    PAGE_MAX,
    Council,
    NewConversation,
    NewReply,
    PageCursor,
    Sent,
    Upload,
)

PREFIX = "/api/messaging/v1"
Id = Annotated[str, Path(max_length=64)]
M = TypeVar("M", bound=BaseModel)

api = APIRouter(prefix=PREFIX, tags=["messaging"])


_SEND_COUNCIL_CREDENTIALS = (
    "Send a client credentials access token with the messages scope in the Authorization "
    "header (Bearer or DPoP)."
)
_NOT_FOR_PEOPLE = (
    "The messaging API is for council systems: use a client credentials token, not a "
    "person's access token."
)


async def authenticate_council(request: Request, runtime: RuntimeDep) -> Council:
    """A council back-office client's client credentials token with the ``messages`` scope."""
    council, token = await council_riding(request, runtime)
    token.check(await runtime.tokens.settle(token.presented))
    return council


async def council_riding(request: Request, runtime: Runtime) -> tuple[Council, SystemTokenRead]:
    """:func:`authenticate_council` but for the token's revocation, whose reads the
    returned :class:`SystemTokenRead` carries in the messaging store's pipeline."""
    presented = await presented_unsettled(request, runtime, missing=_SEND_COUNCIL_CREDENTIALS)
    token = SystemTokenRead.of(presented, _NOT_FOR_PEOPLE)
    return await _council(presented.claims, runtime), token


async def _council(claims: dict[str, Any], runtime: Runtime) -> Council:
    if MESSAGES_SCOPE not in scope_of(claims):
        raise InsufficientScopeError(
            "The access token was not granted the messages scope; register it for the client "
            "and ask for it at the token endpoint (RFC 6750 §3.1 insufficient_scope)."
        )
    try:
        client = await runtime.clients.get_enabled(str(claims.get("client_id", "")))
    except ClientError:
        raise InvalidTokenError("The token's client is not enabled.") from None
    return Council(client.client_id, client.organisation_id)


CouncilDep = Annotated[Council, Depends(authenticate_council)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


async def _parse(request: Request, model: type[M], max_files: int) -> tuple[M, list[Upload]]:
    """The message and its files from a JSON or a multipart body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: list[Upload] = []
    if content_type == "multipart/form-data":
        # One more file than allowed is read, so that too many is refused by name.
        form = await request.form(max_files=max_files + 1, max_fields=5)
        raw = form.get("message")
        if not isinstance(raw, str):
            raise InvalidMessageError("Send the message as JSON in a multipart part named message.")
        for part in form.getlist("attachment"):
            if isinstance(part, UploadFile):
                uploads.append(Upload(part.filename or "attachment", await part.read()))
    elif content_type == "application/json":
        raw = (await request.body()).decode("utf-8", "replace")
    else:
        raise InvalidMessageError("Send application/json, or multipart/form-data with files.")
    try:
        return model.model_validate_json(raw), uploads
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _sent(sent: Sent) -> JSONResponse:
    headers = {"Location": f"{PREFIX}/conversations/{sent.conversation.id}"}
    if sent.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(sent.to_json(), status_code=201, headers=headers)


@api.post("/recipients", summary="Enrol a signed-in citizen for messages (citizen's token)")
async def enrol(
    runtime: RuntimeDep, token: Annotated[VerifiedAccessToken, Depends(require_user())]
) -> JSONResponse:
    """The council website's organisation may now write to the person by the ``sub`` given."""
    assert token.record is not None, "require_user guarantees a person's token"
    if "act" in token.claims:
        raise InvalidTokenError(
            "An agent cannot enrol a client for messages; use their own sign-in."
        )
    client = await runtime.clients.get_enabled(token.record.client_id)
    sub = await runtime.messaging.enrol(client, token.record.account_id)
    return JSONResponse({"sub": sub}, headers={"Cache-Control": "no-store"})


@api.post("/conversations", status_code=201, summary="Start a conversation (council, client token)")
async def start(
    request: Request, council: CouncilDep, runtime: RuntimeDep, key: IdempotencyKey = None
) -> JSONResponse:
    messaging = runtime.messaging
    body, uploads = await _parse(
        request, NewConversation, messaging.settings.attachments_per_message
    )
    return _sent(await messaging.send(council, body, uploads, key))


@api.post(
    "/conversations/{conversation_id}/messages",
    status_code=201,
    summary="Write again in a conversation (council, client token)",
)
async def write(
    request: Request,
    conversation_id: Id,
    council: CouncilDep,
    runtime: RuntimeDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    messaging = runtime.messaging
    body, uploads = await _parse(request, NewReply, messaging.settings.attachments_per_message)
    return _sent(await messaging.council_reply(council, conversation_id, body, uploads, key))


@api.get(
    "/conversations",
    summary="Your teams' conversations, newest first, a page at a time (client token)",
)
async def conversations(
    council: CouncilDep,
    runtime: RuntimeDep,
    team: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    before: Annotated[str | None, Query(max_length=512)] = None,
) -> JSONResponse:
    """Keyset pages: ``next`` (and an RFC 8288 §3 ``Link: <…>; rel="next"`` header) is the
    path and query of the page after this one, with the same ``team`` and ``limit``; it is
    null, and the header absent, on the last page."""
    cursor = None if before is None else PageCursor.decode(before)
    page = await runtime.messaging.council_conversations(council, team, limit, cursor)
    headers = {"Cache-Control": "no-store"}
    following = None
    if page.next is not None:
        query = {"team": team, "limit": limit, "before": page.next.encode()}
        following = f"{PREFIX}/conversations?" + urlencode(
            {k: v for k, v in query.items() if v is not None}
        )
        headers["Link"] = f'<{following}>; rel="next"'
    listed = [{**s.conversation.to_json(), "unread": s.unread} for s in page.summaries]
    return JSONResponse({"conversations": listed, "next": following}, headers=headers)


@api.get(
    "/conversations/{conversation_id}",
    summary="A conversation with every message and read receipt (client token; logged)",
)
async def conversation(
    conversation_id: Id, council: CouncilDep, runtime: RuntimeDep
) -> JSONResponse:
    """The edge middleware calls :func:`conversation_directly` instead, without FastAPI's
    routing and dependency resolution (see :data:`DIRECT`); FastAPI serves it too, with the
    same result."""
    return await _conversation(conversation_id, council, runtime)


async def conversation_directly(request: Request) -> Response:
    """``GET …/conversations/{conversation_id}`` as :func:`conversation` answers it, for the
    edge middleware, with the token's revocation read in the conversation's pipeline: one
    round trip fewer on the busiest messaging path."""
    runtime = await get_runtime(request)
    council, token = await council_riding(request, runtime)
    return await _conversation(request.path_params["conversation_id"], council, runtime, token)


async def _conversation(
    conversation_id: str, council: Council, runtime: Runtime, token: SystemTokenRead | None = None
) -> JSONResponse:
    messaging = runtime.messaging
    access = await messaging.as_council(council, conversation_id, riding=token)
    thread = await messaging.open(access, None)
    return JSONResponse(thread.to_json(), headers={"Cache-Control": "no-store"})


@api.get(
    "/conversations/{conversation_id}/messages/{message_id}/attachments/{attachment_id}",
    summary="Download an attachment (client token; logged)",
)
async def attachment(
    conversation_id: Id,
    message_id: Id,
    attachment_id: Id,
    council: CouncilDep,
    runtime: RuntimeDep,
) -> Response:
    messaging = runtime.messaging
    access = await messaging.as_council(council, conversation_id)
    info, data = await messaging.attachment(access, message_id, attachment_id, None)
    return download(info.filename, info.content_type, data)


# The busiest messaging path, served by the edge middleware directly (docs/performance.md).
DIRECT: dict[tuple[str, str], DirectEndpoint] = {
    ("GET", PREFIX + "/conversations/{conversation_id}"): conversation_directly
}

router = APIRouter()
router.include_router(api)
router.include_router(pages.router)
