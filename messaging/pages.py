"""Secure messaging pages: the citizen's inbox and conversations (``/messages``), an agent's
view of a client's messages (``/messages/for/{relationship}``), and a council team's inbox
(``/staff/messages``). Server-rendered, GOV.UK Design System, usable with JavaScript off.

Authentication: every route needs a signed-in person
(:data:`~gateway.web.pages.SignedInSession`); what they may see is decided by
:class:`~messaging.services.Messaging` (``as_citizen``, ``as_delegate``, ``as_staff``), and
anything they may not see is the same 404 page as a conversation that does not exist. A
conversation whose messages demand a level above the session's (and every staff page, below
``GOVCONNECT_MESSAGING_STAFF_LEVEL``) first asks for the second step of sign-in
(:func:`~gateway.sessions.routes.start_second_step`) and comes back. Every form post is
CSRF-checked (:func:`~gateway.web.pages.checked_form`), the reply form as
``multipart/form-data`` so a file can go with it.

Live updates (:mod:`messaging.live`): every inbox and conversation page — the citizen's, an
agent's delegated ones and the staff's — has an ``…/events`` stream of server-sent events
(WHATWG HTML §9.2) that the page's script (``messaging/static/live.js``, ``/messages/live.js``)
listens to where JavaScript is on. A stream is checked like its page (the same 404 for
anything the person may not see, for an agent an active relationship for the service) but
loads the session without counting as the person's activity, so an open page never keeps an
idle session alive; with no signed-in session it answers 204, which tells the browser to stop
reconnecting (§9.2.3).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from gateway.accounts.errors import CodeSendLimitError
from gateway.core.deps import RuntimeDep
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.sessions.routes import start_second_step
from gateway.web.messages import message
from gateway.web.pages import (
    MAX_FORM_FIELDS,
    CookieNames,
    SignedInSession,
    account_of,
    banner,
    checked_form,
    field,
    redirect,
    render,
)
from messaging.attachments import download
from messaging.errors import (
    AttachmentRefusedError,
    AttachmentTooLargeError,
    ConversationClosedError,
    InvalidMessageError,
    MessageNotFoundError,
)
from messaging.live import Ended, Heartbeat, Item, LiveEvent, View
from messaging.models import Folder, Side, Upload
from messaging.services import Access, ReaderKind
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength

CITIZEN = "/messages"
DELEGATE = "/messages/for/{relationship_id}"
STAFF = "/staff/messages"
Id = Annotated[str, Path(max_length=64)]
Done = Annotated[str | None, Query(max_length=32)]
After = Annotated[str | None, Query(max_length=64)]
SCRIPT = FilePath(__file__).with_name("static") / "live.js"
# How long the browser waits before reconnecting a stream that ended (WHATWG HTML §9.2.6).
RETRY_MS = 3000

router = APIRouter(include_in_schema=False)


def _base(access: Access) -> str:
    """Where this reader's pages for the conversation live."""
    conversation_id = access.conversation.id
    if access.kind is ReaderKind.STAFF:
        return f"{STAFF}/{conversation_id}"
    if access.kind is ReaderKind.DELEGATE:
        return f"{CITIZEN}/for/{access.relationship_id}/{conversation_id}"
    return f"{CITIZEN}/{conversation_id}"


def _step_up_page(
    request: Request, session: Session, access: Access, exc: PolicyNotMetError
) -> Response:
    """What the conversation needs first: a second factor (offered here), or a passkey or
    identity evidence (which the account pages give)."""
    shortfall = exc.shortfall
    second_factor = shortfall.credential is CredentialStrength.MEDIUM and shortfall.identity is None
    return render(
        request,
        "inbox_step_up.html",
        session,
        title=message("messaging.step_up_title"),
        action=_base(access) + "/step-up" if second_factor else None,
        staff=access.kind is ReaderKind.STAFF,
    )


async def _step_up(request: Request, session: Session, runtime: Runtime, back: str) -> Response:
    """Start the second-step pages for the signed-in account, coming back to ``back``: the
    authenticator app if it has one, else a code we email."""
    await checked_form(request, session)
    account = await runtime.accounts.get(account_of(session))
    await start_second_step(runtime, session, account.id, back)
    if account.totp_enabled:
        return redirect(request, "/sign-in/code")
    try:
        await runtime.accounts.send_sign_in_code(account.id, Channel.EMAIL)
    except CodeSendLimitError:
        return render(
            request,
            "message.html",
            session,
            429,
            title=message("messaging.codes_limit_title"),
            paragraphs=[message("messaging.codes_limit_body")],
        )
    return redirect(request, "/sign-in/code?method=email")


async def _conversation_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    access: Access,
    *,
    status: int = 200,
    banner: str | None = None,
    errors: dict[str, str] | None = None,
    body: str = "",
) -> Response:
    """The conversation, opened at the session's level (or the step-up when it falls short)."""
    messaging = runtime.messaging
    try:
        thread = await messaging.open(access, await runtime.levels.assurance(session))
    except PolicyNotMetError as exc:
        return _step_up_page(request, session, access, exc)
    staff = access.kind is ReaderKind.STAFF
    team_staff = await messaging.team_staff(access.team.id) if staff else []
    base = _base(access)
    # Watched from after the open above, so the page's own read receipts are not news to it.
    live = await _live(runtime, session, base + "/events", base)
    return render(
        request,
        "inbox_conversation.html",
        session,
        status,
        title=thread.conversation.subject,
        thread=thread,
        base=base,
        back=base.rsplit("/", 1)[0],
        reader=access.kind.value,
        side=access.side.value,
        team_staff=team_staff,
        max_kb=messaging.settings.attachment_max_bytes // 1000,
        banner=banner,
        errors=errors or {},
        body=body,
        live=live,
    )


async def _reply(request: Request, session: Session, runtime: Runtime, access: Access) -> Response:
    """A reply from the reader's side, with an optional file."""
    messaging = runtime.messaging
    # The multipart form is parsed here, with its file, before checked_form reads the same
    # (cached) form for the CSRF token.
    await request.form(
        max_files=messaging.settings.attachments_per_message, max_fields=MAX_FORM_FIELDS
    )
    form = await checked_form(request, session)
    body = field(form, "body")
    uploads = await _uploads(form)
    try:
        await messaging.reply(access, body, uploads, await runtime.levels.assurance(session))
    except PolicyNotMetError as exc:
        return _step_up_page(request, session, access, exc)
    except InvalidMessageError:
        errors = {"body": message("messaging.errors.body")}
        return await _conversation_page(
            request, session, runtime, access, status=400, errors=errors
        )
    except (AttachmentRefusedError, AttachmentTooLargeError) as exc:
        key = "too_large" if isinstance(exc, AttachmentTooLargeError) else "type"
        errors = {
            "attachment": message(
                f"messaging.errors.{key}", kb=messaging.settings.attachment_max_bytes // 1000
            )
        }
        return await _conversation_page(
            request, session, runtime, access, status=400, errors=errors, body=body
        )
    except ConversationClosedError:
        errors = {"body": message("messaging.errors.closed")}
        return await _conversation_page(
            request, session, runtime, access, status=409, errors=errors, body=body
        )
    return redirect(request, _base(access) + "?done=sent")


async def _uploads(form: FormData) -> list[Upload]:
    found = []
    for part in form.getlist("attachment"):
        # A file input left empty still sends a part, with no name and no bytes.
        if isinstance(part, UploadFile) and part.filename:
            found.append(Upload(part.filename, await part.read()))
    return found


async def _attachment(
    session: Session, runtime: Runtime, access: Access, message_id: str, attachment_id: str
) -> Response:
    assurance = await runtime.levels.assurance(session)
    info, data = await runtime.messaging.attachment(access, message_id, attachment_id, assurance)
    return download(info.filename, info.content_type, data)


# --- Live updates ------------------------------------------------------------------------------


async def _live(runtime: Runtime, session: Session, stream: str, link: str) -> dict[str, str]:
    """What a page needs to listen for changes: its stream, where the reader's changes stand
    as it is rendered (so none between the render and the connection is missed), and the
    link that reloads it."""
    after = await runtime.messaging.live.position(account_of(session))
    return {"stream": stream, "after": after, "link": link}


async def _events(
    request: Request, runtime: Runtime, view_of: Callable[[str], Awaitable[View]], after: str | None
) -> Response:
    """A page's stream: the session (not counted as activity), the page's own access check,
    one of the session's streams, then the events, ``text/event-stream``."""
    names = CookieNames.for_settings(runtime.settings)
    session = await runtime.sessions.peek(request.cookies.get(names.session))
    if session is None or session.account_id is None:
        return Response(status_code=204)
    account_id = session.account_id
    view = await view_of(account_id)
    live = runtime.messaging.live
    lease = await live.lease(account_id, session.handle)

    async def alive() -> bool:
        current = await runtime.sessions.peek(session.id)
        return current is not None and current.account_id == account_id

    items = live.watch(lease, view, request.headers.get("last-event-id") or after, alive)
    return StreamingResponse(
        _event_stream(items),
        media_type="text/event-stream",
        # Proxies must pass each event on as it comes (nginx buffers otherwise).
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _event_stream(items: AsyncIterator[Item]) -> AsyncIterator[str]:
    """WHATWG HTML §9.2.6 event stream: ``changed`` events whose data names the conversation
    and whether the change is news, an ``id`` for every position (the browser's next
    ``Last-Event-ID``), comment lines as heartbeats and to say why the stream ended."""
    prefix = f"retry: {RETRY_MS}\n"
    async for item in items:
        if isinstance(item, LiveEvent):
            data = json.dumps(item.to_json(), separators=(",", ":"))
            yield f"{prefix}id: {item.id}\nevent: changed\ndata: {data}\n\n"
        elif isinstance(item, Heartbeat):
            yield f"{prefix}: heartbeat\n\n"
        elif isinstance(item, Ended):
            yield f"{prefix}: ended, {item.reason}\n\n"
        else:
            yield f"{prefix}id: {item.id}\n\n"
        prefix = ""


# --- The citizen's inbox ---------------------------------------------------------------------


@router.get(CITIZEN)
async def inbox(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    folder: Annotated[str, Query(max_length=16)] = "inbox",
    done: Done = None,
) -> Response:
    """The person's conversations (their own and their businesses'), or the archived ones.
    Signed-in session."""
    chosen = Folder.ARCHIVED if folder == Folder.ARCHIVED.value else Folder.INBOX
    summaries = await runtime.messaging.inbox(account_of(session))
    link = CITIZEN if chosen is Folder.INBOX else f"{CITIZEN}?folder={chosen.value}"
    return render(
        request,
        "inbox.html",
        session,
        title=message(f"messaging.{chosen.value}_title"),
        summaries=[s for s in summaries if s.folder is chosen],
        folder=chosen.value,
        banner=banner("messaging", done),
        live=await _live(runtime, session, CITIZEN + "/events", link),
    )


@router.get(CITIZEN + "/live.js")
async def live_script() -> Response:
    """The messaging pages' live-update script, a static file from this origin. Public."""
    return FileResponse(SCRIPT, media_type="text/javascript", headers={"cache-control": "no-cache"})


@router.get(CITIZEN + "/events")
async def inbox_events(request: Request, runtime: RuntimeDep, after: After = None) -> Response:
    """Server-sent events for the person's open inbox page: which of their conversations
    changed, never what was written. Signed-in session, loaded without counting as activity
    (none: 204 No Content)."""

    async def view(account_id: str) -> View:
        return View(Side.CITIZEN)

    return await _events(request, runtime, view, after)


@router.get(CITIZEN + "/export")
async def export(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Everything held in the person's own inbox, as a JSON download (a subject access
    export); a second step first when any of it demands one. Signed-in session."""
    assurance = await runtime.levels.assurance(session)
    try:
        document = await runtime.messaging.export(account_of(session), assurance)
    except PolicyNotMetError:
        return render(
            request,
            "inbox_step_up.html",
            session,
            title=message("messaging.step_up_title"),
            action=CITIZEN + "/export/step-up",
            staff=False,
        )
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="govconnect-messages.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post(CITIZEN + "/export/step-up")
async def export_step_up(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    return await _step_up(request, session, runtime, CITIZEN + "/export")


@router.get(CITIZEN + "/{conversation_id}")
async def conversation(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    conversation_id: Id,
    done: Done = None,
) -> Response:
    """One conversation; opening it sets the read receipt of the council's messages.
    Signed-in session."""
    access = await runtime.messaging.as_citizen(account_of(session), conversation_id)
    return await _conversation_page(
        request, session, runtime, access, banner=banner("messaging", done)
    )


@router.get(CITIZEN + "/{conversation_id}/events")
async def conversation_events(
    request: Request, runtime: RuntimeDep, conversation_id: Id, after: After = None
) -> Response:
    """Server-sent events for one of the person's open conversations (the 404 of its page
    for anyone else's). Signed-in session, loaded without counting as activity (none: 204)."""

    async def view(account_id: str) -> View:
        access = await runtime.messaging.as_citizen(account_id, conversation_id)
        return View(access.side, access.conversation.id)

    return await _events(request, runtime, view, after)


@router.post(CITIZEN + "/{conversation_id}/step-up")
async def citizen_step_up(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_citizen(account_of(session), conversation_id)
    return await _step_up(request, session, runtime, _base(access))


@router.post(CITIZEN + "/{conversation_id}/reply")
async def citizen_reply(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_citizen(account_of(session), conversation_id)
    return await _reply(request, session, runtime, access)


@router.post(CITIZEN + "/{conversation_id}/{action}")
async def file_away(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    conversation_id: Id,
    action: Annotated[str, Path(pattern="^(archive|delete|restore)$")],
) -> Response:
    """Archive, delete from the person's own view (the council keeps its record), or bring
    back to the inbox. Signed-in session."""
    await checked_form(request, session)
    access = await runtime.messaging.as_citizen(account_of(session), conversation_id)
    folder = {"archive": Folder.ARCHIVED, "delete": Folder.DELETED}.get(action, Folder.INBOX)
    await runtime.messaging.move(access, folder)
    done = {"archive": "archived", "delete": "deleted"}.get(action, "restored")
    return redirect(request, f"{CITIZEN}?done={done}")


@router.get(CITIZEN + "/{conversation_id}/attachments/{message_id}/{attachment_id}")
async def citizen_attachment(
    session: SignedInSession,
    runtime: RuntimeDep,
    conversation_id: Id,
    message_id: Id,
    attachment_id: Id,
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_citizen(account_of(session), conversation_id)
    return await _attachment(session, runtime, access, message_id, attachment_id)


# --- An agent reading for a client -----------------------------------------------------------


@router.get(DELEGATE)
async def delegated_inbox(
    request: Request, session: SignedInSession, runtime: RuntimeDep, relationship_id: Id
) -> Response:
    """A client's conversations in the service the relationship covers (read only).
    Signed-in session."""
    usable, summaries = await runtime.messaging.delegated_inbox(
        account_of(session), relationship_id
    )
    base = DELEGATE.format(relationship_id=usable.relationship_id)
    return render(
        request,
        "inbox.html",
        session,
        title=message("messaging.delegated_title", client=usable.client_name),
        summaries=summaries,
        folder="delegated",
        base=base,
        live=await _live(runtime, session, base + "/events", base),
    )


@router.get(DELEGATE + "/events")
async def delegated_inbox_events(
    request: Request, runtime: RuntimeDep, relationship_id: Id, after: After = None
) -> Response:
    """Server-sent events for an agent's open view of a client's conversations: which of
    them changed, never what was written (the 404 of its page without an active relationship
    the agent may use). Signed-in session, loaded without counting as activity (none: 204)."""

    async def view(account_id: str) -> View:
        usable = await runtime.messaging.relationship(account_id, relationship_id)
        return View(Side.CITIZEN, relationship_id=usable.relationship_id)

    return await _events(request, runtime, view, after)


@router.get(DELEGATE + "/{conversation_id}")
async def delegated_conversation(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    relationship_id: Id,
    conversation_id: Id,
) -> Response:
    """One of the client's conversations; the read is written to the evidence log.
    Signed-in session."""
    access = await runtime.messaging.as_delegate(
        account_of(session), relationship_id, conversation_id
    )
    return await _conversation_page(request, session, runtime, access)


@router.get(DELEGATE + "/{conversation_id}/events")
async def delegated_conversation_events(
    request: Request,
    runtime: RuntimeDep,
    relationship_id: Id,
    conversation_id: Id,
    after: After = None,
) -> Response:
    """Server-sent events for an agent's open view of one of the client's conversations (the
    404 of its page for anyone else, or once the relationship has ended). Signed-in session,
    loaded without counting as activity (none: 204)."""

    async def view(account_id: str) -> View:
        access = await runtime.messaging.as_delegate(account_id, relationship_id, conversation_id)
        return View(access.side, access.conversation.id, access.relationship_id)

    return await _events(request, runtime, view, after)


@router.post(DELEGATE + "/{conversation_id}/step-up")
async def delegated_step_up(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    relationship_id: Id,
    conversation_id: Id,
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_delegate(
        account_of(session), relationship_id, conversation_id
    )
    return await _step_up(request, session, runtime, _base(access))


@router.get(DELEGATE + "/{conversation_id}/attachments/{message_id}/{attachment_id}")
async def delegated_attachment(
    session: SignedInSession,
    runtime: RuntimeDep,
    relationship_id: Id,
    conversation_id: Id,
    message_id: Id,
    attachment_id: Id,
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_delegate(
        account_of(session), relationship_id, conversation_id
    )
    return await _attachment(session, runtime, access, message_id, attachment_id)


# --- Council staff ---------------------------------------------------------------------------


@router.get(STAFF)
async def team_inbox(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: Done = None
) -> Response:
    """The conversations of every team the person is staff of. Signed-in session."""
    summaries = await runtime.messaging.team_inbox(account_of(session))
    return render(
        request,
        "messages_staff.html",
        session,
        title=message("messaging.staff_title"),
        summaries=summaries,
        banner=banner("messaging", done),
        live=await _live(runtime, session, STAFF + "/events", STAFF),
    )


@router.get(STAFF + "/events")
async def team_inbox_events(request: Request, runtime: RuntimeDep, after: After = None) -> Response:
    """Server-sent events for the open team inbox page; 404 for someone on no team.
    Signed-in session, loaded without counting as activity (none: 204)."""

    async def view(account_id: str) -> View:
        if not await runtime.messaging.staff_teams(account_id):
            raise MessageNotFoundError("You are not on any team's staff.")
        return View(Side.COUNCIL)

    return await _events(request, runtime, view, after)


@router.get(STAFF + "/{conversation_id}")
async def staff_conversation(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    conversation_id: Id,
    done: Done = None,
) -> Response:
    """One conversation of the person's team; opening it is written to the evidence log.
    Signed-in session."""
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    return await _conversation_page(
        request, session, runtime, access, banner=banner("messaging", done)
    )


@router.get(STAFF + "/{conversation_id}/events")
async def staff_conversation_events(
    request: Request, runtime: RuntimeDep, conversation_id: Id, after: After = None
) -> Response:
    """Server-sent events for an open conversation of the person's team (the 404 of its page
    for anyone else). Signed-in session, loaded without counting as activity (none: 204)."""

    async def view(account_id: str) -> View:
        access = await runtime.messaging.as_staff(account_id, conversation_id)
        return View(access.side, access.conversation.id)

    return await _events(request, runtime, view, after)


@router.post(STAFF + "/{conversation_id}/step-up")
async def staff_step_up(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    return await _step_up(request, session, runtime, _base(access))


@router.post(STAFF + "/{conversation_id}/reply")
async def staff_reply(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    return await _reply(request, session, runtime, access)


@router.post(STAFF + "/{conversation_id}/assign")
async def assign(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Give the conversation to someone on the team (or to nobody). Signed-in session."""
    form = await checked_form(request, session)
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    try:
        await runtime.messaging.assign(access, field(form, "assignee") or None)
    except InvalidMessageError:
        errors = {"assignee": message("messaging.errors.assignee")}
        return await _conversation_page(
            request, session, runtime, access, status=400, errors=errors
        )
    return redirect(request, _base(access) + "?done=assigned")


@router.post(STAFF + "/{conversation_id}/close")
async def close(
    request: Request, session: SignedInSession, runtime: RuntimeDep, conversation_id: Id
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    await runtime.messaging.close(access)
    return redirect(request, STAFF + "?done=closed")


@router.get(STAFF + "/{conversation_id}/attachments/{message_id}/{attachment_id}")
async def staff_attachment(
    session: SignedInSession,
    runtime: RuntimeDep,
    conversation_id: Id,
    message_id: Id,
    attachment_id: Id,
) -> Response:
    """Signed-in session."""
    access = await runtime.messaging.as_staff(account_of(session), conversation_id)
    return await _attachment(session, runtime, access, message_id, attachment_id)
