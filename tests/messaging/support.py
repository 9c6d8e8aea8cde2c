"""A council with a messaging team and a back-office client, and citizens it can write to,
made through the services an operator's command and a council's sign-in use."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from messaging.models import Council, NewConversation, NewTeam, Recipient, Sent, Team, Upload
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.support import client_token
from tests.gateway.tokens.support import Kit, exchange, issue_code, key_client
from tests.support.accounts import PASSWORD

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class CouncilKit:
    """An organisation, one of its teams, its website client (whose sector the citizens'
    ``sub`` is under) and its back-office client (client credentials, ``messages`` scope)."""

    org_id: str
    team: Team
    website: Kit
    back_office: Kit

    @property
    def council(self) -> Council:
        return Council(self.back_office.client_id, self.org_id)


async def new_council(runtime: Runtime, service: str = "council-tax") -> CouncilKit:
    org_id = await new_organisation(runtime)
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=org_id, name="Council Tax team", service=service), "cli:pytest"
    )
    website = await key_client(runtime, org_id)
    back_office = await key_client(
        runtime, org_id, grant_types=["client_credentials"], redirect_uris=[], scope="messages"
    )
    return CouncilKit(org_id, team, website, back_office)


async def api_token(http: httpx.AsyncClient, runtime: Runtime, kit: CouncilKit) -> str:
    return await client_token(http, runtime, kit.back_office)


async def new_citizen(runtime: Runtime, *, totp_secret: str | None = None) -> Account:
    return await runtime.accounts.create(
        f"citizen-{secrets.token_hex(5)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=totp_secret,
        actor=TEST_ACTOR,
    )


async def new_staff(
    runtime: Runtime, kit: CouncilKit, *, totp_secret: str | None = None
) -> Account:
    account = await new_citizen(runtime, totp_secret=totp_secret)
    await runtime.messaging.add_staff(kit.team.id, account.id, "cli:pytest")
    return account


async def write_to(
    runtime: Runtime,
    kit: CouncilKit,
    citizen: Account,
    body: str = "Your council tax bill for 2026 is ready.",
    *,
    level: str | None = None,
    uploads: list[Upload] | None = None,
) -> Sent:
    """The council writes to the citizen by the pairwise sub its website was given."""
    sub = await runtime.messaging.enrol(kit.website.client, citizen.id)
    request = NewConversation(
        team=kit.team.id,
        to=Recipient(sub=sub),
        subject="Your council tax",
        reference="CT-" + secrets.token_hex(3),
        body=body,
        level=level,
    )
    return await runtime.messaging.send(
        kit.council, request, uploads or [], "key-" + secrets.token_hex(8)
    )


async def citizen_token(
    http: httpx.AsyncClient, runtime: Runtime, kit: CouncilKit, citizen: Account
) -> str:
    """The citizen's access token at the council's website, from a real code exchange."""
    issued = await issue_code(runtime, kit.website, citizen, scope=("openid",))
    response = await exchange(http, runtime, kit.website, issued)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def token_without_messages_scope(
    http: httpx.AsyncClient, runtime: Runtime, kit: CouncilKit
) -> str:
    """A client credentials token of another of the council's systems, granted only
    ``submissions``."""
    other = await key_client(
        runtime,
        kit.org_id,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="submissions",
    )
    return await client_token(http, runtime, other)


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}
