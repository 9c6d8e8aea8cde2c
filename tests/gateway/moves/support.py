"""The hub, councils and departments with change-of-address services, and their back
offices, made through the services an operator's commands and a council's systems use."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from examples.back_office.config import Config
from examples.council_website import keys
from gateway.clients.models import ClientRegistration
from gateway.delivery.models import NewService
from gateway.moves.services import Hub
from gateway.organisations.errors import OrganisationError
from gateway.organisations.models import NewOrganisation, OrganisationKind
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration
from tests.gateway.delivery.support import client_token
from tests.gateway.tokens.support import Kit, key_client
from trust_levels.assurance import NO_CONFIDENCE, Assurance, Freshness, Reached
from trust_levels.models import CredentialStrength

# Three invented councils of the sample gazetteer (gateway/moves/gazetteer.csv).
BROOKFIELD, HOLLOWMERE, SALTWICK = "E06009901", "E07009902", "E06009903"
OLD_UPRN = "100190000101"  # 1 Orchard Row, Brookfield BF1 2AB
NEW_UPRN = "100290000102"  # 4 Station Road, Hollowmere HM3 4CD
FRESHNESS = Freshness(timedelta(hours=1), timedelta(hours=1), timedelta(hours=1))


def address_schema(*fields: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A change-of-address service's schema declaring ``fields`` (and nothing else)."""
    kinds: dict[str, Any] = {
        "full_name": {"type": "string"},
        "email": {"type": "string"},
        "old_address": {"type": "object"},
        "new_address": {"type": "object"},
        "moving_date": {"type": "string"},
        "people_moving": {"type": "array", "items": {"type": "string"}},
    }
    return {
        "type": "object",
        "properties": {f: kinds.get(f, {"type": "string"}) for f in fields},
        "required": list(required or fields),
        "additionalProperties": False,
    }


@dataclass
class Office:
    """A receiving organisation with its back-office client and that client's token."""

    org_id: str
    name: str
    kit: Kit
    token: str
    service: str
    fields: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def hub(runtime: Runtime) -> Hub:
    return await runtime.moves.set_up_hub("tell-us-once@example.gov.uk", TEST_ACTOR)


async def organisation(runtime: Runtime, name: str, code: str | None = None) -> str:
    """A council with a GSS code (found again if an earlier test made it), or a department."""
    kind = OrganisationKind.COUNCIL if code and code[0] in "EWSN" else OrganisationKind.DEPARTMENT
    if code is not None:
        for known in await runtime.organisations.list():
            if known.code == code:
                return known.id
    try:
        created = await runtime.organisations.add(
            NewOrganisation(name=name, kind=kind, code=code, contact_email="it@example.gov.uk"),
            TEST_ACTOR,
        )
    except OrganisationError:  # pragma: no cover - another test made it just now
        return await organisation(runtime, name, code)
    return created.id


async def office(
    http: httpx.AsyncClient,
    runtime: Runtime,
    name: str,
    schema: dict[str, Any],
    *,
    code: str | None = None,
) -> Office:
    """An organisation registered for change of address: a service of its own routed to it
    from the hub, and a back-office client that pulls."""
    the_hub = await hub(runtime)
    org_id = await organisation(runtime, name, code)
    registry = runtime.delivery.registry
    routed = [
        r.service
        for r in await registry.routes()
        if r.sender == the_hub.organisation.id and r.recipient == org_id
    ]
    # A council (found again by its code) keeps the service it was first registered with.
    service = routed[0] if routed else f"change-of-address-{secrets.token_hex(4)}"
    if not routed:
        await registry.add_service(
            NewService.model_validate(
                {
                    "name": service,
                    "version": "1",
                    "title": f"Update {name}'s records",
                    "schema": schema,
                }
            ),
            TEST_ACTOR,
        )
        await runtime.moves.register(org_id, service, TEST_ACTOR)
    kit = await key_client(
        runtime,
        org_id,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="submissions messages",
    )
    declared = (await registry.service(service, "1")).json_schema["properties"]
    token = await client_token(http, runtime, kit)
    return Office(org_id, name, kit, token, service, tuple(declared))


async def back_office(runtime: Runtime, o: Office, gateway_url: str, workdir: Path) -> Config:
    """The example back office (examples/back_office) of ``o``'s organisation, set to pull:
    a key of its own, made in ``workdir`` as the example makes it, whose public half is
    registered for a client credentials client of its own (not ``o``'s test client)."""
    key_file = workdir / "client-key.json"
    jwks = keys.public_jwks(keys.load_or_create(key_file))
    data = registration(
        o.org_id,
        client_name=f"{o.name} back office",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="submissions",
        jwks=jwks,
    )
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return Config(
        govconnect_url=gateway_url,
        client_id=issued.client.client_id,
        key_file=key_file,
        database=workdir / "submissions.sqlite3",
        case_prefix="".join(word[0] for word in o.name.split()[:2]).upper(),
    )


def signed_in_at(strength: CredentialStrength, now: datetime | None = None) -> Assurance:
    at = now or datetime.now(UTC)
    reached = tuple(Reached(s, at) for s in reversed(CredentialStrength) if s <= strength)
    return Assurance(reached, NO_CONFIDENCE, at, FRESHNESS)
