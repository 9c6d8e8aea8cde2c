"""Identity proofing's part of the demo data (``govconnect init --demo``): an identity officer
of the demo council and one council tax record to try the knowledge-based check with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from gateway.admin.models import Actor
from gateway.runtime import Runtime
from trust_levels.proofing.models import CouncilRecord

DEMO_OFFICER_EMAIL = "identity-officer@demo-borough.example"
# The demo council tax record, as printed on a (made-up) bill.
DEMO_COUNCIL_TAX_ACCOUNT = "DB 1234 5678"
DEMO_POSTCODE = "DB1 1AA"
DEMO_DATE_OF_BIRTH = date(1985, 4, 12)


@dataclass(frozen=True, slots=True)
class DemoProofing:
    officer_email: str
    officer_password: str
    council_tax_account: str
    council_tax_postcode: str
    council_tax_date_of_birth: str


async def seed_proofing(runtime: Runtime, council_id: str, actor: Actor) -> DemoProofing:
    """The officer signs in with the password, then adds a passkey at ``/account/passkeys``:
    the staff pages need a passkey sign-in."""
    password = secrets.token_urlsafe(18)
    officer = await runtime.accounts.create(
        DEMO_OFFICER_EMAIL, password, verified=True, totp_secret=None, actor=actor
    )
    await runtime.proofing.officers.designate(officer.id, council_id, actor)
    await runtime.proofing.council_records.add(
        council_id, CouncilRecord(DEMO_COUNCIL_TAX_ACCOUNT, DEMO_POSTCODE, DEMO_DATE_OF_BIRTH)
    )
    return DemoProofing(
        officer.email,
        password,
        DEMO_COUNCIL_TAX_ACCOUNT,
        DEMO_POSTCODE,
        DEMO_DATE_OF_BIRTH.isoformat(),
    )
