"""The registry of connected organisations and the certificates issued to them.

An organisation is registered once, with a code that is unique across the registry. It proves
its identity in mutual TLS with a client certificate that the organisations CA issues from its
PKCS #10 request (RFC 2986) and revokes through the CRL (RFC 5280 §5). Every change is written
to the evidence log.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime, timedelta

from certs.authority import CertificateAuthority
from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.errors import (
    CertificateAlreadyRevokedError,
    CertificateNotFoundError,
    DuplicateOrganisationCodeError,
    InvalidRevocationReasonError,
    OrganisationNotFoundError,
)
from gateway.organisations.models import (
    CertificateRecord,
    CertificateStatus,
    NewOrganisation,
    Organisation,
    Revocation,
    RevocationReason,
    format_serial,
    parse_serial,
)
from gateway.organisations.store import OrganisationStore

ID_PREFIX = "org"


class OrganisationService:
    def __init__(
        self,
        store: OrganisationStore,
        clock: Clock,
        evidence: EvidenceLog,
        authority: CertificateAuthority,
        *,
        certificate_days: int,
        crl_validity_hours: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._authority = authority
        self._certificate_days = certificate_days
        self._crl_validity_hours = crl_validity_hours

    async def add(self, new: NewOrganisation, actor: Actor) -> Organisation:
        """Register an organisation; its code, if it has one, must not be registered yet."""
        organisation = Organisation(
            id=new_id(ID_PREFIX),
            name=new.name,
            kind=new.kind,
            code=new.code,
            contact_email=new.contact_email,
            endpoints=dict(new.endpoints),
            created_at=self._clock.now().isoformat(),
        )
        if not await self._store.add(organisation):
            holder = await self._store.id_for_code(organisation.code or "")
            raise DuplicateOrganisationCodeError(
                f"The code {organisation.code} is already registered to organisation {holder}; "
                "each organisation's code is unique.",
                code=organisation.code,
                org_id=holder,
            )
        await self._evidence.record(
            Event(
                str(actor),
                "organisation.created",
                organisation.id,
                {
                    "name": organisation.name,
                    "kind": organisation.kind.value,
                    "code": organisation.code,
                },
            )
        )
        return organisation

    async def get(self, org_id: str) -> Organisation:
        organisation = await self._store.get(org_id) if looks_like_id(org_id, ID_PREFIX) else None
        if organisation is None:
            raise OrganisationNotFoundError(
                f"No organisation has the id {org_id!r}. List them with GET "
                "/admin/v1/organisations or 'govconnect orgs list'."
            )
        return organisation

    async def list(self) -> list[Organisation]:
        return await self._store.all()

    async def issue_certificate(
        self, org_id: str, csr_pem: bytes, actor: Actor
    ) -> CertificateRecord:
        """Sign the organisation's CSR with the organisations CA and keep the certificate."""
        organisation = await self.get(org_id)
        issued = self._authority.sign_csr(
            csr_pem,
            org_id=organisation.id,
            org_name=organisation.name,
            now=self._clock.now(),
            days=self._certificate_days,
        )
        record = CertificateRecord(
            serial=format_serial(issued.serial),
            org_id=organisation.id,
            fingerprint=issued.fingerprint,
            not_before=issued.not_before.isoformat(),
            not_after=issued.not_after.isoformat(),
            status=CertificateStatus.VALID,
            revoked_at=None,
            reason=None,
            pem=issued.pem,
        )
        await self._store.add_certificate(record)
        await self._evidence.record(
            Event(
                str(actor),
                "certificate.issued",
                organisation.id,
                {
                    "serial": record.serial,
                    "fingerprint": record.fingerprint,
                    "not_after": record.not_after,
                },
            )
        )
        return record

    async def certificates(self, org_id: str) -> builtins.list[CertificateRecord]:
        organisation = await self.get(org_id)
        return await self._store.certificates(organisation.id)

    async def revoke_certificate(
        self, org_id: str, serial_hex: str, reason: str | None, actor: Actor
    ) -> CertificateRecord:
        """Revoke one of the organisation's certificates; from now on it is on the CRL."""
        why = _reason(reason)
        organisation = await self.get(org_id)
        serial = parse_serial(serial_hex)
        record = (
            await self._store.certificate(organisation.id, format_serial(serial))
            if serial is not None
            else None
        )
        if record is None:
            raise CertificateNotFoundError(
                f"Organisation {organisation.id} has no certificate with serial "
                f"{serial_hex!r}. List its certificates to see their serials."
            )
        if record.status is CertificateStatus.REVOKED:
            raise _already_revoked(record)
        now = self._clock.now()
        revoked = replace(
            record, status=CertificateStatus.REVOKED, revoked_at=now.isoformat(), reason=why
        )
        revocation = Revocation(
            serial=int(record.serial, 16),
            revoked_at=now,
            reason=why,
            not_after=datetime.fromisoformat(record.not_after),
        )
        if not await self._store.revoke(revoked, revocation):
            raise _already_revoked(record)
        await self._evidence.record(
            Event(
                str(actor),
                "certificate.revoked",
                organisation.id,
                {"serial": record.serial, "reason": why},
            )
        )
        return revoked

    async def crl(self) -> bytes:
        """The current CRL (RFC 5280 §5), DER, signed by the organisations CA.

        Built on every call from the store, so a revocation is on the very next CRL and no
        gateway process can serve a stale one; the cost is one signature.

        An entry stays listed until one full CRL validity period after its certificate
        expired, so it appears on at least one CRL issued after the expiry (RFC 5280 §3.3).
        """
        now = self._clock.now()
        keep_after = now - timedelta(hours=self._crl_validity_hours)
        entries = [
            (entry.serial, entry.revoked_at, entry.reason)
            for entry in await self._store.revocations()
            if entry.not_after > keep_after
        ]
        entries.sort(key=lambda entry: entry[0])
        return self._authority.build_crl(entries, now=now, validity_hours=self._crl_validity_hours)


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    try:
        return RevocationReason(reason.strip()).value
    except ValueError:
        allowed = ", ".join(r.value for r in RevocationReason)
        raise InvalidRevocationReasonError(
            f"{reason!r} is not a revocation reason; use one of {allowed} (RFC 5280 §5.3.1)."
        ) from None


def _already_revoked(record: CertificateRecord) -> CertificateAlreadyRevokedError:
    return CertificateAlreadyRevokedError(
        f"Certificate {record.serial} of organisation {record.org_id} is already revoked; "
        "revocation is final. Issue a new certificate from a new CSR instead."
    )
