"""Tell Us Once over HTTP for receiving organisations' back offices, and the pages.

Authentication: ``GET /api/moves/v1/changes`` and ``POST …/changes/{id}/question`` take a
client credentials token of a client of the receiving organisation
(:data:`~gateway.delivery.auth.OrganisationDep`, as the delivery engine's recipient routes
do); each answers only about changes sent to the caller's own organisation. The changes
themselves are received, acknowledged and answered ("updated": a business response
``accepted``) through the delivery engine's submissions API (docs/receiving-submissions.md).
The pages are in :mod:`gateway.moves.pages`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path

from gateway.core.deps import RuntimeDep
from gateway.delivery.auth import OrganisationDep
from gateway.moves import pages
from gateway.moves.models import NewQuestion

api = APIRouter(prefix="/api/moves/v1", tags=["tell us once"])


@api.get("/changes", summary="Changes of address sent to your organisation (client token)")
async def changes(caller: OrganisationDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Newest first, each with the person's pairwise ``sub`` for your organisation, your
    submission's id, its status, and only the fields your service declared."""
    found = await runtime.moves.changes(caller.organisation_id)
    return {"changes": [c.to_json() for c in found]}


@api.post(
    "/changes/{submission_id}/question",
    status_code=201,
    summary="Ask the person about a change sent to you, in their secure messages (client token)",
)
async def ask(
    submission_id: Annotated[str, Path(max_length=64)],
    body: NewQuestion,
    caller: OrganisationDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """The question opens a conversation from one of your teams; the person's status for your
    organisation shows "question" until you answer the submission."""
    sent = await runtime.moves.ask(caller, submission_id, body, idempotency_key)
    return sent.to_json()


router = APIRouter()
router.include_router(api)
router.include_router(pages.router)
