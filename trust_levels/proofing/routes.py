"""The citizen's identity pages, the prove-identity step of a sign-in, and the development
identity provider.

Thin: each handler checks the form (CSRF first), calls one proofing service method, and
renders the next page or the same page with GOV.UK-style errors. Sentences live in the
templates and in ``gateway/web/messages-proofing.toml``. The staff pages and API are in
:mod:`trust_levels.proofing.staff_routes`, the administrators' API in
:mod:`trust_levels.proofing.admin_routes`; :data:`router` carries them all.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gateway.authorize.models import AUTHORIZE_PATH
from gateway.authorize.pages import RequestId, held, resume_path
from gateway.core.deps import RuntimeDep
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.web.messages import message
from gateway.web.pages import (
    PageSession,
    SignedInSession,
    checked_form,
    field,
    redirect,
    render,
    safe_next,
)
from trust_levels.proofing import admin_routes, staff_routes
from trust_levels.proofing.errors import (
    CouncilCheckFailedError,
    CouncilCheckLimitError,
    CouncilNotFoundError,
    CouncilRecordClaimedError,
    ProviderResultError,
)
from trust_levels.proofing.models import CouncilFacts
from trust_levels.proofing.pages import summarise
from trust_levels.proofing.services import DEV_PROVIDER_PATH
from trust_levels.proofing.sources import DEV_OUTCOMES, MAX_RESULT
from trust_levels.table import identity_level

IDENTITY_PATH = "/account/identity"
COUNCIL_CHECK_PATH = f"{IDENTITY_PATH}/council-check"
PROVIDER_PATH = f"{IDENTITY_PATH}/provider"
PROVIDER_RETURN_PATH = f"{PROVIDER_PATH}/return"
PROVE_PATH = f"{AUTHORIZE_PATH}/prove-identity"
PENDING_NEXT = "identity_next"  # where to go once the provider answers (session pending)
MAX_TRANSACTION = 64

router = APIRouter(include_in_schema=False)
dev_router = APIRouter(include_in_schema=False)

NextPath = Annotated[str | None, Query(max_length=512)]


def _done(next_path: str | None, banner: str) -> str:
    """Back where the person came from (a sign-in waiting for them), else their identity page
    with a banner."""
    return safe_next(next_path, f"{IDENTITY_PATH}?done={banner}")


async def _identity_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    *,
    template: str,
    title: str,
    status: int = 200,
    **context: Any,
) -> Response:
    """A page that shows the person's confidence and the ways to prove more."""
    assert session.account_id is not None
    standing = await runtime.proofing.evidence.standing(session.account_id)
    return render(
        request,
        template,
        session,
        status,
        title=title,
        summary=await summarise(runtime, standing),
        provider=runtime.proofing.proving is not None,
        **context,
    )


@router.get(IDENTITY_PATH)
async def identity_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: str | None = None
) -> Response:
    """The confidence reached, the evidence behind it and the ways to prove more. Signed-in
    person (session cookie)."""
    banner = message(f"proofing.banner.{done}") if done in {"council-check", "provider"} else None
    notice = message("proofing.provider_failed") if done == "provider-failed" else None
    return await _identity_page(
        request,
        session,
        runtime,
        template="identity.html",
        title=message("proofing.title"),
        banner=banner,
        notice=notice,
        next=None,
    )


# --- The knowledge-based check against the council's records ---------------------------------


async def _council_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    next_path: str | None,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    assert session.account_id is not None
    check = runtime.proofing.council_check
    chosen = (form or {}).get("council")
    return render(
        request,
        "identity_council_check.html",
        session,
        status,
        title=message("proofing.council_title"),
        council_items=[
            {"value": "", "text": "Choose your council"},
            *(
                {"value": c.id, "text": c.name, "selected": c.id == chosen}
                for c in await check.councils()
            ),
        ],
        tries_left=await check.tries_left(session.account_id),
        form=form or {},
        errors=errors or {},
        next=safe_next(next_path, ""),
    )


@router.get(COUNCIL_CHECK_PATH)
async def council_check_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, next: NextPath = None
) -> Response:
    """The council tax questions. Signed-in person (session cookie)."""
    return await _council_page(request, session, runtime, next)


def _date_of_birth(form: dict[str, str]) -> date | None:
    try:
        born = date(int(form["birth-year"]), int(form["birth-month"]), int(form["birth-day"]))
    except (KeyError, ValueError):
        return None
    return born if date(1900, 1, 1) <= born < date.today() else None


@router.post(COUNCIL_CHECK_PATH)
async def council_check(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Match the answers against the council's record (GPG 45 knowledge-based
    verification); limited attempts a day. Signed-in person (session cookie, CSRF)."""
    posted = await checked_form(request, session)
    assert session.account_id is not None
    names = ("council", "account_number", "postcode", "birth-day", "birth-month", "birth-year")
    form = {name: field(posted, name)[:64] for name in names}
    next_path = field(posted, "next") or None
    errors: dict[str, str] = {}
    for name, key in (("council", "council_missing"), ("account_number", "account_missing"),
                      ("postcode", "postcode_missing")):  # fmt: skip
        if not form[name]:
            errors[name] = message(f"proofing.council.{key}")
    born = _date_of_birth(form)
    if born is None:
        blank = not any(form[f"birth-{part}"] for part in ("day", "month", "year"))
        errors["birth"] = message(f"proofing.council.birth_{'missing' if blank else 'invalid'}")
    if errors:
        return await _council_page(request, session, runtime, next_path, 400, form, errors)
    assert born is not None
    facts = CouncilFacts.build(form["council"], form["account_number"], form["postcode"], born)
    try:
        await runtime.proofing.council_check.check(session.account_id, facts)
    except CouncilNotFoundError:
        errors["council"] = message("proofing.council.council_missing")
    except CouncilCheckFailedError as exc:
        # The first field carries the message: it never says which answer was wrong.
        key = "no_match" if exc.attempts_left else "no_match_last"
        errors["account_number"] = message(f"proofing.council.{key}", left=exc.attempts_left)
    except CouncilRecordClaimedError:
        errors["account_number"] = message("proofing.council.claimed")
    except CouncilCheckLimitError:
        return render(
            request,
            "message.html",
            session,
            429,
            title=message("proofing.council.limit_title"),
            paragraphs=[message("proofing.council.limit_body")],
            link={"href": IDENTITY_PATH, "text": message("proofing.back_to_identity")},
        )
    if errors:
        return await _council_page(request, session, runtime, next_path, 400, form, errors)
    return redirect(request, _done(next_path, "council-check"))


# --- An identity-proving provider ------------------------------------------------------------


@router.post(PROVIDER_PATH)
async def provider_start(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Open a transaction bound to this account and send the person to the provider.
    Signed-in person (session cookie, CSRF)."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    proving = runtime.proofing.proving
    if proving is None:
        return redirect(request, IDENTITY_PATH)
    url = await proving.start(session.account_id)
    next_path = safe_next(field(form, "next"), "")
    await runtime.sessions.set_pending(session, {PENDING_NEXT: next_path} if next_path else {})
    return redirect(request, url)


@router.get(PROVIDER_RETURN_PATH)
async def provider_return(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    result: Annotated[str, Query(max_length=MAX_RESULT)] = "",
) -> Response:
    """Where the provider sends the person back with its signed result; the result is
    verified and must answer a transaction this account opened (never trusted from the
    query by itself). Signed-in person (session cookie)."""
    assert session.account_id is not None
    proving = runtime.proofing.proving
    if proving is None:
        return redirect(request, IDENTITY_PATH)
    try:
        record = await proving.complete(session.account_id, result)
    except ProviderResultError:
        return render(
            request,
            "message.html",
            session,
            400,
            title=message("proofing.provider_refused_title"),
            paragraphs=[message("proofing.provider_refused_body")],
            link={"href": IDENTITY_PATH, "text": message("proofing.back_to_identity")},
        )
    next_path = session.pending.get(PENDING_NEXT)
    await runtime.sessions.set_pending(session, {})
    if record is None:
        return redirect(request, f"{IDENTITY_PATH}?done=provider-failed")
    return redirect(request, _done(next_path if isinstance(next_path, str) else None, "provider"))


# --- The prove-identity step of a sign-in for a service ------------------------------------


@router.get(PROVE_PATH)
async def prove_identity(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """Where the authorization endpoint sends a person whose identity confidence is below
    what the service asks (RFC 8485 ``P`` component of the vector of trust): the ways to
    prove more, then Continue, which checks again. Public; a browser that is not signed in
    is sent back to the sign-in."""
    step = await held(request, runtime, session, request_id)
    if isinstance(step, Response):
        return step
    shortfall = await runtime.authorization.authorizer.shortfall(step.request, session, step.client)
    needed = None
    if shortfall is not None and shortfall.identity is not None:
        needed = identity_level(shortfall.identity)
    return await _identity_page(
        request,
        session,
        runtime,
        template="identity_prove.html",
        title=message("proofing.prove_title", client=step.client.client_name),
        client_name=step.client.client_name,
        needed=needed,
        request_id=request_id,
        next=f"{PROVE_PATH}?{urlencode({'request': request_id})}",
        continue_path=resume_path(request_id),
    )


# --- The development identity provider (not mounted in production) -------------------------


@dev_router.get(DEV_PROVIDER_PATH)
async def dev_provider_page(
    request: Request,
    session: SignedInSession,
    transaction: Annotated[str, Query(max_length=MAX_TRANSACTION)] = "",
) -> Response:
    """Development only: stands in for an identity-proving provider's pages; the developer
    chooses what the check finds. Signed-in person (session cookie)."""
    return render(
        request,
        "identity_dev_provider.html",
        session,
        title="Development identity-proving service",
        transaction=transaction,
        outcomes=list(DEV_OUTCOMES),
    )


@dev_router.post(DEV_PROVIDER_PATH)
async def dev_provider_answer(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Development only: sign the chosen outcome and send the person back, as a provider
    would. Signed-in person (session cookie, CSRF)."""
    form = await checked_form(request, session)
    provider = runtime.proofing.dev_provider
    transaction, outcome = field(form, "transaction")[:MAX_TRANSACTION], field(form, "outcome")
    if provider is None or outcome not in DEV_OUTCOMES:
        return redirect(request, f"{DEV_PROVIDER_PATH}?{urlencode({'transaction': transaction})}")
    result = await provider.sign(transaction, outcome)
    return redirect(request, f"{PROVIDER_RETURN_PATH}?{urlencode({'result': result})}")


router.include_router(staff_routes.router)
router.include_router(admin_routes.router)
