"""People's accounts: registration, sign-in, password and email changes, deletion, and the
operator's tools. Second factors live in :mod:`gateway.accounts.second_factors`; this service
offers them too, so callers need one object.

No enumeration (OWASP ASVS 2.2.x, WSTG-IDNT-04): registration, password reset and sign-in
return the same result, raise the same error and spend similar time whether or not an
address has an account. Where the known case hashes a password the unknown case burns one,
and the person at the address is told by email instead ("account-exists").

Numbers (throttle delays, code lifetimes and limits) come from :class:`Settings`, so the
service and the operator's configuration cannot drift apart.

Multi-slot changes (an account and the email index) are ordered single-slot steps; see
:mod:`gateway.accounts.store` for why each order is safe to retry.

The parts: :mod:`~gateway.accounts.signin` (password sign-in, device tokens, re-entry),
:mod:`~gateway.accounts.second_factors`, :mod:`~gateway.accounts.contact` (email and phone
changes), :mod:`~gateway.accounts.codes` (one-time codes and send limits) and
:mod:`~gateway.accounts.throttle`.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.accounts import totp
from gateway.accounts.codes import OneTimeCodes
from gateway.accounts.contact import ContactChanges
from gateway.accounts.errors import (
    AccountNotFoundError,
    EmailInUseError,
    InvalidCodeError,
    InvalidEmailError,
)
from gateway.accounts.models import (
    ID_PREFIX,
    Account,
    CodePurpose,
    RecoveryCodes,
    SignInAttempt,
    TotpEnrolment,
    normalise_email,
)
from gateway.accounts.passwords import PasswordHasher, check_password
from gateway.accounts.records import AccountRecords, self_actor
from gateway.accounts.second_factors import SecondFactors, totp_context
from gateway.accounts.signin import PasswordSignIn
from gateway.accounts.store import AccountStore
from gateway.accounts.throttle import Backoff, SignInThrottle
from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.secretbox import SecretBox
from gateway.core.settings import Settings
from gateway.evidence.services import EvidenceLog
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier


class AccountService:
    """Everything about people's accounts, for the pages, the admin API and the CLI.

    Built from the account store, the clock, the password hasher (its own thread pool), the
    notifier (email and text messages), the evidence log, the secret box (TOTP secrets and
    device tokens at rest) and the settings, from which it takes the throttle and code
    numbers (``signin_*``, ``code_*``) rather than separate arguments.
    """

    def __init__(
        self,
        store: AccountStore,
        clock: Clock,
        hasher: PasswordHasher,
        notifier: Notifier,
        evidence: EvidenceLog,
        box: SecretBox,
        *,
        settings: Settings,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self._notifier = notifier
        self._box = box
        self._records = AccountRecords(store, clock, evidence)
        self._codes = OneTimeCodes(store, clock, settings)
        self._throttle = SignInThrottle(
            store.redis,
            clock,
            account=Backoff(
                settings.signin_free_failures,
                settings.signin_base_delay_seconds,
                settings.signin_account_max_delay_seconds,
            ),
            client=Backoff(
                settings.signin_ip_free_failures,
                settings.signin_base_delay_seconds,
                settings.signin_ip_max_delay_seconds,
            ),
        )
        self._signin = PasswordSignIn(store, clock, hasher, self._throttle, box)
        self._factors = SecondFactors(self._records, self._codes, self._throttle, box, notifier)
        self._contact = ContactChanges(self._records, self._codes, self._signin, notifier)

    # --- registration ----------------------------------------------------------------------

    async def register(self, email: str, password: str) -> None:
        """Start an account: an unverified account and a code to the address, or, when the
        address has an account, an "account-exists" email to it instead. The caller cannot
        tell which happened.

        :class:`WeakPasswordError` and :class:`InvalidEmailError` come first and say nothing
        about the address; :class:`CodeSendLimitError` counts every request to the address,
        whichever email it led to.
        """
        address = normalise_email(email)
        check_password(password, email=address)
        await self._codes.count_email(address)
        if await self._store.find_by_email(address) is not None:
            await self._hasher.burn()
            await self._notify_exists(address)
            return
        now = self._clock.now()
        account = Account(
            id=new_id(ID_PREFIX),
            email=address,
            email_verified=False,
            created_at=now,
            updated_at=now,
        )
        if not await self._store.create(account, await self._hasher.hash(password)):
            await self._notify_exists(address)  # another registration won the address
            return
        await self._records.record(self_actor(account.id), "account.registered", account.id)
        await self._send_code(account, CodePurpose.VERIFY_EMAIL, "verify-email")

    async def verify_email(self, email: str, code: str) -> Account:
        """Mark the address confirmed with the code sent to it; :class:`InvalidCodeError` for
        a wrong, expired or used code, and for an address that was never sent one."""
        account = await self.find_by_email(email)
        if account is None:
            raise InvalidCodeError
        used, _ = await self._codes.use(account.id, CodePurpose.VERIFY_EMAIL, code)
        if not used:
            raise InvalidCodeError
        _, after = await self._records.change(account.id, lambda a: replace(a, email_verified=True))
        if not account.email_verified:
            await self._records.record(self_actor(account.id), "account.email-verified", account.id)
        return after

    async def resend_verification(self, email: str) -> None:
        """A fresh code for an unverified account; nothing at all for any other address (and
        the same outcome, limit included)."""
        address = normalise_email(email)
        await self._codes.count_email(address)
        account = await self._store.find_by_email(address)
        if account is not None and not account.email_verified:
            await self._send_code(account, CodePurpose.VERIFY_EMAIL, "verify-email")

    # --- sign-in ---------------------------------------------------------------------------

    async def authenticate(self, email: str, password: str, attempt: SignInAttempt) -> Account:
        """See :meth:`PasswordSignIn.authenticate`: throttled, then one error for every
        failure; an unverified account is returned with ``email_verified`` False."""
        return await self._signin.authenticate(email, password, attempt)

    async def issue_device_token(self, account_id: str) -> str:
        """See :meth:`PasswordSignIn.issue_device_token`: for the device cookie, set after a
        full sign-in."""
        return self._signin.issue_device_token(account_id)

    # --- passwords -------------------------------------------------------------------------

    async def start_password_reset(self, email: str) -> None:
        """Email a reset code to the address if it has an enabled account; the same outcome
        otherwise."""
        address = normalise_email(email)
        await self._codes.count_email(address)
        account = await self._store.find_by_email(address)
        if account is not None and not account.disabled:
            # NOTE: only the known case hands a message to the notifier. In production that
            # is one fsynced write to the notification queue (gateway.notify.queue), never an
            # HTTP call, so the two cases differ by one local write (about a millisecond,
            # within network jitter); sending to an address without an account is no option.
            await self._send_code(account, CodePurpose.RESET_PASSWORD, "reset-password")

    async def reset_password(self, email: str, code: str, new_password: str) -> Account:
        """Set a new password with the emailed code. The address is then confirmed (the code
        proved it) and the sign-in delays on it are cleared. Signed-in sessions are the
        caller's to end."""
        check_password(new_password, email=email.strip())
        account = await self.find_by_email(email)
        if account is None:
            raise InvalidCodeError
        used, _ = await self._codes.use(account.id, CodePurpose.RESET_PASSWORD, code)
        if not used:
            raise InvalidCodeError
        await self._store.set_password(account.id, await self._hasher.hash(new_password))
        _, after = await self._records.change(account.id, lambda a: replace(a, email_verified=True))
        await self._throttle.reset_email(account.email_key)
        await self._notifier.send(Notification(Channel.EMAIL, after.email, "password-changed", {}))
        await self._records.record(self_actor(account.id), "account.password-reset", account.id)
        return after

    async def change_password(self, account_id: str, current: str, new: str) -> None:
        """Change the password of a signed-in person who re-enters the current one."""
        account = await self._records.get(account_id)
        check_password(new, email=account.email)
        await self._signin.reauthenticate(account, current)
        await self._store.set_password(account_id, await self._hasher.hash(new))
        await self._codes.discard(account_id, CodePurpose.RESET_PASSWORD)
        await self._notifier.send(
            Notification(Channel.EMAIL, account.email, "password-changed", {})
        )
        await self._records.record(self_actor(account_id), "account.password-changed", account_id)

    # --- contact details (see ContactChanges) -----------------------------------------------

    async def start_email_change(self, account_id: str, password: str, new_email: str) -> None:
        await self._contact.start_email_change(account_id, password, new_email)

    async def confirm_email_change(self, account_id: str, code: str) -> Account:
        return await self._contact.confirm_email_change(account_id, code)

    async def start_phone_change(self, account_id: str, password: str, phone: str) -> None:
        await self._contact.start_phone_change(account_id, password, phone)

    async def confirm_phone_change(self, account_id: str, code: str) -> Account:
        return await self._contact.confirm_phone_change(account_id, code)

    # --- deletion --------------------------------------------------------------------------

    async def delete(self, account_id: str, password: str) -> None:
        """Delete the account and everything kept for it, after the password; the address can
        then register again. The account goes first, then its index entry, so a crash
        between leaves only an entry that no longer counts."""
        account = await self._records.get(account_id)
        await self._signin.reauthenticate(account, password)
        await self._store.delete(account_id)
        await self._store.release_email(account.email, account_id)
        await self._records.record(self_actor(account_id), "account.deleted", account_id)

    # --- operators -------------------------------------------------------------------------

    async def create(
        self,
        email: str,
        password: str,
        *,
        verified: bool,
        totp_secret: str | None,
        actor: Actor,
    ) -> Account:
        """Create an account directly (CLI, admin API, demo data). :class:`EmailInUseError`
        when the address is taken: an operator may know that."""
        address = normalise_email(email)
        check_password(password, email=address)
        secret = totp.normalise_secret(totp_secret) if totp_secret else None
        now = self._clock.now()
        account = Account(
            id=new_id(ID_PREFIX),
            email=address,
            email_verified=verified,
            created_at=now,
            updated_at=now,
            totp_enabled=secret is not None,
        )
        sealed = (
            self._box.seal(secret.encode(), context=totp_context(account.id)) if secret else None
        )
        if not await self._store.create(account, await self._hasher.hash(password), sealed):
            raise EmailInUseError(f"An account already has the email address {address}.")
        details = {"email_verified": verified, "totp_enabled": secret is not None}
        await self._records.record(str(actor), "account.created", account.id, details)
        return account

    async def get(self, account_id: str) -> Account:
        """:class:`AccountNotFoundError` for an unknown id."""
        return await self._records.get(account_id)

    async def find_by_email(self, email: str) -> Account | None:
        """The account holding the address, or None (also for a string that is not one)."""
        try:
            return await self._store.find_by_email(normalise_email(email))
        except InvalidEmailError:
            return None

    async def find(self, id_or_email: str) -> Account:
        """By id (``acc_…``) or email address, for operators; :class:`AccountNotFoundError`."""
        if looks_like_id(id_or_email, ID_PREFIX):
            return await self.get(id_or_email)
        account = await self.find_by_email(id_or_email)
        if account is None:
            raise AccountNotFoundError("No account has that email address.")
        return account

    async def disable(self, account_id: str, actor: Actor) -> Account:
        """Refuse every sign-in from now on; the caller ends the account's sessions."""
        return await self._set_disabled(account_id, actor, disabled=True)

    async def enable(self, account_id: str, actor: Actor) -> Account:
        return await self._set_disabled(account_id, actor, disabled=False)

    async def reset_mfa(self, account_id: str, actor: Actor) -> Account:
        return await self._factors.reset_mfa(account_id, actor)

    # --- second factors (see SecondFactors) --------------------------------------------------

    async def begin_totp(self, account_id: str) -> TotpEnrolment:
        return await self._factors.begin_totp(account_id)

    async def confirm_totp(self, account_id: str, code: str) -> RecoveryCodes:
        return await self._factors.confirm_totp(account_id, code)

    async def verify_totp(self, account_id: str, code: str) -> bool:
        return await self._factors.verify_totp(account_id, code)

    async def use_recovery_code(self, account_id: str, code: str) -> bool:
        return await self._factors.use_recovery_code(account_id, code)

    async def regenerate_recovery_codes(self, account_id: str) -> RecoveryCodes:
        return await self._factors.regenerate_recovery_codes(account_id)

    async def remaining_recovery_codes(self, account_id: str) -> int:
        return await self._factors.remaining_recovery_codes(account_id)

    async def send_sign_in_code(self, account_id: str, channel: Channel) -> None:
        await self._factors.send_sign_in_code(account_id, channel)

    async def verify_sign_in_code(self, account_id: str, code: str) -> bool:
        return await self._factors.verify_sign_in_code(account_id, code)

    # --- helpers ---------------------------------------------------------------------------

    async def _send_code(self, account: Account, purpose: CodePurpose, template: str) -> None:
        code = await self._codes.issue(account.id, purpose)
        await self._notifier.send(
            Notification(Channel.EMAIL, account.email, template, {"code": code})
        )

    async def _notify_exists(self, address: str) -> None:
        await self._notifier.send(Notification(Channel.EMAIL, address, "account-exists", {}))

    async def _set_disabled(self, account_id: str, actor: Actor, *, disabled: bool) -> Account:
        before, after = await self._records.change(
            account_id, lambda a: replace(a, disabled=disabled)
        )
        if before.disabled != after.disabled:
            action = "account.disabled" if disabled else "account.enabled"
            await self._records.record(str(actor), action, account_id)
        return after
