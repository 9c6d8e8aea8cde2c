"""Signing in with an email address and password, device tokens, and password re-entry.

OWASP Authentication Cheat Sheet and ASVS 2.2: the sign-in is throttled before any password
is checked, and an unknown address, a wrong password and a disabled account give one error
after one Argon2 verification each (an unknown address burns one), so neither the answer nor
its timing says which addresses have accounts.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from gateway.accounts.errors import IncorrectPasswordError, InvalidEmailError, SignInFailedError
from gateway.accounts.models import Account, SignInAttempt, email_digest, normalise_email
from gateway.accounts.passwords import PasswordHasher, could_be_password
from gateway.accounts.store import AccountStore
from gateway.accounts.throttle import SignInThrottle
from gateway.core.clock import Clock
from gateway.core.secretbox import SecretBox, UnsealError

# As long as the device cookie the pages set (Max-Age 365 days).
DEVICE_TOKEN_MAX_AGE_SECONDS = 365 * 86_400
_CLOCK_SKEW_SECONDS = 300
_MAX_DEVICE_TOKEN_LENGTH = 512


def device_context(account_id: str) -> str:
    """What a device token is sealed for: one account's sign-in throttle, nothing else."""
    return f"device:{account_id}"


class PasswordSignIn:
    def __init__(
        self,
        store: AccountStore,
        clock: Clock,
        hasher: PasswordHasher,
        throttle: SignInThrottle,
        box: SecretBox,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self._throttle = throttle
        self._box = box

    async def authenticate(self, email: str, password: str, attempt: SignInAttempt) -> Account:
        """The account whose email and password these are.

        Throttled first (:class:`SignInThrottledError`, before any password is checked),
        then one :class:`SignInFailedError` for an unknown address, a wrong password or a
        disabled account. An account whose address is not yet confirmed is returned all the
        same, with ``email_verified`` False. A hash made with older parameters is replaced
        with one made with the current ones (ASVS 2.4.x).
        """
        try:
            address = normalise_email(email)
        except InvalidEmailError:
            address = email.strip()  # no account has it, but it is throttled like any other
        account = await self._store.find_by_email(address)
        device_id = self._device_id(attempt.device, account.id) if account else None
        admission = await self._throttle.admit(email_digest(address), attempt.ip, device_id)
        stored = await self._store.password_hash(account.id) if account else None
        if account is None or stored is None or not could_be_password(password):
            await self._hasher.burn()
            raise SignInFailedError
        if not await self._hasher.verify(stored, password) or account.disabled:
            raise SignInFailedError
        await self._throttle.succeeded(admission)
        if self._hasher.needs_rehash(stored):
            # Compare-and-set: a password reset that landed meanwhile is never overwritten.
            fresh = await self._hasher.hash(password)
            await self._store.set_password(account.id, fresh, replacing=stored)
        return account

    async def reauthenticate(self, account: Account, password: str) -> None:
        """The current password of a signed-in person (before a sensitive change), behind
        the account's second-step throttle; :class:`IncorrectPasswordError` if wrong."""
        await self._throttle.admit_step(account.id)
        stored = await self._store.password_hash(account.id)
        if stored is None or not could_be_password(password):
            await self._hasher.burn()
            raise IncorrectPasswordError
        if not await self._hasher.verify(stored, password):
            raise IncorrectPasswordError
        await self._throttle.step_succeeded(account.id)

    def issue_device_token(self, account_id: str) -> str:
        """A token for the browser that just signed in fully, sealed to this account (OWASP
        "Slow down online guessing attacks with device cookies"). Presented at a later
        sign-in to the same account, it puts that browser on a counter of its own, so
        failures from elsewhere do not delay it. It grants nothing else."""
        payload = {"iat": int(self._clock.now().timestamp()), "id": secrets.token_hex(8)}
        return self._box.seal(json.dumps(payload).encode(), context=device_context(account_id))

    def _device_id(self, token: str | None, account_id: str) -> str | None:
        """The device's id if ``token`` is a live device token of this account, else None."""
        if not token or len(token) > _MAX_DEVICE_TOKEN_LENGTH:
            return None
        try:
            payload = json.loads(self._box.open(token, context=device_context(account_id)))
            issued = datetime.fromtimestamp(int(payload["iat"]), UTC)
            device_id = str(payload["id"])
        except (UnsealError, ValueError, KeyError, TypeError):
            return None
        age = (self._clock.now() - issued).total_seconds()
        if not -_CLOCK_SKEW_SECONDS <= age <= DEVICE_TOKEN_MAX_AGE_SECONDS:
            return None
        return device_id if device_id.isalnum() else None
