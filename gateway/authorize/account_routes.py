""" "Services you have signed in to": the person's consents, each removable.

Both routes need a signed-in person (:data:`~gateway.web.pages.SignedInSession`); removing is
a CSRF-checked form post.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.authorize.pages import scope_descriptions
from gateway.clients.errors import ClientError
from gateway.core.deps import RuntimeDep
from gateway.web.messages import message
from gateway.web.pages import SignedInSession, checked_form, field, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/account/services")
async def services_page(
    request: Request, session: SignedInSession, runtime: RuntimeDep, removed: str | None = None
) -> Response:
    """Signed-in session."""
    assert session.account_id is not None
    services = await runtime.authorization.consents.services(session.account_id)
    rows = [
        {
            "client_id": s.consent.client_id,
            "name": s.client_name,
            "scopes": scope_descriptions(s.consent.scopes),
            "granted_at": s.consent.granted_at,
        }
        for s in services
    ]
    banner = None
    if removed and all(row["client_id"] != removed for row in rows):
        # The name comes from the registry, never from the query: a link cannot put words
        # in the banner.
        try:
            name = (await runtime.clients.get(removed)).client_name
            banner = message("authorize.service_removed", client=name)
        except ClientError:
            banner = None
    return render(
        request,
        "authorize_services.html",
        session,
        title=message("authorize.services_title"),
        services=rows,
        banner=banner,
    )


@router.post("/account/services/remove")
async def remove_service(
    request: Request, session: SignedInSession, runtime: RuntimeDep
) -> Response:
    """Signed-in session."""
    form = await checked_form(request, session)
    assert session.account_id is not None
    client_id = field(form, "client_id")
    if not await runtime.authorization.consents.remove(session.account_id, client_id):
        return redirect(request, "/account/services")
    await runtime.tokens.consent_withdrawn(session.account_id, client_id)
    return redirect(request, f"/account/services?removed={client_id}")
