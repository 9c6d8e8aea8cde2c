"""Admin API authentication and the admin token routes.

Every admin route depends on :data:`AdminDep`: a bearer admin token (RFC 6750 §2.1), whose
holder becomes the :class:`Actor` written to the evidence log for each change it makes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gateway.admin.models import Actor
from gateway.core.deps import RuntimeDep


async def require_admin(request: Request, runtime: RuntimeDep) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    return await runtime.admin.authenticate(secret.strip() if scheme.lower() == "bearer" else None)


AdminDep = Annotated[Actor, Depends(require_admin)]

router = APIRouter(prefix="/admin/v1", tags=["admin"])


@router.get("/tokens", summary="List admin tokens, never their secrets (admin token)")
async def list_tokens(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"tokens": [t.to_json() for t in await runtime.admin.tokens()]}


@router.get("/audit", summary="Read the evidence log after a sequence number (admin token)")
async def audit(
    _: AdminDep,
    runtime: RuntimeDep,
    # A sequence number is a stream id's first part: Redis refuses a negative one or one past
    # 2^64 - 1, so such a value is a 422 here rather than a store error.
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: int = 100,
) -> dict[str, Any]:
    limit = max(1, min(limit, 1000))
    return {"entries": await runtime.evidence.entries(after, limit)}
