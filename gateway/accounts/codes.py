"""One-time codes sent by email or text message, and the limits on sending them.

A code is six digits from :mod:`secrets`, the least NIST SP 800-63B §5.1.3.2 allows for an
out-of-band secret (about 20 bits), made safe by the limits below. It is kept only as a digest,
lives at most ``code_ttl_seconds`` (≤ 10 minutes), dies after ``code_max_attempts`` wrong tries,
and works once: checking and deleting it is one atomic step. A new code for the same purpose
replaces the old one. Sending is limited per recipient address (and per account where there
is one) to ``code_send_limit`` in ``code_send_window_seconds``.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets

from gateway.accounts.errors import CodeSendLimitError
from gateway.accounts.models import CodePurpose
from gateway.accounts.store import AccountStore
from gateway.core.clock import Clock
from gateway.core.settings import Settings

CODE_DIGITS = 6
_SEPARATORS = re.compile(r"[\s-]")


def _digest(account_id: str, purpose: CodePurpose, code: str) -> str:
    # NOTE: one SHA-256 with the purpose and account as context, not a slow hash: a code has
    # only 10^6 values, so no hash would stop someone who can read the live store from
    # finding it; the digest keeps codes out of backups and memory dumps in readable form,
    # and the short lifetime and the try limit are what protect it.
    return hashlib.sha256(f"{purpose.value}:{account_id}:{code}".encode()).hexdigest()


def _normalise(code: str) -> str:
    """Codes as people type or paste them: spaces and hyphens are not part of the code."""
    return _SEPARATORS.sub("", code)


class OneTimeCodes:
    def __init__(self, store: AccountStore, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._clock = clock
        self._ttl = settings.code_ttl_seconds
        self._max_attempts = settings.code_max_attempts
        self._send_limit = settings.code_send_limit
        self._send_window = settings.code_send_window_seconds

    async def issue(
        self, account_id: str, purpose: CodePurpose, *, target: str | None = None
    ) -> str:
        """A new code for ``purpose``, replacing any earlier one; ``target`` (a new email
        address or phone number) is kept with it and returned when the code is used."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        expires_at_ms = self._now_ms() + self._ttl * 1000
        await self._store.put_code(
            account_id,
            purpose,
            _digest(account_id, purpose, code),
            expires_at_ms=expires_at_ms,
            ttl_seconds=self._ttl,
            target=target,
        )
        return code

    async def use(
        self, account_id: str, purpose: CodePurpose, code: str
    ) -> tuple[bool, str | None]:
        """Whether ``code`` is the live code for ``purpose`` (it is then used up), and the
        target stored with it. A wrong code counts a try; too many kill the code."""
        typed = _normalise(code)
        return await self._store.consume_code(
            account_id,
            purpose,
            _digest(account_id, purpose, typed),
            now_ms=self._now_ms(),
            max_tries=self._max_attempts,
        )

    async def discard(self, account_id: str, purpose: CodePurpose) -> None:
        await self._store.discard_code(account_id, purpose)

    async def count_email(self, email: str) -> None:
        """Count a message to an address; :class:`CodeSendLimitError` over the limit."""
        self._check(
            await self._store.count_email_send(
                email, window_seconds=self._send_window, limit=self._send_limit
            )
        )

    async def count_phone(self, phone: str) -> None:
        """Count a text to a number; :class:`CodeSendLimitError` over the limit."""
        self._check(
            await self._store.count_phone_send(
                phone, window_seconds=self._send_window, limit=self._send_limit
            )
        )

    async def count_account(self, account_id: str) -> None:
        """Count a code sent for an account; :class:`CodeSendLimitError` over the limit."""
        self._check(
            await self._store.count_account_send(
                account_id, window_seconds=self._send_window, limit=self._send_limit
            )
        )

    @staticmethod
    def _check(wait_ms: int) -> None:
        if wait_ms:
            raise CodeSendLimitError(wait_ms / 1000)

    def _now_ms(self) -> int:
        return math.floor(self._clock.now().timestamp() * 1000)
