"""STUB."""

from gateway.clients.store import ClientStore
from gateway.core.clock import Clock
from gateway.evidence.services import EvidenceLog
from gateway.organisations.services import OrganisationService


class ClientService:
    def __init__(
        self,
        store: ClientStore,
        clock: Clock,
        evidence: EvidenceLog,
        organisations: OrganisationService,
        *,
        secrets_allowed: bool,
    ) -> None:
        self._store = store
