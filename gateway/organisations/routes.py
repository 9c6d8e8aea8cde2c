"""The admin API of the organisations registry and the public PKI documents.

Authentication: every ``/admin/v1/organisations`` route needs an admin token
(:data:`~gateway.admin.routes.AdminDep`); the ``/pki`` routes are public, because relying
parties fetch the trust anchor, the issuing CA and the CRL (RFC 5280 §5) without credentials.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from certs.authority import MAX_CSR_BYTES
from gateway.admin.routes import AdminDep
from gateway.core.deps import RuntimeDep
from gateway.organisations.models import NewOrganisation

PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1
PKIX_CRL = "application/pkix-crl"  # RFC 2585 §4.2
# NOTE: shared caches may keep these documents for an hour, so a relying party that fetches the
# CRL through one can learn of a revocation up to an hour late; in exchange a CDN or proxy can
# absorb the load of every relying party polling. The gateway itself always serves a fresh CRL.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=3600"}


class CsrBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csr: str = Field(
        max_length=MAX_CSR_BYTES,
        description="A PEM PKCS #10 certificate signing request (RFC 2986).",
    )


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, description="An RFC 5280 §5.3.1 reason, such as keyCompromise."
    )


admin = APIRouter(prefix="/admin/v1/organisations", tags=["organisations"])
pki = APIRouter(prefix="/pki", tags=["pki"])


@admin.post("", status_code=201, summary="Register an organisation (admin token)")
async def add_organisation(
    body: NewOrganisation, actor: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return (await runtime.organisations.add(body, actor)).to_json()


@admin.get("", summary="List organisations (admin token)")
async def list_organisations(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"organisations": [o.to_json() for o in await runtime.organisations.list()]}


@admin.get("/{org_id}", summary="Show one organisation (admin token)")
async def get_organisation(org_id: str, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.organisations.get(org_id)).to_json()


@admin.post(
    "/{org_id}/certificates",
    status_code=201,
    summary="Issue a client certificate from the organisation's CSR (admin token)",
)
async def issue_certificate(
    org_id: str, body: CsrBody, actor: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    record = await runtime.organisations.issue_certificate(org_id, body.csr.encode(), actor)
    return record.to_json()


@admin.get("/{org_id}/certificates", summary="List the organisation's certificates (admin token)")
async def list_certificates(org_id: str, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    records = await runtime.organisations.certificates(org_id)
    return {"certificates": [r.to_json() for r in records]}


@admin.post(
    "/{org_id}/certificates/{serial}/revoke",
    summary="Revoke one of the organisation's certificates (admin token)",
)
async def revoke_certificate(
    org_id: str,
    serial: str,
    actor: AdminDep,
    runtime: RuntimeDep,
    body: Annotated[RevokeBody | None, Body()] = None,
) -> dict[str, Any]:
    reason = body.reason if body is not None else None
    record = await runtime.organisations.revoke_certificate(org_id, serial, reason, actor)
    return record.to_json()


@pki.get("/root-ca.pem", summary="The development root CA certificate (public)")
async def root_ca(runtime: RuntimeDep) -> Response:
    return Response(runtime.authority.root_ca_pem(), media_type=PEM_CHAIN, headers=PUBLIC_CACHE)


@pki.get("/orgs-ca.pem", summary="The organisations' issuing CA certificate (public)")
async def orgs_ca(runtime: RuntimeDep) -> Response:
    return Response(runtime.authority.orgs_ca_pem(), media_type=PEM_CHAIN, headers=PUBLIC_CACHE)


@pki.get("/orgs-ca.crl", summary="The organisations CA's CRL, DER (public)")
async def orgs_crl(runtime: RuntimeDep) -> Response:
    return Response(await runtime.organisations.crl(), media_type=PKIX_CRL, headers=PUBLIC_CACHE)


router = APIRouter()
router.include_router(admin)
router.include_router(pki)
