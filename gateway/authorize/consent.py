"""Consent: what a person let each client have (OIDC Core §3.1.2.4).

A client run by a council for its own residents' services may be registered ``first_party``
and is never asked for; every other client is asked once per set of scopes. The answer is
kept per (account, client) until the person removes it from "Services you have signed in
to"; asking for a scope beyond it, or ``prompt=consent``, asks again.
"""

from __future__ import annotations

from gateway.accounts.records import self_actor
from gateway.authorize.models import ConnectedService, Consent
from gateway.authorize.store import ConsentStore
from gateway.clients.errors import ClientError
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog


class ConsentService:
    def __init__(
        self, store: ConsentStore, clients: ClientService, clock: Clock, evidence: EvidenceLog
    ) -> None:
        self._store = store
        self._clients = clients
        self._clock = clock
        self._evidence = evidence

    async def covers(self, account_id: str, client_id: str, scopes: tuple[str, ...]) -> bool:
        consent = await self._store.get(account_id, client_id)
        return consent is not None and consent.covers(scopes)

    async def grant(self, account_id: str, client_id: str, scopes: tuple[str, ...]) -> Consent:
        """Record consent to ``scopes``, added to what the person agreed to before."""
        previous = await self._store.get(account_id, client_id)
        merged = tuple(dict.fromkeys((*(previous.scopes if previous else ()), *scopes)))
        consent = Consent(client_id, merged, self._clock.now())
        await self._store.put(account_id, consent)
        details = {"client_id": client_id, "scopes": list(merged)}
        await self._evidence.record(
            Event(self_actor(account_id), "consent.granted", account_id, details)
        )
        return consent

    async def services(self, account_id: str) -> list[ConnectedService]:
        """The person's consents with each client's name, most recent first."""
        found = []
        for consent in await self._store.all(account_id):
            try:
                name = (await self._clients.get(consent.client_id)).client_name
            except ClientError:
                continue  # a client deleted since: nothing left to show or remove
            found.append(ConnectedService(consent, name))
        return sorted(found, key=lambda s: s.consent.granted_at, reverse=True)

    async def remove(self, account_id: str, client_id: str) -> bool:
        """Withdraw consent: the next sign-in to that client asks again."""
        removed = await self._store.remove(account_id, client_id)
        if removed:
            details = {"client_id": client_id}
            await self._evidence.record(
                Event(self_actor(account_id), "consent.removed", account_id, details)
            )
        return removed

    async def forget(self, account_id: str) -> None:
        """Every consent of a deleted account."""
        await self._store.remove_all(account_id)
