"""People, councils, officers and council records for the identity proofing tests, made
through the services as an operator or the demo seed would."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from gateway.accounts.models import Account
from gateway.organisations.models import NewOrganisation, OrganisationKind
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod
from tests.conftest import TEST_ACTOR
from tests.gateway.organisations.helpers import council_code
from tests.support.accounts import PASSWORD, new_email
from trust_levels.proofing.models import (
    CouncilRecord,
    EvidenceInput,
    EvidenceKind,
    Officer,
    PieceInput,
)

# An officer's in-person passport check: alone it meets L1A (P1); with a council record
# check beside it, M2B (P2).
PASSPORT = EvidenceInput(
    kind=EvidenceKind.PASSPORT,
    evidence=[PieceInput(strength=3, validity=2)],
    fraud=1,
    verification=2,
)


async def new_person(runtime: Runtime) -> Account:
    return await runtime.accounts.create(
        new_email(), PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )


async def new_council(runtime: Runtime, kind: OrganisationKind = OrganisationKind.COUNCIL) -> str:
    organisation = await runtime.organisations.add(
        NewOrganisation(
            name=f"Testshire Council {secrets.token_hex(3)}",
            kind=kind,
            code=council_code() if kind is OrganisationKind.COUNCIL else None,
            contact_email="identity@testshire.example",
        ),
        TEST_ACTOR,
    )
    return organisation.id


async def new_officer(runtime: Runtime, organisation_id: str | None = None) -> Officer:
    person = await new_person(runtime)
    council = organisation_id or await new_council(runtime)
    return await runtime.proofing.officers.designate(person.email, council, TEST_ACTOR)


@dataclass(frozen=True)
class ResidentRecord:
    """A council's record of a resident, as typed on a bill (spaces, lower case)."""

    council_id: str
    account_number: str
    postcode: str
    date_of_birth: date


async def new_resident_record(runtime: Runtime, council_id: str) -> ResidentRecord:
    number = "".join(secrets.choice("0123456789") for _ in range(10))
    record = ResidentRecord(council_id, number, "AB1 2CD", date(1980, 5, 17))
    await runtime.proofing.council_records.add(
        council_id, CouncilRecord(number, "ab1 2cd", record.date_of_birth)
    )
    return record


async def passkey_session(runtime: Runtime, account_id: str) -> str:
    """The cookie of a browser session signed in with a passkey just now (Cl.Cm.Ch), made
    through the session service: the passkey ceremony itself belongs to gateway.passkeys and
    its tests; here only the level it leaves matters."""
    anonymous = await runtime.sessions.start("2001:db8::1", "pytest")
    signed_in = await runtime.sessions.sign_in(anonymous, account_id, [AuthMethod.PASSKEY])
    return signed_in.id
