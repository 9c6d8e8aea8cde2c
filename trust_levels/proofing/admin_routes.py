"""The administrators' API for identity officers: designate an account (by email address or
id) as an identity officer of an organisation, list them, remove one.

Authentication: every route needs an admin token (:data:`~gateway.admin.routes.AdminDep`);
the token's holder is the actor written to the evidence log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from gateway.admin.routes import AdminDep
from gateway.core.deps import RuntimeDep

router = APIRouter(prefix="/admin/v1/identity-officers", tags=["identity proofing"])


class OfficerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(
        min_length=1, max_length=254, description="The account's email address or id (acc_…)."
    )
    organisation_id: str = Field(
        min_length=1, max_length=64, description="The organisation they check identities for."
    )


@router.post("", status_code=201, summary="Make an account an identity officer (admin token)")
async def add_officer(body: OfficerBody, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    officer = await runtime.proofing.officers.designate(body.account, body.organisation_id, actor)
    return officer.to_json()


@router.get("", summary="List identity officers (admin token)")
async def list_officers(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"officers": [o.to_json() for o in await runtime.proofing.officers.list()]}


@router.delete("/{account}", summary="Stop an account being an identity officer (admin token)")
async def remove_officer(
    account: Annotated[str, Path(max_length=254)], actor: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return (await runtime.proofing.officers.remove(account, actor)).to_json()
