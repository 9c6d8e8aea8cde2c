"""Reading and changing account records, shared by the account services.

Every change is read → apply → compare-and-set; a lost race re-reads and re-applies, so no
change is based on a state another writer has already replaced (as for clients).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from gateway.accounts.errors import AccountChangedConcurrentlyError, AccountNotFoundError
from gateway.accounts.models import ID_PREFIX, Account
from gateway.accounts.store import AccountStore, Versioned
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog

MAX_CHANGE_ATTEMPTS = 5


def self_actor(account_id: str) -> str:
    """The evidence log's actor for a change a person makes to their own account."""
    return f"account:{account_id}"


class AccountRecords:
    def __init__(self, store: AccountStore, clock: Clock, evidence: EvidenceLog) -> None:
        self.store = store
        self.clock = clock
        self._evidence = evidence

    async def read(self, account_id: str) -> Versioned:
        """The account as stored; :class:`AccountNotFoundError` for an unknown or junk id."""
        if not looks_like_id(account_id, ID_PREFIX):
            raise AccountNotFoundError(_not_found(account_id))
        read = await self.store.get(account_id)
        if read is None:
            raise AccountNotFoundError(_not_found(account_id))
        return read

    async def get(self, account_id: str) -> Account:
        return (await self.read(account_id)).account

    async def change(
        self,
        account_id: str,
        apply: Callable[[Account], Account],
        write: Callable[[Versioned, Account], Awaitable[bool]] | None = None,
        *,
        force: bool = False,
    ) -> tuple[Account, Account]:
        """Apply ``apply`` to the stored account and write it back with compare-and-set
        (``write`` for a store step that changes more than the record). Returns before and
        after; an unchanged account is not written unless ``force`` (for a ``write`` that
        also clears data beside the record)."""
        writer = write or self.store.replace
        for _ in range(MAX_CHANGE_ATTEMPTS):
            read = await self.read(account_id)
            after = apply(read.account)
            if after == read.account and not force:
                return read.account, after
            after = _touched(after, self.clock)
            if await writer(read, after):
                return read.account, after
        raise AccountChangedConcurrentlyError(
            f"The account {account_id} kept changing while this change was being made; "
            "nothing was changed. Try again."
        )

    async def record(
        self, actor: str, action: str, account_id: str, details: dict[str, Any] | None = None
    ) -> None:
        """An evidence log entry. ``details`` must never hold an email address, phone number,
        password, code or secret: the log is kept for years and read by auditors."""
        await self._evidence.record(Event(actor, action, account_id, details or {}))


def _touched(account: Account, clock: Clock) -> Account:
    return replace(account, updated_at=clock.now())


def _not_found(account_id: str) -> str:
    shown = account_id if len(account_id) <= 64 else account_id[:64] + "…"
    return f"No account has the id {shown!r}."
