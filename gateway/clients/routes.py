"""Admin API of the client registry (``/admin/v1/clients``).

Every route requires an admin bearer token (:data:`~gateway.admin.routes.AdminDep`,
RFC 6750 §2.1). Bodies arrive as JSON objects and are validated by
:meth:`ClientRegistration.build` / :meth:`ClientUpdate.build`, the same code the CLI runs,
so a refused registration reads the same in both: a 400 problem (RFC 9457) whose ``detail``
names each field and whose ``errors`` lists them. The secret of a ``client_secret_*`` client
is in the response that issues it, once; no response carries its hash.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from gateway.admin.routes import AdminDep
from gateway.clients.models import ClientRegistration, ClientUpdate
from gateway.core.deps import RuntimeDep

router = APIRouter(prefix="/admin/v1/clients", tags=["admin", "clients"])

JsonObject = Annotated[dict[str, Any], Body()]


def _request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with its ``$defs`` inlined, for the OpenAPI request body: the
    route reads a plain object so that validation errors come from ``build``."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            inlined = {key: inline(value) for key, value in node.items() if key != "$ref"}
            if ref.startswith("#/$defs/"):
                # Siblings of the reference (its default, say) apply on top of the definition.
                return {**inline(definitions[ref.removeprefix("#/$defs/")]), **inlined}
            return inlined
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    body = {"required": True, "content": {"application/json": {"schema": inline(schema)}}}
    return {"requestBody": body}


@router.post(
    "",
    status_code=201,
    summary="Register a client (admin token); a client_secret_* client's secret is returned "
    "this once",
    openapi_extra=_request_schema(ClientRegistration),
)
async def add_client(actor: AdminDep, runtime: RuntimeDep, body: JsonObject) -> dict[str, Any]:
    return (await runtime.clients.add(ClientRegistration.build(body), actor)).to_json()


@router.get("", summary="List registered clients, never their secrets (admin token)")
async def list_clients(_: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"clients": [client.to_json() for client in await runtime.clients.list()]}


@router.get("/{client_id}", summary="Show one client (admin token)")
async def get_client(_: AdminDep, runtime: RuntimeDep, client_id: str) -> dict[str, Any]:
    return (await runtime.clients.get(client_id)).to_json()


@router.patch(
    "/{client_id}",
    summary="Change the fields given; the whole registration is validated again (admin token)",
    openapi_extra=_request_schema(ClientUpdate),
)
async def update_client(
    actor: AdminDep, runtime: RuntimeDep, client_id: str, body: JsonObject
) -> dict[str, Any]:
    issued = await runtime.clients.update(client_id, ClientUpdate.build(body), actor)
    return issued.to_json()


@router.post("/{client_id}/disable", summary="Disable a client at once (admin token)")
async def disable_client(actor: AdminDep, runtime: RuntimeDep, client_id: str) -> dict[str, Any]:
    return (await runtime.clients.disable(client_id, actor)).to_json()


@router.post("/{client_id}/enable", summary="Enable a disabled client (admin token)")
async def enable_client(actor: AdminDep, runtime: RuntimeDep, client_id: str) -> dict[str, Any]:
    return (await runtime.clients.enable(client_id, actor)).to_json()


@router.post(
    "/{client_id}/rotate-secret",
    summary="Issue a new client secret, returned this once; the old one stops working "
    "(admin token)",
)
async def rotate_secret(actor: AdminDep, runtime: RuntimeDep, client_id: str) -> dict[str, Any]:
    secret = await runtime.clients.rotate_secret(client_id, actor)
    return {"client_id": client_id, "client_secret": secret}
