"""Organisations, back-office clients, services and routing rules that the delivery tests
build on, made through the admin API and the token endpoint as an operator and a council
would."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import Key

from examples.council_website.submissions import detached_signature as site_detached_signature
from examples.council_website.submissions import envelope_payload
from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.tokens.support import ANY_ALG, Kit, key_client, post_token

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "street": {"type": "string"},
        "permit_type": {"enum": ["resident", "visitor"]},
    },
    "required": ["name", "permit_type"],
    "additionalProperties": False,
}
FORM: dict[str, Any] = {"name": "Ada Lovelace", "street": "1 High St", "permit_type": "resident"}


@dataclass
class Party:
    """An organisation with a back-office client (private_key_jwt, client credentials)."""

    org_id: str
    kit: Kit
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Exchange:
    """Two parties, a service and the routing rule letting ``sender`` send it to
    ``recipient``."""

    sender: Party
    recipient: Party
    service: str
    route_id: str

    def request(self, body: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        return {
            "recipient": self.recipient.org_id,
            "service": self.service,
            "version": "1",
            "body": FORM if body is None else body,
            **overrides,
        }


async def client_token(http: httpx.AsyncClient, runtime: Runtime, kit: Kit) -> str:
    response = await post_token(http, runtime, kit, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def party(http: httpx.AsyncClient, runtime: Runtime) -> Party:
    org_id = await new_organisation(runtime)
    kit = await key_client(
        runtime,
        org_id,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="submissions",
    )
    return Party(org_id, kit, await client_token(http, runtime, kit))


async def add_service(
    http: httpx.AsyncClient, admin_headers: dict[str, str], **overrides: Any
) -> str:
    name = f"permit-{secrets.token_hex(4)}"
    body = {"name": name, "version": "1", "title": "Parking permit", "schema": SCHEMA, **overrides}
    response = await http.post("/admin/v1/services", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    return name


async def exchange(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], **service: Any
) -> Exchange:
    sender, recipient = await party(http, runtime), await party(http, runtime)
    name = await add_service(http, admin_headers, **service)
    rule = {"sender": sender.org_id, "service": name, "recipient": recipient.org_id}
    response = await http.post("/admin/v1/routes", json=rule, headers=admin_headers)
    assert response.status_code == 201, response.text
    return Exchange(sender, recipient, name, response.json()["id"])


async def submit(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    body: dict[str, Any],
    key: str | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """POST a submission: JSON, or multipart/form-data when there are ``files`` (name,
    content, declared media type)."""
    headers = {**headers, "Idempotency-Key": key or str(uuid.uuid4())}
    if files is None:
        return await http.post("/api/v1/submissions", json=body, headers=headers)
    return await http.post(
        "/api/v1/submissions",
        data={"submission": json.dumps(body)},
        files=[("attachment", file) for file in files],
        headers=headers,
    )


def payload_for(
    issuer: str,
    sender: Party,
    request: dict[str, Any],
    files: Sequence[tuple[str, bytes, str]] = (),
) -> bytes:
    """The envelope payload exactly as docs/receiving-submissions.md spells it, computed as a
    sender would before submitting: by the example council website's own code, which knows
    nothing of the gateway's."""
    return envelope_payload(issuer, sender.org_id, sender.kit.client_id, request, files)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detached_signature(kit: Kit, payload: bytes, *, key: Key | None = None) -> str:
    """A sender's detached JWS over ``payload`` (RFC 7515 Appendix F), by its registered key
    unless told."""
    signing_key = key or kit.key
    assert signing_key is not None
    return site_detached_signature(signing_key, payload, kit.kid)


def acknowledgement(
    kit: Kit,
    issuer: str,
    submission_id: str,
    payload_sha256: str,
    *,
    key: Key | None = None,
    **claims: Any,
) -> str:
    """The recipient's acknowledgement, signed with its registered key unless told."""
    body = {
        "iss": kit.client_id,
        "aud": issuer,
        "iat": int(time.time()),
        "submission": submission_id,
        "payload_sha256": payload_sha256,
        **claims,
    }
    signing_key = key or kit.key
    assert signing_key is not None
    header = {"alg": "ES256", "kid": kit.kid, "typ": "ack+jwt"}
    return jwt.encode(header, body, signing_key, registry=ANY_ALG)
