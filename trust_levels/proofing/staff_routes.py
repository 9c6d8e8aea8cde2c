"""Identity officers' pages and API: find a person, see their evidence, record a document
checked in person, withdraw a mistaken record.

Authentication: the pages need a signed-in identity officer whose sign-in reached the high
credential level (a passkey, GPG 44 high) within its freshness limit
(:data:`OFFICER_POLICY`); anyone lower is shown how to step up. The API needs the officer's
gateway access token at that level (:func:`gateway.tokens.resource.require_user`, RFC 9470
``insufficient_user_authentication`` below it).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData

from gateway.core.deps import RuntimeDep
from gateway.core.ids import looks_like_id
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.tokens.models import VerifiedAccessToken
from gateway.tokens.resource import require_user
from gateway.web.messages import message
from gateway.web.pages import SignedInSession, checked_form, field, redirect, render
from trust_levels.errors import InvalidScoreError, PolicyNotMetError
from trust_levels.models import CredentialStrength, Vector
from trust_levels.policies import AtLeast, check
from trust_levels.proofing.errors import (
    EvidenceNotFoundError,
    EvidenceWithdrawnError,
    InvalidEvidenceError,
    NotAnOfficerError,
    OwnEvidenceError,
    PersonNotFoundError,
)
from trust_levels.proofing.models import (
    MAX_REASON,
    EvidenceInput,
    EvidenceKind,
    Officer,
    PieceInput,
)
from trust_levels.proofing.pages import summarise

STAFF_PATH = "/staff/identity"
OFFICER_POLICY = AtLeast(Vector(CredentialStrength.HIGH))
# Each score the form asks for and its lowest value (GPG 45: evidence 1-4, checks 0-4).
SCORE_LOWEST = {"strength": 1, "validity": 1, "activity": 0, "fraud": 0, "verification": 0}
SCORE_FIELDS = tuple(SCORE_LOWEST)

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/staff/api/identity", tags=["identity proofing"])

AccountId = Annotated[str, Path(max_length=64)]


# --- Pages ---------------------------------------------------------------------------------


async def _officer_or_page(
    request: Request, session: Session, runtime: Runtime
) -> Officer | Response:
    """The signed-in identity officer, or the page that says what they lack: the designation,
    or a fresh high-level sign-in (GPG 44 high: a passkey)."""
    assert session.account_id is not None
    try:
        officer = await runtime.proofing.officers.officer(session.account_id)
    except NotAnOfficerError:
        return render(
            request,
            "message.html",
            session,
            403,
            title=message("staff.not_officer_title"),
            paragraphs=[message("staff.not_officer_body")],
        )
    try:
        check(OFFICER_POLICY, await runtime.levels.assurance(session))
    except PolicyNotMetError:
        return render(
            request, "staff_step_up.html", session, 403, title=message("staff.step_up_title")
        )
    return officer


async def _desk(
    request: Request,
    session: Session,
    runtime: Runtime,
    officer: Officer,
    status: int = 200,
    errors: dict[str, str] | None = None,
    email: str = "",
) -> Response:
    organisation = await runtime.proofing.officers.organisation(officer)
    return render(
        request,
        "staff_identity.html",
        session,
        status,
        title=message("staff.title"),
        organisation=organisation.name if organisation else "",
        errors=errors or {},
        email=email,
    )


@router.get(STAFF_PATH)
async def staff_page(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Find a person by email. Identity officer, signed in at Cl.Cm.Ch, fresh."""
    officer = await _officer_or_page(request, session, runtime)
    if not isinstance(officer, Officer):
        return officer
    return await _desk(request, session, runtime, officer)


@router.post(f"{STAFF_PATH}/find")
async def find_person(request: Request, session: SignedInSession, runtime: RuntimeDep) -> Response:
    """Identity officer, signed in at Cl.Cm.Ch, fresh (CSRF)."""
    form = await checked_form(request, session)
    officer = await _officer_or_page(request, session, runtime)
    if not isinstance(officer, Officer):
        return officer
    email = field(form, "email")[:254]
    error = message("staff.email_missing") if not email else None
    if error is None:
        try:
            person = await runtime.proofing.officers.person(email)
        except PersonNotFoundError:
            error = message("staff.not_found")
        else:
            return redirect(request, f"{STAFF_PATH}/people/{person.id}")
    return await _desk(request, session, runtime, officer, 400, {"email": error}, email)


async def _person_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    account_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    person = await runtime.proofing.officers.person(account_id)
    standing = await runtime.proofing.evidence.standing(person.id)
    typed = form or {}
    banner = message(f"staff.banner.{done}") if done in {"recorded", "withdrawn"} else None
    return render(
        request,
        "staff_person.html",
        session,
        status,
        title=message("staff.person_title", email=person.email),
        person=person,
        summary=await summarise(runtime, standing),
        kind_items=_choices(
            "Choose the document",
            [(k.value, message(f"proofing.kind.{k.value}")) for k in EvidenceKind if k.document],
            typed.get("kind"),
        ),
        score_items={
            name: _choices(
                "Choose a score", [(str(n), str(n)) for n in range(low, 5)], typed.get(name)
            )
            for name, low in SCORE_LOWEST.items()
        },
        errors=errors or {},
        banner=banner,
        own=person.id == session.account_id,
    )


def _choices(prompt: str, options: list[tuple[str, str]], chosen: str | None) -> list[Any]:
    """GOV.UK select items with the typed choice kept."""
    return [
        {"value": "", "text": prompt},
        *({"value": v, "text": t, "selected": v == chosen} for v, t in options),
    ]


def _person_id(account_id: str) -> str:
    if not looks_like_id(account_id, "acc"):
        raise PersonNotFoundError("No account has that id.")
    return account_id


@router.get(f"{STAFF_PATH}/people/{{account_id}}")
async def person_page(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    account_id: AccountId,
    done: str | None = None,
) -> Response:
    """A person's evidence and the forms to record or withdraw. Identity officer, signed in
    at Cl.Cm.Ch, fresh."""
    officer = await _officer_or_page(request, session, runtime)
    if not isinstance(officer, Officer):
        return officer
    return await _person_page(request, session, runtime, _person_id(account_id), done=done)


def _evidence_input(form: FormData) -> tuple[EvidenceInput | None, dict[str, str]]:
    """The officer's form as GPG 45 scores, or the errors to show beside its fields."""
    errors: dict[str, str] = {}
    kind = field(form, "kind")
    if kind not in {k.value for k in EvidenceKind if k.document}:
        errors["kind"] = message("staff.kind_missing")
    values = {name: field(form, name) for name in SCORE_FIELDS}
    missing = [name for name, value in values.items() if not value.isdigit()]
    if missing:
        errors[missing[0]] = message("staff.score_missing")
    expiry_parts = [field(form, f"expires-{part}") for part in ("day", "month", "year")]
    expires_on = None
    if any(expiry_parts):
        try:
            day, month, year = (int(part) for part in expiry_parts)
            expires_on = date(year, month, day)
        except ValueError:
            errors["expires"] = message("staff.expiry_invalid")
    if errors:
        return None, errors
    scores = {name: int(value) for name, value in values.items()}
    seen = EvidenceInput(
        kind=EvidenceKind(kind),
        evidence=[PieceInput(strength=scores["strength"], validity=scores["validity"])],
        activity=scores["activity"],
        fraud=scores["fraud"],
        verification=scores["verification"],
        expires_on=expires_on,
    )
    return seen, {}


@router.post(f"{STAFF_PATH}/people/{{account_id}}/evidence")
async def record_evidence(
    request: Request, session: SignedInSession, runtime: RuntimeDep, account_id: AccountId
) -> Response:
    """Record a document examined in person (GPG 45 "Get evidence", "Check the evidence",
    "Check the claimed identity belongs to the person"). Identity officer, signed in at
    Cl.Cm.Ch, fresh (CSRF)."""
    form = await checked_form(request, session)
    officer = await _officer_or_page(request, session, runtime)
    if not isinstance(officer, Officer):
        return officer
    person_id = _person_id(account_id)
    seen, errors = _evidence_input(form)
    if seen is not None:
        try:
            await runtime.proofing.officers.record_in_person(officer, person_id, seen)
        except InvalidScoreError as exc:
            errors["strength"] = exc.detail
        except (InvalidEvidenceError, OwnEvidenceError) as exc:
            errors["kind"] = (
                message("staff.own_evidence") if isinstance(exc, OwnEvidenceError) else exc.detail
            )
    if errors:
        typed = {name: field(form, name) for name in ("kind", *SCORE_FIELDS)}
        return await _person_page(request, session, runtime, person_id, 400, errors, typed)
    return redirect(request, f"{STAFF_PATH}/people/{person_id}?done=recorded")


@router.post(f"{STAFF_PATH}/people/{{account_id}}/withdraw")
async def withdraw_evidence(
    request: Request, session: SignedInSession, runtime: RuntimeDep, account_id: AccountId
) -> Response:
    """Withdraw a mistaken record, with the reason. Identity officer, signed in at Cl.Cm.Ch,
    fresh (CSRF)."""
    form = await checked_form(request, session)
    officer = await _officer_or_page(request, session, runtime)
    if not isinstance(officer, Officer):
        return officer
    person_id = _person_id(account_id)
    record_id, reason = field(form, "record")[:64], field(form, "reason")[:MAX_REASON]
    field_name = f"reason-{record_id}"
    if not reason:
        errors = {field_name: message("staff.reason_missing")}
        return await _person_page(request, session, runtime, person_id, 400, errors)
    try:
        await runtime.proofing.officers.withdraw(officer, person_id, record_id, reason)
    except (EvidenceNotFoundError, EvidenceWithdrawnError) as exc:
        return await _person_page(
            request, session, runtime, person_id, 400, {field_name: exc.detail}
        )
    return redirect(request, f"{STAFF_PATH}/people/{person_id}?done=withdrawn")


# --- API -----------------------------------------------------------------------------------

OfficerToken = Annotated[VerifiedAccessToken, Depends(require_user(OFFICER_POLICY))]


class StaffEvidenceBody(EvidenceInput):
    """An in-person check as the API takes it: the person, by email address or id."""

    account: str = Field(min_length=1, max_length=254)


class WithdrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, max_length=254)
    reason: str = Field(min_length=1, max_length=MAX_REASON)


async def _token_officer(token: VerifiedAccessToken, runtime: Runtime) -> Officer:
    assert token.record is not None  # require_user accepts only a person's token
    return await runtime.proofing.officers.officer(token.record.account_id)


@api.get("/evidence", summary="A person's identity evidence and confidence (officer token)")
async def api_evidence(
    token: OfficerToken,
    runtime: RuntimeDep,
    account: Annotated[str, Query(min_length=1, max_length=254)],
) -> dict[str, Any]:
    """Identity officer's access token at Cl.Cm.Ch (RFC 6750 / RFC 9449, RFC 9470)."""
    await _token_officer(token, runtime)
    person = await runtime.proofing.officers.person(account)
    standing = await runtime.proofing.evidence.standing(person.id)
    return {
        "account_id": person.id,
        "confidence": {
            "level": f"P{int(standing.confidence.level)}",
            "profile": standing.confidence.profile,
        },
        "evidence": [{**r.to_json(), "status": r.status(standing.now)} for r in standing.records],
    }


@api.post("/evidence", status_code=201, summary="Record in-person evidence (officer token)")
async def api_record(
    body: StaffEvidenceBody, token: OfficerToken, runtime: RuntimeDep
) -> dict[str, Any]:
    """Identity officer's access token at Cl.Cm.Ch (RFC 6750 / RFC 9449, RFC 9470)."""
    officer = await _token_officer(token, runtime)
    person = await runtime.proofing.officers.person(body.account)
    record = await runtime.proofing.officers.record_in_person(officer, person.id, body)
    return record.to_json()


@api.post("/evidence/{record_id}/withdraw", summary="Withdraw evidence (officer token)")
async def api_withdraw(
    record_id: Annotated[str, Path(max_length=64)],
    body: WithdrawBody,
    token: OfficerToken,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Identity officer's access token at Cl.Cm.Ch (RFC 6750 / RFC 9449, RFC 9470)."""
    officer = await _token_officer(token, runtime)
    record = await runtime.proofing.officers.withdraw(officer, body.account, record_id, body.reason)
    return record.to_json()


router.include_router(api)
