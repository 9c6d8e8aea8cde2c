"""STUB."""

from certs.authority import CertificateAuthority
from gateway.core.clock import Clock
from gateway.evidence.services import EvidenceLog
from gateway.organisations.store import OrganisationStore


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
