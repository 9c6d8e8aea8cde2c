"""Agent relationship pages and the agents' API.

Authentication:

- ``/account/businesses/{business_id}/clients`` (the agent organisation's side) and
  ``/account/agents`` (the client's "Who can act for you") need a signed-in person
  (:data:`~gateway.web.pages.SignedInSession`); the service checks membership and the
  administrator role. ``/account/agents/invitations/{token}`` also needs a signed-in person
  (the one the invitation was emailed to), at the level the service demands to accept.
  Every form post is CSRF-checked (:func:`~gateway.web.pages.checked_form`).
- ``/api/agents/clients`` takes the agent user's own access token
  (:func:`~gateway.tokens.resource.require_user`); ``/api/agents/acting-for`` takes a token
  from the token exchange (RFC 8693), which acts for a client (``act``), ``Bearer`` or
  ``DPoP``.

Thin: parse, call one :class:`~trust_levels.agents.services.AgentService` method, then redirect
(303) or show the page again with GOV.UK-style errors.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from gateway.accounts.errors import CodeSendLimitError
from gateway.core.deps import RuntimeDep
from gateway.notify.models import Channel
from gateway.oidc.errors import InvalidTokenError
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.sessions.routes import start_second_step
from gateway.tokens.models import VerifiedAccessToken
from gateway.tokens.resource import presented_token, require_user
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
from trust_levels.agents.errors import (
    AgentError,
    InvalidInvitationError,
    InvalidKnownFactsError,
    InvitationExpiredError,
    InvitationLockedError,
    KnownFactsMismatchError,
    NotAMemberError,
    NotAnAdministratorError,
    NotAnAgentError,
    RelationshipNotActiveError,
    UnknownServiceError,
    WrongInviteeError,
)
from trust_levels.agents.models import KnownFacts, Relationship
from trust_levels.businesses.errors import InvalidGroupError
from trust_levels.businesses.models import Role, group_names
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength
from trust_levels.policies import AtLeast

AGENT_BASE = "/account/businesses/{business_id}/clients"
CLIENT_BASE = "/account/agents"
INVITATION = CLIENT_BASE + "/invitations/{token}"
BusinessId = Annotated[str, Path(max_length=64)]
RelationshipId = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=64)]
Done = Annotated[str | None, Query(max_length=32)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/agents", tags=["agents"])


def _problem(request: Request, session: Session, status: int, key: str) -> Response:
    """A page saying what went wrong and what to do (``agents.problems.<key>``)."""
    return render(
        request,
        "message.html",
        session,
        status,
        title=message(f"agents.problems.{key}.title"),
        paragraphs=[message(f"agents.problems.{key}.body")],
        link={"href": "/account", "text": message("agents.back_to_account")},
    )


def _refused(request: Request, session: Session, exc: AgentError) -> Response:
    """The page for an agent-side refusal."""
    if isinstance(exc, NotAnAdministratorError):
        return _problem(request, session, 403, "not_administrator")
    if isinstance(exc, NotAnAgentError):
        return _problem(request, session, 403, "not_agent")
    if isinstance(exc, NotAMemberError):
        return _problem(request, session, 404, "not_member")
    return _problem(request, session, 404, "no_relationship")


def _date(form: FormData, prefix: str) -> date | None:
    """A GOV.UK date input's three fields; None when all are empty."""
    parts = [field(form, f"{prefix}-{name}") for name in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise InvalidInvitationError("not a date", field="ends_on") from None


def _groups(text: str) -> frozenset[str]:
    try:
        return group_names(text.split(","))
    except InvalidGroupError:
        raise InvalidInvitationError("not group names", field="groups") from None


# --- The agent organisation's side -----------------------------------------------------------


async def _clients_page(
    request: Request, session: Session, runtime: Runtime, business_id: str, banner: str | None
) -> Response:
    account_id = account_of(session)
    try:
        relationships = await runtime.agents.for_organisation(business_id, account_id)
    except AgentError as exc:
        return _refused(request, session, exc)
    business = await runtime.businesses.get(business_id)
    membership = await runtime.businesses.membership(business_id, account_id)
    now = runtime.clock.now()
    return render(
        request,
        "agent_clients.html",
        session,
        title=message("agents.clients_title", business=business.name),
        business=business,
        administrator=membership is not None and membership.role is Role.ADMINISTRATOR,
        rows=[(r, r.state_at(now).value) for r in relationships],
        banner=banner,
    )


@pages.get(AGENT_BASE)
async def clients_page(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    done: Done = None,
) -> Response:
    """An agent organisation's clients: every relationship, and for administrators the
    controls to invite, limit to groups and revoke. Signed-in session."""
    return await _clients_page(request, session, runtime, business_id, banner("agents", done))


def _invite_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    business_id: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "agent_invite.html",
        session,
        status,
        title=message("agents.invite_title"),
        business_id=business_id,
        services=sorted(runtime.agents.settings.services),
        values=values or {},
        errors=errors or {},
    )


@pages.get(AGENT_BASE + "/invite")
async def invite_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """The invitation form (administrators of agent organisations). Signed-in session."""
    try:
        await runtime.agents.administered(business_id, account_of(session))
    except AgentError as exc:
        return _refused(request, session, exc)
    return _invite_page(request, session, runtime, business_id)


@pages.post(AGENT_BASE + "/invite")
async def invite(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    values = {name: field(form, name) for name in form if name != "csrf_token"}
    try:
        facts = KnownFacts.of(
            values.get("postcode", ""),
            values.get("birth_date-day", ""),
            values.get("birth_date-month", ""),
            values.get("birth_date-year", ""),
        )
        await runtime.agents.invite(
            business_id,
            account_of(session),
            email=values.get("email", ""),
            service=values.get("service", ""),
            facts=facts,
            groups=_groups(values.get("groups", "")),
            ends_on=_date(form, "ends_on"),
        )
    except (InvalidKnownFactsError, InvalidInvitationError) as exc:
        errors = {exc.field: message(f"agents.errors.{exc.field}")}
        return _invite_page(
            request, session, runtime, business_id, status=400, values=values, errors=errors
        )
    except UnknownServiceError:
        errors = {"service": message("agents.errors.service")}
        return _invite_page(
            request, session, runtime, business_id, status=400, values=values, errors=errors
        )
    except AgentError as exc:
        return _refused(request, session, exc)
    return redirect(request, AGENT_BASE.format(business_id=business_id) + "?done=invited")


@pages.post(AGENT_BASE + "/{relationship_id}/revoke")
async def revoke_client(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    relationship_id: RelationshipId,
) -> Response:
    """An administrator withdraws an invitation or gives up a client's authority.
    Signed-in session."""
    await checked_form(request, session)
    try:
        await runtime.agents.revoke_as_agent(business_id, account_of(session), relationship_id)
    except RelationshipNotActiveError:
        pass  # already ended: the list shows how
    except AgentError as exc:
        return _refused(request, session, exc)
    return redirect(request, AGENT_BASE.format(business_id=business_id) + "?done=revoked")


@pages.post(AGENT_BASE + "/{relationship_id}/groups")
async def limit_groups(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    relationship_id: RelationshipId,
) -> Response:
    """An administrator limits a relationship to agent user groups (empty: everyone).
    Signed-in session."""
    form = await checked_form(request, session)
    try:
        groups = _groups(field(form, "groups"))
        await runtime.agents.limit_groups(business_id, account_of(session), relationship_id, groups)
    except InvalidInvitationError:
        return redirect(request, AGENT_BASE.format(business_id=business_id) + "?done=bad-groups")
    except AgentError as exc:
        return _refused(request, session, exc)
    return redirect(request, AGENT_BASE.format(business_id=business_id) + "?done=groups")


# --- The client's side -------------------------------------------------------------------------


@pages.get(CLIENT_BASE)
async def agents_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: Done = None
) -> Response:
    """Who can act for the signed-in person, and invitations waiting for their answer."""
    account = await runtime.accounts.get(account_of(session))
    active, pending = await runtime.agents.for_client(account)
    return render(
        request,
        "agent_relationships.html",
        session,
        title=message("agents.relationships_title"),
        acting=active,
        waiting=pending,
        banner=banner("agents", done),
    )


@pages.post(CLIENT_BASE + "/{relationship_id}/revoke")
async def revoke_agent(
    request: Request, session: SignedInSession, runtime: RuntimeDep, relationship_id: RelationshipId
) -> Response:
    """The client withdraws an agent's authority. Signed-in session."""
    await checked_form(request, session)
    try:
        await runtime.agents.revoke_as_client(account_of(session), relationship_id)
    except RelationshipNotActiveError:
        pass  # already ended
    except AgentError:
        return _problem(request, session, 404, "no_relationship")
    return redirect(request, CLIENT_BASE + "?done=revoked")


@pages.post(CLIENT_BASE + "/{relationship_id}/decline")
async def decline_listed(
    request: Request, session: SignedInSession, runtime: RuntimeDep, relationship_id: RelationshipId
) -> Response:
    """The client refuses an invitation from their list. Signed-in session."""
    await checked_form(request, session)
    account = await runtime.accounts.get(account_of(session))
    try:
        await runtime.agents.decline_pending(relationship_id, account)
    except AgentError:
        return _problem(request, session, 404, "invitation_invalid")
    return redirect(request, CLIENT_BASE + "?done=declined")


def _invitation_refused(request: Request, session: Session, exc: AgentError) -> Response:
    if isinstance(exc, InvitationExpiredError):
        return _problem(request, session, 410, "invitation_expired")
    if isinstance(exc, InvitationLockedError):
        return _problem(request, session, 429, "invitation_locked")
    if isinstance(exc, WrongInviteeError):
        return _problem(request, session, 403, "invitation_other_email")
    return _problem(request, session, 404, "invitation_invalid")


async def _invitation_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    token: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    account = await runtime.accounts.get(account_of(session))
    try:
        relationship, agent = await runtime.agents.invitation(token, account)
    except AgentError as exc:
        return _invitation_refused(request, session, exc)
    here = INVITATION.format(token=token)
    need = runtime.agents.required_level(relationship.service)
    shortfall = AtLeast(need).unmet(await runtime.levels.assurance(session))
    if shortfall is not None:
        second_factor = shortfall.credential is CredentialStrength.MEDIUM and (
            shortfall.identity is None
        )
        return render(
            request,
            "agent_step_up.html",
            session,
            title=message("agents.step_up_title"),
            agent=agent,
            relationship=relationship,
            action=here + "/step-up" if second_factor else None,
        )
    return render(
        request,
        "agent_invitation.html",
        session,
        status,
        title=message("agents.invitation_title", agent=agent.name),
        agent=agent,
        relationship=relationship,
        action=here,
        values=values or {},
        errors=errors or {},
    )


@pages.get(INVITATION)
async def invitation_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Who is asking, for what; the known facts and the answer. A session below the level the
    service demands is offered a second step first. Signed-in session."""
    return await _invitation_page(request, session, runtime, token)


@pages.post(INVITATION)
async def accept_invitation(
    request: Request, session: SignedInSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    values = {name: field(form, name) for name in ("client_name", "postcode")}
    account = await runtime.accounts.get(account_of(session))
    try:
        facts = KnownFacts.of(
            values["postcode"],
            field(form, "birth_date-day"),
            field(form, "birth_date-month"),
            field(form, "birth_date-year"),
        )
        await runtime.agents.accept(
            token,
            account,
            facts=facts,
            client_name=values["client_name"],
            assurance=await runtime.levels.assurance(session),
        )
    except (InvalidKnownFactsError, InvalidInvitationError) as exc:
        return await _invitation_page(
            request,
            session,
            runtime,
            token,
            status=400,
            values=values,
            errors={exc.field: message(f"agents.errors.{exc.field}")},
        )
    except KnownFactsMismatchError as exc:
        # NOTE: the same words whichever fact was wrong, so a guesser learns nothing per field.
        error = message("agents.errors.mismatch", remaining=exc.remaining)
        return await _invitation_page(
            request, session, runtime, token, status=400, values=values, errors={"facts": error}
        )
    except PolicyNotMetError:
        return redirect(request, INVITATION.format(token=token))
    except AgentError as exc:
        return _invitation_refused(request, session, exc)
    return redirect(request, CLIENT_BASE + "?done=accepted")


@pages.post(INVITATION + "/decline")
async def decline_invitation(
    request: Request, session: SignedInSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    account = await runtime.accounts.get(account_of(session))
    try:
        await runtime.agents.decline(token, account)
    except AgentError as exc:
        return _invitation_refused(request, session, exc)
    return redirect(request, CLIENT_BASE + "?done=declined")


@pages.post(INVITATION + "/step-up")
async def step_up(
    request: Request, session: SignedInSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Start the second-step pages of ``gateway.sessions.routes`` for the signed-in account,
    coming back to the invitation: the authenticator app if it has one, else an emailed code.
    Signed-in session."""
    await checked_form(request, session)
    account = await runtime.accounts.get(account_of(session))
    await start_second_step(runtime, session, account.id, INVITATION.format(token=token))
    if account.totp_enabled:
        return redirect(request, "/sign-in/code")
    try:
        await runtime.accounts.send_sign_in_code(account.id, Channel.EMAIL)
    except CodeSendLimitError:
        return _problem(request, session, 429, "codes_limit")
    return redirect(request, "/sign-in/code?method=email")


# --- The agents' API -----------------------------------------------------------------------------


async def acting_token(request: Request, runtime: RuntimeDep) -> VerifiedAccessToken:
    """An access token from the token exchange (RFC 8693 §4.1: it carries ``act``), presented
    to the gateway's own API (RFC 6750 §2.1, RFC 9449 §7.1)."""
    verified = await presented_token(
        request,
        runtime,
        missing="Send the access token from the token exchange (Bearer or DPoP).",
    )
    if not isinstance(verified.claims.get("act"), dict):
        raise InvalidTokenError(
            "This API needs a token that acts for a client: get one with the token exchange "
            "grant (RFC 8693)."
        )
    return verified


def _relationship_json(relationship: Relationship, state: str) -> dict[str, Any]:
    return {
        "relationship_id": relationship.id,
        "agent_organisation_id": relationship.agent_id,
        "service": relationship.service,
        "state": state,
        "ends_at": relationship.ends_at.isoformat() if relationship.ends_at else None,
    }


@api.get(
    "/acting-for", summary="Whom an exchanged token acts for: access token from RFC 8693 exchange"
)
async def acting_for(
    runtime: RuntimeDep, token: Annotated[VerifiedAccessToken, Depends(acting_token)]
) -> JSONResponse:
    """The client (their pairwise ``sub`` for this relying party), the service, the
    relationship's state and the ``act`` claim; the relationship is checked again now, so a
    token from one that has since ended is refused."""
    act: dict[str, Any] = token.claims["act"]
    relationship = await runtime.agents.acting_for(
        str(token.claims["grant_id"]), str(act.get("org", "")), " ".join(token.scope)
    )
    body = {
        "sub": token.subject,
        **_relationship_json(relationship, relationship.state_at(runtime.clock.now()).value),
        "act": act,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@api.get("/clients", summary="The clients an agent user may act for: the user's access token")
async def usable_clients(
    runtime: RuntimeDep, token: Annotated[VerifiedAccessToken, Depends(require_user())]
) -> JSONResponse:
    """Every active relationship the agent user may use (ids, service, and the name the client
    chose to show), across the agent organisations they belong to."""
    assert token.record is not None, "require_user guarantees a person's token"
    clients = await runtime.agents.usable(token.record.account_id)
    return JSONResponse(
        {"clients": [c.to_json() for c in clients]}, headers={"Cache-Control": "no-store"}
    )


router = APIRouter()
router.include_router(pages)
router.include_router(api)
