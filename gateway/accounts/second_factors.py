"""Second factors: an authenticator app (TOTP, RFC 6238), recovery codes, and a one-time code
sent by email or text message (NIST SP 800-63B §5.1.3 out-of-band, through the Notifier).

Every check is behind the account's second-step throttle, so six-digit codes cannot be
guessed online: after a few wrong codes each further try waits longer (up to the account
cap). A refused try raises :class:`~gateway.accounts.errors.SignInThrottledError` rather than
returning False, so the page can say how long to wait.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.accounts import totp
from gateway.accounts.codes import OneTimeCodes
from gateway.accounts.errors import (
    AccountNotVerifiedError,
    InvalidCodeError,
    SecondFactorStateError,
)
from gateway.accounts.models import Account, CodePurpose, RecoveryCodes, TotpEnrolment
from gateway.accounts.records import AccountRecords, self_actor
from gateway.accounts.store import Versioned
from gateway.accounts.throttle import SignInThrottle
from gateway.admin.models import Actor
from gateway.core.secretbox import SecretBox
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier

PENDING_TOTP_SECONDS = 600


def totp_context(account_id: str) -> str:
    """What a TOTP secret is sealed for: this account's authenticator, nothing else."""
    return f"totp:{account_id}"


class SecondFactors:
    def __init__(
        self,
        records: AccountRecords,
        codes: OneTimeCodes,
        throttle: SignInThrottle,
        box: SecretBox,
        notifier: Notifier,
    ) -> None:
        self._records = records
        self._store = records.store
        self._codes = codes
        self._throttle = throttle
        self._box = box
        self._notifier = notifier

    # --- authenticator app -----------------------------------------------------------------

    async def begin_totp(self, account_id: str) -> TotpEnrolment:
        """A new secret to scan, kept sealed for ten minutes until a code confirms it. Each
        call replaces the pending secret, so a page shown twice leaves only the newest."""
        account = await self._records.get(account_id)
        if not account.email_verified:
            raise AccountNotVerifiedError
        if account.totp_enabled:
            raise SecondFactorStateError(
                "An authenticator app is already set up for this account. To use a new one, "
                "ask for the old one to be removed first."
            )
        secret = totp.new_secret()
        sealed = self._box.seal(secret.encode(), context=totp_context(account_id))
        await self._store.set_pending_totp(account_id, sealed, PENDING_TOTP_SECONDS)
        return totp.enrolment(secret, account.email)

    async def confirm_totp(self, account_id: str, code: str) -> RecoveryCodes:
        """Switch the pending authenticator on once it shows a right code; returns ten new
        recovery codes, shown this once. :class:`InvalidCodeError` for a wrong code or when
        no enrolment is pending (it expired)."""
        await self._records.get(account_id)  # refuses an unknown id before any key is built
        await self._throttle.admit_step(account_id)
        sealed = await self._store.pending_totp(account_id)
        if sealed is None:
            raise InvalidCodeError
        secret = self._box.open(sealed, context=totp_context(account_id)).decode()
        step = totp.matching_step(secret, code, self._records.clock.now())
        if step is None:
            raise InvalidCodeError
        codes = totp.new_recovery_codes()
        digests = tuple(totp.recovery_digest(account_id, c) for c in codes.codes)

        def enable(account: Account) -> Account:
            if account.totp_enabled:
                raise SecondFactorStateError(
                    "An authenticator app is already set up for this account."
                )
            return replace(account, totp_enabled=True)

        async def write(read: Versioned, after: Account) -> bool:
            return await self._store.set_totp(
                read, after, sealed=sealed, step=step, recovery_digests=digests
            )

        await self._records.change(account_id, enable, write)
        await self._throttle.step_succeeded(account_id)
        await self._records.record(self_actor(account_id), "account.totp-enabled", account_id)
        return codes

    async def verify_totp(self, account_id: str, code: str) -> bool:
        """True for a right code from the current step or one either side that is later than
        the last code accepted (RFC 6238 §5.2: each code once, never an older one)."""
        account = await self._records.get(account_id)
        await self._throttle.admit_step(account_id)
        sealed = await self._store.totp_secret(account_id)
        if account.disabled or not account.totp_enabled or sealed is None:
            return False
        secret = self._box.open(sealed, context=totp_context(account_id)).decode()
        step = totp.matching_step(secret, code, self._records.clock.now())
        if step is None or not await self._store.accept_totp_step(account_id, sealed, step):
            return False
        await self._throttle.step_succeeded(account_id)
        return True

    # --- recovery codes --------------------------------------------------------------------

    async def use_recovery_code(self, account_id: str, code: str) -> bool:
        """True once per recovery code: the digest is removed atomically as it is checked."""
        account = await self._records.get(account_id)
        await self._throttle.admit_step(account_id)
        if account.disabled:
            return False
        if not await self._store.use_recovery_code(
            account_id, totp.recovery_digest(account_id, code)
        ):
            return False
        await self._throttle.step_succeeded(account_id)
        left = await self._store.recovery_codes_left(account_id)
        await self._records.record(
            self_actor(account_id), "account.recovery-code-used", account_id, {"remaining": left}
        )
        return True

    async def regenerate_recovery_codes(self, account_id: str) -> RecoveryCodes:
        """Ten new codes; every earlier code stops working."""
        account = await self._records.get(account_id)
        if not account.totp_enabled:
            raise SecondFactorStateError(
                "Recovery codes go with an authenticator app; set one up first."
            )
        codes = totp.new_recovery_codes()
        digests = tuple(totp.recovery_digest(account_id, c) for c in codes.codes)
        await self._store.replace_recovery_codes(account_id, digests)
        await self._records.record(
            self_actor(account_id), "account.recovery-codes-regenerated", account_id
        )
        return codes

    async def remaining_recovery_codes(self, account_id: str) -> int:
        await self._records.get(account_id)
        return await self._store.recovery_codes_left(account_id)

    async def reset_mfa(self, account_id: str, actor: Actor) -> Account:
        """Remove the authenticator app, its recovery codes and any pending enrolment: what
        support does when a person has lost their phone and their codes."""

        async def write(read: Versioned, after: Account) -> bool:
            return await self._store.set_totp(read, after, sealed=None)

        before, after = await self._records.change(
            account_id, lambda a: replace(a, totp_enabled=False), write, force=True
        )
        await self._codes.discard(account_id, CodePurpose.SIGN_IN)
        await self._records.record(
            str(actor), "account.mfa-reset", account_id, {"totp_was_enabled": before.totp_enabled}
        )
        return after

    # --- codes by email or text message ----------------------------------------------------

    async def send_sign_in_code(self, account_id: str, channel: Channel) -> None:
        """Send a sign-in code to the account's email address, or by text message to its
        confirmed mobile number. Limited per recipient and per account."""
        account = await self._records.get(account_id)
        if channel is Channel.SMS:
            if account.phone is None or not account.phone_verified:
                raise SecondFactorStateError(
                    "This account has no confirmed mobile number to text a code to."
                )
            to = account.phone
            await self._codes.count_phone(to)
        else:
            to = account.email
            await self._codes.count_email(to)
        await self._codes.count_account(account_id)
        code = await self._codes.issue(account_id, CodePurpose.SIGN_IN)
        await self._notifier.send(Notification(channel, to, "sign-in-code", {"code": code}))

    async def verify_sign_in_code(self, account_id: str, code: str) -> bool:
        """True once for the live sign-in code; wrong tries count, and too many kill it."""
        account = await self._records.get(account_id)
        await self._throttle.admit_step(account_id)
        if account.disabled:
            return False
        used, _ = await self._codes.use(account_id, CodePurpose.SIGN_IN, code)
        if used:
            await self._throttle.step_succeeded(account_id)
        return used
