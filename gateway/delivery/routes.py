"""The delivery engine over HTTP: the admin API of services, routing rules and recipients, and
the submissions API of senders and recipients.

Authentication: every ``/admin/v1`` route here needs an admin token
(:data:`~gateway.admin.routes.AdminDep`). ``POST /api/v1/submissions`` and
``GET /api/v1/submissions/{id}`` take a client credentials token or a citizen's access token
(:data:`~gateway.delivery.auth.SenderDep`); the recipient's routes (inbox, envelope,
acknowledgement, response) take a client credentials token of the recipient organisation's
client (:data:`~gateway.delivery.auth.OrganisationDep`), and so does fetching an
attachment.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.admin.routes import AdminDep
from gateway.core.deps import RuntimeDep, get_runtime
from gateway.core.http import DirectEndpoint
from gateway.core.problems import problem
from gateway.delivery import uploads
from gateway.delivery.auth import OrganisationDep, SenderDep, sender_riding
from gateway.delivery.errors import SubmissionTooLargeError
from gateway.delivery.models import (
    AcknowledgementBody,
    BusinessResponse,
    NewRecipientSettings,
    NewRoute,
    NewService,
    SubmissionRequest,
)
from gateway.runtime import Runtime

admin = APIRouter(prefix="/admin/v1", tags=["delivery admin"])
api = APIRouter(prefix="/api/v1", tags=["submissions"])


@admin.post("/services", status_code=201, summary="Register a service version (admin token)")
async def add_service(body: NewService, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.delivery.registry.add_service(body, actor)).to_json()


@admin.get("/services", summary="List services (admin token)")
async def list_services(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"services": [s.to_json() for s in await runtime.delivery.registry.services()]}


@admin.get("/services/{name}/{version}", summary="Show one service version (admin token)")
async def show_service(name: str, version: str, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.delivery.registry.service(name, version)).to_json()


@admin.post("/routes", status_code=201, summary="Add a routing rule (admin token)")
async def add_route(body: NewRoute, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.delivery.registry.add_route(body, actor)).to_json()


@admin.get("/routes", summary="List routing rules (admin token)")
async def list_routes(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"routes": [r.to_json() for r in await runtime.delivery.registry.routes()]}


@admin.delete("/routes/{rule_id}", summary="Remove a routing rule (admin token)")
async def remove_route(rule_id: str, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.delivery.registry.remove_route(rule_id, actor)).to_json()


@admin.put(
    "/recipients/{org_id}",
    summary="Set how an organisation receives submissions (admin token); the first push "
    "set-up returns its webhook secret once",
)
async def set_recipient(
    org_id: str, body: NewRecipientSettings, actor: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return (await runtime.delivery.registry.set_recipient(org_id, body, actor)).to_json()


@admin.get("/recipients/{org_id}", summary="Show an organisation's delivery settings (admin token)")
async def show_recipient(org_id: str, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    settings = await runtime.delivery.registry.recipient(org_id)
    return {"recipient": None if settings is None else settings.public_json()}


@admin.post(
    "/recipients/{org_id}/rotate-secret",
    summary="Issue a new webhook secret; the old one signs beside it for a day (admin token)",
)
async def rotate_secret(org_id: str, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.delivery.registry.rotate_secret(org_id, actor)).to_json()


@admin.get("/deliveries/dead-letters", summary="Pushes given up on, newest first (admin token)")
async def dead_letters(
    _: AdminDep, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    return {"dead_letters": await runtime.delivery.queue.dead_letters(limit)}


_SUBMISSION_SCHEMA = SubmissionRequest.model_json_schema()


@api.post(
    "/submissions",
    status_code=202,
    summary="Submit a form or transaction (client credentials or a citizen's access token)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _SUBMISSION_SCHEMA},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [uploads.SUBMISSION_FIELD],
                        "properties": {
                            uploads.SUBMISSION_FIELD: {
                                "type": "string",
                                "description": "The submission's JSON, as for application/json.",
                            },
                            uploads.ATTACHMENT_FIELD: {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                },
            },
        }
    },
)
async def submit(
    request: Request,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Accepted (202) once stored and queued, with the signed receipt; a retry under the same
    Idempotency-Key returns the same receipt (``Idempotent-Replayed: true``). JSON, or
    multipart/form-data (RFC 7578) with attachments (:mod:`gateway.delivery.uploads`).

    The edge middleware calls :func:`submit_directly` instead, without FastAPI's routing and
    dependency resolution (see :data:`DIRECT`); FastAPI serves it too, with the same result.

    A system's token has its revocation read in the submission's first pipeline
    (:func:`~gateway.delivery.auth.sender_riding`), one round trip fewer per submission, so
    a malformed body or Idempotency-Key is refused before a revoked token is; the token is
    refused before the service, its rule or any stored submission is looked at."""
    return await _accept(request, runtime, idempotency_key)


async def submit_directly(request: Request) -> Response:
    """``POST /api/v1/submissions`` as :func:`submit` answers it, for the edge middleware."""
    runtime = await get_runtime(request)
    return await _accept(request, runtime, request.headers.get("idempotency-key"))


async def _accept(request: Request, runtime: Runtime, idempotency_key: str | None) -> JSONResponse:
    sender, token = await sender_riding(request, runtime)
    try:
        body, attachments = await uploads.read_submission(request)
        receipt = await runtime.delivery.submissions.submit(
            sender, body, idempotency_key, attachments, riding=token
        )
    except SubmissionTooLargeError as exc:
        # RFC 9110 §15.5.14: 413 Content Too Large, as the whole-request limit answers.
        return problem(413, exc.slug, exc.title, exc.detail, **exc.extensions)
    headers = {"Location": f"/api/v1/submissions/{receipt.submission.id}"}
    if receipt.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(receipt.to_json(), status_code=202, headers=headers)


# The busiest API path, served by the edge middleware directly (docs/performance.md).
DIRECT: dict[tuple[str, str], DirectEndpoint] = {("POST", "/api/v1/submissions"): submit_directly}


@api.get(
    "/submissions/{submission_id}",
    summary="A submission's state, proofs and timeline (its sender or recipient: access token)",
)
async def show_submission(
    submission_id: str, caller: SenderDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await runtime.delivery.submissions.view(caller, submission_id)


@api.get("/inbox", summary="Submissions waiting for acknowledgement (recipient, client token)")
async def inbox(
    caller: OrganisationDep,
    runtime: RuntimeDep,
    after: Annotated[str, Query(max_length=48)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return await runtime.delivery.submissions.inbox(caller, after, limit)


@api.get(
    "/submissions/{submission_id}/envelope",
    summary="Fetch the signed envelope (recipient, client token)",
)
async def envelope(
    submission_id: str, caller: OrganisationDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await runtime.delivery.submissions.fetch(caller, submission_id)


@api.get(
    "/submissions/{submission_id}/attachments/{sha256}",
    summary="Fetch an attachment by the SHA-256 the envelope lists (recipient, client token)",
    response_class=Response,
)
async def attachment(
    submission_id: str,
    sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    caller: OrganisationDep,
    runtime: RuntimeDep,
) -> Response:
    """The attachment's bytes with its media type; ``Repr-Digest`` (RFC 9530 §3) carries
    its SHA-256, which the recipient checks against the envelope."""
    found = await runtime.delivery.submissions.attachment(caller, submission_id, sha256)
    digest = base64.b64encode(bytes.fromhex(found.sha256)).decode()
    return Response(
        found.data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "Repr-Digest": f"sha-256=:{digest}:",
            "X-Content-Type-Options": "nosniff",
        },
    )


@api.post(
    "/submissions/{submission_id}/acknowledgement",
    summary="Acknowledge receipt with a JWS signed by your client's key (recipient, client token)",
)
async def acknowledge(
    submission_id: str, body: AcknowledgementBody, caller: OrganisationDep, runtime: RuntimeDep
) -> dict[str, Any]:
    submission = await runtime.delivery.submissions.acknowledge(
        caller, submission_id, body.acknowledgement
    )
    return {"id": submission.id, "state": submission.state.value}


@api.post(
    "/submissions/{submission_id}/response",
    summary="Answer a submission: accepted with a case reference, or rejected (client token)",
)
async def respond(
    submission_id: str, body: BusinessResponse, caller: OrganisationDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await runtime.delivery.submissions.respond(caller, submission_id, body)


router = APIRouter()
router.include_router(admin)
router.include_router(api)
