"""Business account pages, the page that asks whom a person acts for at sign-in, and the admin
API of businesses.

Authentication: every ``/account/businesses`` page needs a signed-in person
(:data:`~gateway.web.pages.SignedInSession`), except the invitation page behind an emailed
link, which is public and tells a person who is not signed in how to (accepting it needs a
signed-in person). Every form post is CSRF-checked (:func:`~gateway.web.pages.checked_form`).
``/authorize/business`` is public like the other ``/authorize/*`` pages: what it may do
depends on the browser's session. The ``/admin/v1/businesses`` routes need an admin token
(:data:`~gateway.admin.routes.AdminDep`).

Thin: parse, call one :class:`~trust_levels.businesses.services.BusinessService` method, then
redirect (303) or show the page again with GOV.UK-style errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from gateway.accounts.errors import InvalidEmailError
from gateway.accounts.models import email_hint
from gateway.admin.routes import AdminDep
from gateway.authorize.models import AUTHORIZE_PATH, PERSONAL
from gateway.authorize.pages import RequestId, expired, held, resume_path
from gateway.core.deps import RuntimeDep
from gateway.runtime import Runtime
from gateway.sessions.models import Session
from gateway.web.messages import message
from gateway.web.pages import (
    PageSession,
    SignedInSession,
    account_of,
    banner,
    checked_form,
    field,
    redirect,
    render,
)
from trust_levels.businesses.errors import (
    AlreadyMemberError,
    InvalidBusinessDetailsError,
    InvalidGroupError,
    InvalidInvitationError,
    InvalidServiceError,
    InvitationEmailMismatchError,
    LastAdministratorError,
    MemberNotFoundError,
    NotAdministratorError,
    NumberAlreadyRegisteredError,
    TooManyInvitationsError,
)
from trust_levels.businesses.models import (
    BusinessKind,
    MemberView,
    NewBusiness,
    Role,
    group_names,
)
from trust_levels.businesses.services import JOIN_PATH, MAX_WAITING_INVITATIONS

BASE = "/account/businesses"
# The path parameters, as the pages pass them along; longer values are refused unread.
BusinessId = Annotated[str, Path(max_length=64)]
AccountId = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=64)]
Done = Annotated[str | None, Query(max_length=32)]

pages = APIRouter(include_in_schema=False)
admin = APIRouter(prefix="/admin/v1/businesses", tags=["businesses"])


def _error(key: str, **values: str) -> str:
    return message(f"businesses.errors.{key}", **values)


def _role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def _forbidden(request: Request, session: Session, exc: NotAdministratorError) -> Response:
    """403 page saying who can do what the member tried, and whom to ask."""
    return render(
        request,
        "business_forbidden.html",
        session,
        403,
        title=_error("not_administrator_title"),
        business_name=exc.business_name,
        administrators=exc.administrators,
    )


# --- your businesses, and creating one ----------------------------------------------------------


@pages.get(BASE)
async def businesses_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, done: Done = None
) -> Response:
    """Signed-in session."""
    memberships = await runtime.businesses.memberships(account_of(session))
    return render(
        request,
        "business_list.html",
        session,
        title=message("businesses.list_title"),
        memberships=memberships,
        banner=banner("businesses", done),
    )


def _new_page(
    request: Request,
    session: Session,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "business_new.html",
        session,
        status,
        title=message("businesses.new_title"),
        kinds=[(kind.value, message(f"businesses.kinds.{kind.value}")) for kind in BusinessKind],
        values=values or {},
        errors=errors or {},
    )


@pages.get(f"{BASE}/new")
async def new_business_page(request: Request, session: SignedInSession) -> Response:
    """Signed-in session."""
    return _new_page(request, session)


@pages.post(f"{BASE}/new")
async def create_business(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    values = {name: field(form, name) for name in ("name", "kind", "number", "agent")}
    try:
        new = NewBusiness.parse(
            values["name"], values["kind"], values["number"], agent=values["agent"] == "yes"
        )
        business = await runtime.businesses.create(account_of(session), new)
    except InvalidBusinessDetailsError as exc:
        return _new_page(request, session, 400, values, {exc.field: _error(exc.reason)})
    except NumberAlreadyRegisteredError:
        return _new_page(request, session, 409, values, {"number": _error("number_registered")})
    return redirect(request, f"{BASE}/{business.id}?done=created")


# --- an invitation link (public page; accepting needs a signed-in person) ------------------------


# NOTE: the link's secret travels in the path, so it survives the sign-in round trip
# (``next``) and sits in the browser's history; it works once, for 7 days, and only for a
# person signed in with the invited address. Access logs record the route template, never the
# path, and pages send no Referer (``no-referrer``). Whoever holds the link sees the business's
# name and the role offered, without signing in.
@pages.get(f"{JOIN_PATH}/{{token}}")
async def invitation_page(
    request: Request, session: PageSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Public: the link from the email. Shows what it is an invitation to without using it."""
    try:
        view = await runtime.businesses.invitation_for_link(token)
    except InvalidInvitationError:
        return _invalid_link(request, session)
    email = None
    if session.account_id is not None:
        email = (await runtime.accounts.get(session.account_id)).email
    return render(
        request,
        "business_join.html",
        session,
        title=message("businesses.join_title", business=view.business.name),
        view=view,
        email=email,
        matches=email is not None and email.lower() == view.invitation.email.lower(),
        hint=email_hint(view.invitation.email),
        path=f"{JOIN_PATH}/{token}",
    )


def _invalid_link(request: Request, session: Session) -> Response:
    return render(
        request,
        "message.html",
        session,
        404,
        title=_error("invalid_link_title"),
        paragraphs=[_error("invalid_link_body")],
        link={"href": BASE, "text": message("businesses.list_title")},
    )


@pages.post(f"{JOIN_PATH}/{{token}}")
async def accept_invitation(
    request: Request, session: SignedInSession, runtime: RuntimeDep, token: Token
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    account_id = account_of(session)
    try:
        membership = await runtime.businesses.accept(token, account_id)
    except InvalidInvitationError:
        return _invalid_link(request, session)
    except InvitationEmailMismatchError as exc:
        email = (await runtime.accounts.get(account_id)).email
        return render(
            request,
            "message.html",
            session,
            403,
            title=_error("invalid_link_title"),
            paragraphs=[_error("other_email_body", hint=exc.email_hint, email=email)],
        )
    except AlreadyMemberError:
        return redirect(request, BASE)
    return redirect(request, f"{BASE}/{membership.business_id}?done=joined")


# --- one business ----------------------------------------------------------------------------


async def _business_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    business_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    banner: str | None = None,
    service: str = "",
) -> Response:
    account_id = account_of(session)
    business, membership = await runtime.businesses.member_of(business_id, account_id)
    administrator = membership.role is Role.ADMINISTRATOR
    invitations = (
        await runtime.businesses.invitations(business_id, account_id) if administrator else []
    )
    return render(
        request,
        "business.html",
        session,
        status,
        title=business.name,
        business=business,
        kind=message(f"businesses.kinds.{business.kind}"),
        membership=membership,
        administrator=administrator,
        members=await runtime.businesses.member_views(business_id, account_id),
        invitations=invitations,
        enrolments=await runtime.businesses.enrolments(business_id),
        errors=errors or {},
        banner=banner,
        service=service,
    )


@pages.get(f"{BASE}/{{business_id}}")
async def business_page(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    done: Done = None,
) -> Response:
    """Signed-in session."""
    return await _business_page(
        request, session, runtime, business_id, banner=banner("businesses", done)
    )


@pages.post(f"{BASE}/{{business_id}}/leave")
async def leave_business(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    account_id = account_of(session)
    try:
        await runtime.businesses.remove_member(business_id, account_id, account_id)
    except LastAdministratorError:
        errors = {"leave": _error("last_administrator")}
        return await _business_page(
            request, session, runtime, business_id, status=409, errors=errors
        )
    return redirect(request, f"{BASE}?done=left")


# --- inviting people ---------------------------------------------------------------------------


def _invite_page(
    request: Request,
    session: Session,
    business_name: str,
    business_id: str,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "business_invite.html",
        session,
        status,
        title=message("businesses.invite_title", business=business_name),
        business_id=business_id,
        roles=[(role.value, message(f"businesses.roles.{role.value}")) for role in Role],
        values=values or {},
        errors=errors or {},
    )


@pages.get(f"{BASE}/{{business_id}}/invite")
async def invite_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    try:
        business = await runtime.businesses.administered(business_id, account_of(session))
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    return _invite_page(request, session, business.name, business.id)


@pages.post(f"{BASE}/{{business_id}}/invite")
async def invite(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    values = {"email": field(form, "email"), "role": field(form, "role")}
    account_id = account_of(session)
    try:
        business = await runtime.businesses.administered(business_id, account_id)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    errors: dict[str, str] = {}
    role = _role(values["role"])
    if not values["email"]:
        errors["email"] = message("email.missing")
    if role is None:
        errors["role"] = _error("role_missing")
    if role is not None and not errors:
        try:
            await runtime.businesses.invite(business_id, account_id, values["email"], role)
        except InvalidEmailError:
            errors["email"] = message("email.invalid")
        except AlreadyMemberError:
            errors["email"] = _error("already_member")
        except TooManyInvitationsError:
            errors["email"] = _error("too_many_invitations", limit=str(MAX_WAITING_INVITATIONS))
    if errors:
        return _invite_page(request, session, business.name, business.id, 400, values, errors)
    return redirect(request, f"{BASE}/{business_id}?done=invited")


@pages.post(f"{BASE}/{{business_id}}/invitations/withdraw")
async def withdraw_invitation(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    try:
        await runtime.businesses.revoke_invitation(
            business_id, account_of(session), field(form, "invitation")
        )
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    except InvalidInvitationError:
        pass  # used or withdrawn meanwhile: the page shows what is waiting now
    return redirect(request, f"{BASE}/{business_id}?done=withdrawn")


# --- one member (administrators) ---------------------------------------------------------------


async def _member_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    business_id: str,
    account_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    groups: str | None = None,
) -> Response:
    business = await runtime.businesses.administered(business_id, account_of(session))
    member = _find(
        await runtime.businesses.member_views(business_id, account_of(session)), account_id
    )
    email = member.email or message("businesses.deleted_account")
    return render(
        request,
        "business_member.html",
        session,
        status,
        title=message("businesses.member_title", email=email),
        business=business,
        member=member,
        email=email,
        roles=[(role.value, message(f"businesses.roles.{role.value}")) for role in Role],
        groups=", ".join(sorted(member.membership.groups)) if groups is None else groups,
        errors=errors or {},
    )


def _find(members: list[MemberView], account_id: str) -> MemberView:
    for member in members:
        if member.membership.account_id == account_id:
            return member
    raise MemberNotFoundError("That account is not a member of the business.")


@pages.get(f"{BASE}/{{business_id}}/members/{{account_id}}")
async def member_page(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    account_id: AccountId,
) -> Response:
    """Signed-in session."""
    try:
        return await _member_page(request, session, runtime, business_id, account_id)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)


@pages.post(f"{BASE}/{{business_id}}/members/{{account_id}}/role")
async def change_role(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    account_id: AccountId,
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    role = _role(field(form, "role"))
    try:
        if role is None:
            errors = {"role": _error("role_missing")}
            return await _member_page(
                request, session, runtime, business_id, account_id, status=400, errors=errors
            )
        await runtime.businesses.set_role(business_id, account_of(session), account_id, role)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    except LastAdministratorError:
        errors = {"role": _error("last_administrator")}
        return await _member_page(
            request, session, runtime, business_id, account_id, status=409, errors=errors
        )
    return redirect(request, f"{BASE}/{business_id}?done=changed")


@pages.post(f"{BASE}/{{business_id}}/members/{{account_id}}/groups")
async def change_groups(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    account_id: AccountId,
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    text = field(form, "groups")
    try:
        groups = group_names(text.split(","))
        await runtime.businesses.set_groups(business_id, account_of(session), account_id, groups)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    except InvalidGroupError:
        errors = {"groups": _error("group_invalid")}
        return await _member_page(
            request,
            session,
            runtime,
            business_id,
            account_id,
            status=400,
            errors=errors,
            groups=text,
        )
    return redirect(request, f"{BASE}/{business_id}?done=changed")


@pages.post(f"{BASE}/{{business_id}}/members/{{account_id}}/remove")
async def remove_member(
    request: Request,
    session: SignedInSession,
    runtime: RuntimeDep,
    business_id: BusinessId,
    account_id: AccountId,
) -> Response:
    """Signed-in session."""
    await checked_form(request, session)
    try:
        await runtime.businesses.remove_member(business_id, account_of(session), account_id)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    except LastAdministratorError:
        errors = {"remove": _error("last_administrator")}
        return await _member_page(
            request, session, runtime, business_id, account_id, status=409, errors=errors
        )
    return redirect(request, f"{BASE}/{business_id}?done=removed")


# --- service enrolments (administrators) -------------------------------------------------------


@pages.post(f"{BASE}/{{business_id}}/services")
async def enrol(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    service = field(form, "service")
    try:
        await runtime.businesses.enrol(business_id, account_of(session), service)
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    except InvalidServiceError:
        errors = {"service": _error("service_invalid")}
        return await _business_page(
            request, session, runtime, business_id, status=400, errors=errors, service=service
        )
    return redirect(request, f"{BASE}/{business_id}?done=enrolled")


@pages.post(f"{BASE}/{{business_id}}/services/remove")
async def unenrol(
    request: Request, session: SignedInSession, runtime: RuntimeDep, business_id: BusinessId
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    try:
        await runtime.businesses.unenrol(business_id, account_of(session), field(form, "service"))
    except NotAdministratorError as exc:
        return _forbidden(request, session, exc)
    return redirect(request, f"{BASE}/{business_id}?done=unenrolled")


# --- acting for a business at sign-in --------------------------------------------------------


async def _choose_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    request_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    step = await held(request, runtime, session, request_id)
    if isinstance(step, Response):
        return step
    assert session.account_id is not None, "held() sends a signed-out browser back to resume"
    return render(
        request,
        "business_choose.html",
        session,
        status,
        title=message("businesses.choose_title"),
        client_name=step.client.client_name,
        memberships=await runtime.businesses.memberships(session.account_id),
        personal=PERSONAL,
        request_id=request_id,
        errors=errors or {},
    )


@pages.get(f"{AUTHORIZE_PATH}/business")
async def choose_business_page(
    request: Request, session: PageSession, runtime: RuntimeDep, request_id: RequestId = ""
) -> Response:
    """Whom the person acts for at the client: a business they belong to, or themselves.
    Public, like the other ``/authorize/*`` pages."""
    return await _choose_page(request, session, runtime, request_id)


@pages.post(f"{AUTHORIZE_PATH}/business")
async def choose_business(request: Request, session: PageSession, runtime: RuntimeDep) -> Response:
    """The person's choice (CSRF-checked); a business is accepted only if they are a member
    of it now. Public: the signed-in person's own answer."""
    form = await checked_form(request, session)
    request_id, choice = field(form, "request"), field(form, "acting_for")
    authorizer = runtime.authorization.authorizer
    if await authorizer.pending(request_id) is None:
        return expired(request, runtime, session)
    if session.account_id is None:
        return redirect(request, resume_path(request_id))
    allowed = choice == PERSONAL or (
        await runtime.businesses.membership(choice, session.account_id) is not None
    )
    if not allowed:
        errors = {"acting_for": message("businesses.choose_missing")}
        return await _choose_page(request, session, runtime, request_id, status=400, errors=errors)
    await authorizer.act_for(request_id, choice)
    return redirect(request, resume_path(request_id))


# --- admin API ---------------------------------------------------------------------------------


@admin.get("", summary="List businesses, oldest first (admin token)")
async def list_businesses(
    _: AdminDep,
    runtime: RuntimeDep,
    # Bounded so offset + limit stays a 64-bit integer, which ZRANGE needs.
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    businesses = await runtime.businesses.registered(offset, limit)
    return {"businesses": [business.to_json() for business in businesses]}


@admin.get("/{business_id}", summary="Show a business, its members and services (admin token)")
async def get_business(business_id: BusinessId, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    business = await runtime.businesses.get(business_id)
    members = await runtime.businesses.members(business.id)
    enrolments = await runtime.businesses.enrolments(business.id)
    return {
        **business.to_json(),
        "members": [member.to_json() for member in members],
        "services": [enrolment.to_json() for enrolment in enrolments],
    }


router = APIRouter()
router.include_router(pages)
router.include_router(admin)
