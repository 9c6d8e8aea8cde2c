"""OrganisationService on the real store: atomic codes, the evidence trail, CRL contents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cryptography import x509

from gateway.core.errors import GovConnectError
from gateway.organisations.errors import DuplicateOrganisationCodeError
from gateway.organisations.models import NewOrganisation, Organisation, OrganisationKind
from gateway.organisations.services import OrganisationService
from gateway.organisations.store import OrganisationStore
from gateway.runtime import Runtime
from tests.certs.csrs import make_csr
from tests.conftest import TEST_ACTOR
from tests.gateway.organisations.helpers import council, department_code
from tests.support.clock import MovableClock
from tests.support.evidence import recorded


def _new(**overrides: object) -> NewOrganisation:
    return NewOrganisation.model_validate(council(**overrides))


async def test_concurrent_adds_of_one_code_register_exactly_one(runtime: Runtime) -> None:
    """Ten adds racing for one code: one organisation is registered, nine get the conflict."""
    code = department_code()
    results = await asyncio.gather(
        *(runtime.organisations.add(_new(kind="agency", code=code), TEST_ACTOR) for _ in range(10)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Organisation)]
    losers = [r for r in results if isinstance(r, GovConnectError)]
    assert len(winners) == 1 and len(losers) == 9
    assert all(isinstance(e, DuplicateOrganisationCodeError) for e in losers)
    registered = [o for o in await runtime.organisations.list() if o.code == code]
    assert registered == winners


async def test_organisations_without_a_code_do_not_clash(runtime: Runtime) -> None:
    """The code is optional; two organisations without one are both registered."""
    first = await runtime.organisations.add(_new(kind="agency", code=None), TEST_ACTOR)
    second = await runtime.organisations.add(_new(kind="agency", code=None), TEST_ACTOR)
    assert first.id != second.id and first.code is None and second.code is None


async def test_every_change_is_recorded_in_the_evidence_log(runtime: Runtime) -> None:
    """Registration, issue and revocation each append an entry naming the actor and subject."""
    service = runtime.organisations
    organisation = await service.add(_new(), TEST_ACTOR)
    record = await service.issue_certificate(organisation.id, make_csr(), TEST_ACTOR)
    await service.revoke_certificate(organisation.id, record.serial, "superseded", TEST_ACTOR)
    created = await recorded(runtime.evidence, "organisation.created", organisation.id)
    issued = await recorded(runtime.evidence, "certificate.issued", organisation.id)
    revoked = await recorded(runtime.evidence, "certificate.revoked", organisation.id)
    assert [e["actor"] for e in created + issued + revoked] == [str(TEST_ACTOR)] * 3
    assert created[0]["details"]["code"] == organisation.code
    assert issued[0]["details"]["serial"] == record.serial
    assert revoked[0]["details"] == {"serial": record.serial, "reason": "superseded"}


async def test_a_serial_is_found_however_it_was_copied(runtime: Runtime) -> None:
    """Serials pasted from openssl (upper case, colon-separated, leading zero) still match."""
    service = runtime.organisations
    organisation = await service.add(_new(), TEST_ACTOR)
    record = await service.issue_certificate(organisation.id, make_csr(), TEST_ACTOR)
    digits = ("0" + record.serial).upper()
    pasted = ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    revoked = await service.revoke_certificate(organisation.id, pasted, None, TEST_ACTOR)
    assert revoked.serial == record.serial and revoked.status.value == "revoked"


async def test_crl_keeps_an_entry_for_one_validity_period_after_the_certificate_expires(
    runtime: Runtime,
) -> None:
    """RFC 5280 §3.3: a revoked serial stays on the CRL until a CRL issued after its expiry
    has listed it, then leaves, so the CRL does not grow for ever."""
    clock = MovableClock(datetime.now(UTC))
    service = OrganisationService(
        OrganisationStore(runtime.redis),
        clock,
        runtime.evidence,
        runtime.authority,
        certificate_days=1,
        crl_validity_hours=24,
    )
    organisation = await service.add(_new(kind=OrganisationKind.DEPARTMENT, code=None), TEST_ACTOR)
    record = await service.issue_certificate(organisation.id, make_csr(), TEST_ACTOR)
    await service.revoke_certificate(organisation.id, record.serial, None, TEST_ACTOR)
    serial = int(record.serial, 16)

    def listed(der: bytes) -> bool:
        return (
            x509.load_der_x509_crl(der).get_revoked_certificate_by_serial_number(serial) is not None
        )

    assert listed(await service.crl())
    clock.advance(days=1, hours=23)  # expired 23 hours ago: not yet a full CRL period
    assert listed(await service.crl())
    clock.advance(hours=2)
    assert not listed(await service.crl())
