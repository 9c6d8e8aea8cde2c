"""Changing the email address (which needs signing in again) and the mobile number.

Both send a code to the *new* address or number and change nothing until it comes back
(ASVS 2.5.x / OWASP: verify ownership of a new contact before using it), after the person
has re-entered their password. The old address is told when the email address changes.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.accounts.codes import OneTimeCodes
from gateway.accounts.errors import EmailInUseError, InvalidCodeError, InvalidEmailError
from gateway.accounts.models import (
    Account,
    CodePurpose,
    email_digest,
    email_hint,
    normalise_email,
    normalise_phone,
)
from gateway.accounts.records import AccountRecords, self_actor
from gateway.accounts.signin import PasswordSignIn
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier


class ContactChanges:
    def __init__(
        self,
        records: AccountRecords,
        codes: OneTimeCodes,
        signin: PasswordSignIn,
        notifier: Notifier,
    ) -> None:
        self._records = records
        self._store = records.store
        self._codes = codes
        self._signin = signin
        self._notifier = notifier

    async def start_email_change(self, account_id: str, password: str, new_email: str) -> None:
        """Send a code to the new address, after the current password.

        If another account holds the new address, that address gets "account-exists" and
        no code: the outcome here is the same, and :meth:`confirm_email_change` can only
        fail, so this cannot be used to learn which addresses have accounts.
        """
        account = await self._records.get(account_id)
        address = normalise_email(new_email)
        if email_digest(address) == account.email_key:
            raise InvalidEmailError("That is already the email address of this account.")
        await self._signin.reauthenticate(account, password)
        await self._codes.count_email(address)
        await self._codes.count_account(account_id)
        if await self._store.find_by_email(address) is not None:
            await self._codes.discard(account_id, CodePurpose.EMAIL_CHANGE)
            await self._notifier.send(Notification(Channel.EMAIL, address, "account-exists", {}))
            return
        code = await self._codes.issue(account_id, CodePurpose.EMAIL_CHANGE, target=address)
        await self._notifier.send(
            Notification(Channel.EMAIL, address, "email-change-code", {"code": code})
        )

    async def confirm_email_change(self, account_id: str, code: str) -> Account:
        """Move the account to the new address with the code sent there, and tell the old
        address. Ordered steps, each safe to repeat: use the code; claim the new index entry;
        change the record; release the old entry (an entry whose account has moved on no
        longer counts, so a crash between steps leaves nothing wrong). The caller ends every
        session: the person signs in again.

        :class:`EmailInUseError` if the address was taken since the code was sent: safe to
        say here, as the caller has just proven they hold that address.
        """
        account = await self._records.get(account_id)
        used, target = await self._codes.use(account_id, CodePurpose.EMAIL_CHANGE, code)
        if not used or target is None:
            raise InvalidCodeError
        if not await self._store.claim_email(target, account_id):
            raise EmailInUseError("That email address now belongs to another account.")
        before, after = await self._records.change(
            account_id, lambda a: replace(a, email=target, email_verified=True)
        )
        if before.email_key != after.email_key:
            await self._store.release_email(before.email, account_id)
        await self._notifier.send(
            Notification(
                Channel.EMAIL,
                account.email,
                "email-changed",
                {"new_email_hint": email_hint(target)},
            )
        )
        await self._records.record(self_actor(account_id), "account.email-changed", account_id)
        return after

    async def start_phone_change(self, account_id: str, password: str, phone: str) -> None:
        """Text a code to a new mobile number (for sign-in codes), after the password. The
        text uses the "sign-in-code" template, whose wording ("your security code") fits."""
        account = await self._records.get(account_id)
        number = normalise_phone(phone)
        await self._signin.reauthenticate(account, password)
        await self._codes.count_phone(number)
        await self._codes.count_account(account_id)
        code = await self._codes.issue(account_id, CodePurpose.PHONE_CHANGE, target=number)
        await self._notifier.send(Notification(Channel.SMS, number, "sign-in-code", {"code": code}))

    async def confirm_phone_change(self, account_id: str, code: str) -> Account:
        """Confirm the new mobile number with the code texted to it."""
        await self._records.get(account_id)
        used, number = await self._codes.use(account_id, CodePurpose.PHONE_CHANGE, code)
        if not used or number is None:
            raise InvalidCodeError
        _, after = await self._records.change(
            account_id, lambda a: replace(a, phone=number, phone_verified=True)
        )
        await self._records.record(self_actor(account_id), "account.phone-changed", account_id)
        return after
