"""Tell Us Once pages: the person reports a move (``/move``), chooses whom to tell and agrees
to each, checks and sends, and follows each organisation's answer (``/move/{id}``); their
consents are listed at ``/account/moves``; a council's staff see what was sent to their
organisation at ``/staff/moves``. Server-rendered, GOV.UK Design System, JavaScript off.

Authentication: every route needs a signed-in person
(:data:`~gateway.web.pages.SignedInSession`). Reporting, choosing, checking and sending also
need the level ``GOVCONNECT_MOVES_LEVEL`` (``Cl.Cm`` unless set), and so does the staff page; a
session below it is offered the second step of sign-in
(:func:`~gateway.sessions.routes.start_second_step`) and comes back. A move is only ever shown
to the person who reported it (anyone else gets the 404 page); the staff page shows only the
organisations of the teams the person is staff of. Every form post is CSRF-checked
(:func:`~gateway.web.pages.checked_form`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gateway.accounts.errors import CodeSendLimitError
from gateway.core.deps import RuntimeDep
from gateway.moves.addresses import plausible_postcode
from gateway.moves.errors import (
    AddressLookupError,
    AddressNotFoundError,
    InvalidMoveError,
    MoveAlreadySentError,
)
from gateway.moves.models import Address, NewMove, normalise_postcode
from gateway.moves.services import FIELDS
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.sessions.routes import start_second_step
from gateway.web.messages import message
from gateway.web.pages import (
    SignedInSession,
    account_of,
    banner,
    checked_form,
    field,
    redirect,
    render,
)
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength
from trust_levels.policies import AtLeast, check

START = "/move"
STAFF = "/staff/moves"
ACCOUNT = "/account/moves"
Id = Annotated[str, Path(max_length=64)]
Done = Annotated[str | None, Query(max_length=32)]

router = APIRouter(include_in_schema=False)


def _labels() -> dict[str, str]:
    return {f: message(f"moves.fields.{f}") for f in FIELDS}


async def _short_of_level(
    request: Request, session: Session, runtime: Runtime, back: str
) -> Response | None:
    """The step-up page when the session is below the service's level, else None."""
    try:
        check(AtLeast(runtime.moves.level), await runtime.levels.assurance(session))
    except PolicyNotMetError as exc:
        shortfall = exc.shortfall
        second_factor = (
            shortfall.credential is CredentialStrength.MEDIUM and shortfall.identity is None
        )
        return render(
            request,
            "move_step_up.html",
            session,
            title=message("moves.step_up_title"),
            action=f"{START}/step-up?back={back}" if second_factor else None,
        )
    return None


@router.post(START + "/step-up")
async def step_up(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    back: Annotated[str, Query(max_length=200)] = START,
) -> Response:
    """Start the second step of sign-in and come back: the authenticator app if the account
    has one, else a code we email.
    Signed-in person."""
    await checked_form(request, session)
    # Only this service's own pages: never a redirect elsewhere.
    target = back if back in (START, STAFF) else START
    account = await runtime.accounts.get(account_of(session))
    await start_second_step(runtime, session, account.id, target)
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
            title=message("moves.codes_limit_title"),
            paragraphs=[message("moves.codes_limit_body")],
        )
    return redirect(request, "/sign-in/code?method=email")


# --- reporting the move -------------------------------------------------------------------


@router.get(START)
async def start(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """What the service does, and the two postcodes to look up.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    return _postcodes_page(request, session)


def _postcodes_page(
    request: Request,
    session: Session,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "move_start.html",
        session,
        status,
        title=message("moves.start_title"),
        values=values or {},
        errors=errors or {},
    )


@router.post(START + "/addresses")
async def find_addresses(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Look both postcodes up and offer their addresses.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    form = await checked_form(request, session)
    values = {
        "old_postcode": field(form, "old_postcode"),
        "new_postcode": field(form, "new_postcode"),
    }
    found, errors = await _lookup(runtime, values)
    if errors:
        return _postcodes_page(request, session, 400, values, errors)
    return _details_page(request, session, values, found, {})


async def _lookup(
    runtime: Runtime, values: dict[str, str]
) -> tuple[dict[str, list[Address]], dict[str, str]]:
    """The addresses at each postcode, or what to fix."""
    found: dict[str, list[Address]] = {}
    errors: dict[str, str] = {}
    for name in ("old_postcode", "new_postcode"):
        postcode = values[name]
        if not plausible_postcode(postcode):
            errors[name] = message(f"moves.errors.{name}")
            continue
        try:
            addresses = await runtime.moves.find_addresses(postcode)
        except AddressLookupError:
            errors[name] = message("moves.errors.lookup_down")
            continue
        if not addresses:
            errors[name] = message(
                "moves.errors.no_addresses", postcode=normalise_postcode(postcode)
            )
        found[name] = addresses
    return found, errors


def _details_page(
    request: Request,
    session: Session,
    values: dict[str, str],
    found: dict[str, list[Address]],
    errors: dict[str, str],
) -> Response:
    return render(
        request,
        "move_details.html",
        session,
        400 if errors else 200,
        title=message("moves.details_title"),
        values=values,
        old_addresses=found.get("old_postcode", []),
        new_addresses=found.get("new_postcode", []),
        errors=errors,
    )


@router.post(START + "/details")
async def report(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Keep the report as a draft and go on to choose whom to tell.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    form = await checked_form(request, session)
    names = (
        "old_postcode",
        "new_postcode",
        "old_uprn",
        "new_uprn",
        "day",
        "month",
        "year",
        "people",
    )
    values = {name: field(form, name) for name in names}
    errors: dict[str, str] = {}
    for name in ("old_uprn", "new_uprn"):
        if not values[name]:
            errors[name] = message(f"moves.errors.{name}")
    try:
        moving_date = date(int(values["year"]), int(values["month"]), int(values["day"]))
    except ValueError:
        errors["moving-date-day"] = message("moves.errors.date")
    people = tuple(line.strip() for line in values["people"].splitlines() if line.strip())
    if not errors:
        try:
            new = NewMove(
                old_uprn=values["old_uprn"],
                new_uprn=values["new_uprn"],
                moving_date=moving_date,
                people=people,
            )
            move = await runtime.moves.report(account_of(session), new)
        except ValidationError as exc:
            first = exc.errors()[0]["loc"]
            key = "people" if first and first[0] == "people" else "new_uprn"
            errors[key] = message(f"moves.errors.invalid_{key}")
        except AddressNotFoundError:
            errors["old_uprn"] = message("moves.errors.old_uprn")
        except InvalidMoveError as exc:
            errors["moving-date-day"] = exc.detail
        else:
            return redirect(request, f"{START}/{move.id}/organisations")
    found, _ = await _lookup(runtime, values)
    return _details_page(request, session, values, found, errors)


# --- whom to tell, and consent -------------------------------------------------------------


@router.get(START + "/{move_id}/organisations")
async def organisations(
    request: Request, session: SignedInSession, runtime: RuntimeDep, move_id: Id
) -> Response:
    """The organisations that can be told, suggested councils first; nothing is pre-ticked
    (consent is an act of the person's own, UK GDPR Art. 4(11)).
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    return await _organisations_page(request, session, runtime, move_id, {})


async def _organisations_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    move_id: str,
    errors: dict[str, str],
) -> Response:
    move, notices = await runtime.moves.own(account_of(session), move_id)
    if move.state.value != "draft":
        return redirect(request, f"{START}/{move.id}")
    chosen = {n.organisation_id for n in notices if n.state.value == "consented"}
    return render(
        request,
        "move_organisations.html",
        session,
        400 if errors else 200,
        title=message("moves.organisations_title"),
        move=move,
        offers=await runtime.moves.offers(move),
        chosen=chosen,
        labels=_labels(),
        errors=errors,
    )


@router.post(START + "/{move_id}/organisations")
async def choose(
    request: Request, session: SignedInSession, runtime: RuntimeDep, move_id: Id
) -> Response:
    """Record consent for each organisation ticked (and withdraw any no longer ticked).
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    form = await checked_form(request, session)
    chosen = [v for v in form.getlist("organisations") if isinstance(v, str)]
    try:
        await runtime.moves.consent(account_of(session), move_id, chosen)
    except InvalidMoveError:
        errors = {"organisations": message("moves.errors.choose")}
        return await _organisations_page(request, session, runtime, move_id, errors)
    except MoveAlreadySentError:
        return redirect(request, f"{START}/{move_id}")
    return redirect(request, f"{START}/{move_id}/check")


@router.get(START + "/{move_id}/check")
async def check_answers(
    request: Request, session: SignedInSession, runtime: RuntimeDep, move_id: Id, done: Done = None
) -> Response:
    """Everything that will be sent, and to whom, before it is.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    move, notices = await runtime.moves.own(account_of(session), move_id)
    if move.state.value != "draft":
        return redirect(request, f"{START}/{move.id}")
    return render(
        request,
        "move_check.html",
        session,
        title=message("moves.check_title"),
        move=move,
        notices=[n for n in notices if n.state.value == "consented"],
        labels=_labels(),
        banner=banner("moves", done),
    )


@router.post(START + "/{move_id}/consents/{organisation_id}/withdraw")
async def withdraw(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    move_id: Id,
    organisation_id: Id,
    back: Annotated[str, Query(max_length=16)] = "check",
) -> Response:
    """Withdraw consent for one organisation (until its copy is sent).
    Signed-in person (the move's own)."""
    await checked_form(request, session)
    try:
        await runtime.moves.withdraw(account_of(session), move_id, organisation_id)
    except MoveAlreadySentError:
        return redirect(request, f"{ACCOUNT}?done=too_late")
    if back == "account":
        return redirect(request, f"{ACCOUNT}?done=withdrawn")
    return redirect(request, f"{START}/{move_id}/check?done=withdrawn")


@router.post(START + "/{move_id}/send")
async def send(
    request: Request, session: SignedInSession, runtime: RuntimeDep, move_id: Id
) -> Response:
    """Send each consented copy, then show the progress.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, START)
    if short is not None:
        return short
    await checked_form(request, session)
    try:
        await runtime.moves.send(
            account_of(session), move_id, await runtime.levels.assurance(session)
        )
    except InvalidMoveError:
        return redirect(request, f"{START}/{move_id}/organisations")
    return redirect(request, f"{START}/{move_id}?done=sent")


@router.get(START + "/{move_id}")
async def progress(
    request: Request, session: SignedInSession, runtime: RuntimeDep, move_id: Id, done: Done = None
) -> Response:
    """Each organisation's status: sent, received, a question, updated.
    Signed-in person (the move's own)."""
    view = await runtime.moves.progress(account_of(session), move_id)
    if view.move.state.value == "draft":
        return redirect(request, f"{START}/{move_id}/check")
    return render(
        request,
        "move_progress.html",
        session,
        title=message("moves.progress_title"),
        view=view,
        banner=banner("moves", done),
    )


# --- the person's consents ----------------------------------------------------------------


@router.get(ACCOUNT)
async def account_moves(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: Done = None
) -> Response:
    """Every move reported, with each consent: to whom, for what, and whether it can still be
    withdrawn.
    Signed-in person."""
    return render(
        request,
        "move_account.html",
        session,
        title=message("moves.account_title"),
        moves=await runtime.moves.moves(account_of(session)),
        labels=_labels(),
        banner=banner("moves", done),
    )


# --- the council's staff ------------------------------------------------------------------


@router.get(STAFF)
async def staff(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """The changes of address sent to the organisations of the person's teams; only what each
    received.
    Signed-in person, at the service's level."""
    short = await _short_of_level(request, session, runtime, STAFF)
    if short is not None:
        return short
    teams = await runtime.messaging.staff_teams(account_of(session))
    organisations = {}
    for organisation_id in sorted({t.organisation_id for t in teams}):
        name = (await runtime.organisations.get(organisation_id)).name
        organisations[name] = await runtime.moves.changes(organisation_id)
    return render(
        request,
        "move_staff.html",
        session,
        title=message("moves.staff_title"),
        organisations=organisations,
        labels=_labels(),
    )
