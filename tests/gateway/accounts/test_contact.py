"""Changing the email address (a code to the new one, the old one told, the index moved) and
the mobile number."""

from __future__ import annotations

import pytest

from gateway.accounts.errors import (
    IncorrectPasswordError,
    InvalidCodeError,
    InvalidEmailError,
    InvalidPhoneError,
    SignInFailedError,
)
from gateway.accounts.models import Account, SignInAttempt
from gateway.accounts.services import AccountService
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.support import (
    PASSWORD,
    CollectingNotifier,
    new_email,
    new_ip,
    wrong_code,
)
from tests.support.evidence import recorded


async def _account(accounts: AccountService) -> Account:
    return await accounts.create(
        new_email(), PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )


async def test_an_email_change_moves_the_account_and_tells_the_old_address(
    accounts: AccountService, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    account = await _account(accounts)
    new = new_email("council.example")
    await accounts.start_email_change(account.id, PASSWORD, new)
    assert notifier.templates(new) == ["email-change-code"]
    assert (await accounts.get(account.id)).email == account.email  # nothing changed yet

    changed = await accounts.confirm_email_change(
        account.id, notifier.last_code(new, "email-change-code")
    )
    assert changed.email == new and changed.email_verified
    assert (await accounts.find_by_email(new)) == changed
    assert await accounts.find_by_email(account.email) is None

    told = notifier.to(account.email, "email-changed")
    assert len(told) == 1
    hint = told[0].personalisation["new_email_hint"]
    assert hint.endswith("@council.example") and new not in hint

    with pytest.raises(SignInFailedError):
        await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    assert (await accounts.authenticate(new, PASSWORD, SignInAttempt(new_ip()))).id == account.id
    # The old address is free for a new account.
    await accounts.register(account.email, "someone else's passphrase")
    assert notifier.templates(account.email)[-1] == "verify-email"
    entries = await recorded(runtime.evidence, "account.email-changed", account.id)
    assert entries and entries[0]["details"] == {}


async def test_an_email_change_needs_the_password_and_a_right_code(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    new = new_email()
    with pytest.raises(IncorrectPasswordError):
        await accounts.start_email_change(account.id, "not my password", new)
    assert notifier.sent == []
    await accounts.start_email_change(account.id, PASSWORD, new)
    code = notifier.last_code(new, "email-change-code")
    with pytest.raises(InvalidCodeError):
        await accounts.confirm_email_change(account.id, wrong_code(code))
    with pytest.raises(InvalidEmailError):
        await accounts.start_email_change(account.id, PASSWORD, account.email.upper())


async def test_changing_to_an_address_with_an_account_reveals_nothing_and_cannot_finish(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account, other = await _account(accounts), await _account(accounts)
    free = new_email()
    # The same outcome (no return value, no error) whether or not the address is taken.
    await accounts.start_email_change(account.id, PASSWORD, other.email)
    await accounts.start_email_change(account.id, PASSWORD, free)
    assert notifier.templates(other.email) == ["account-exists"]
    assert notifier.templates(free) == ["email-change-code"]

    # Starting again towards the taken address drops the earlier pending change as well.
    code = notifier.last_code(free, "email-change-code")
    await accounts.start_email_change(account.id, PASSWORD, other.email)
    with pytest.raises(InvalidCodeError):
        await accounts.confirm_email_change(account.id, code)
    assert (await accounts.find_by_email(other.email)) == other


async def test_a_mobile_number_is_confirmed_by_text_and_then_gets_sign_in_codes(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    await accounts.start_phone_change(account.id, PASSWORD, "07700 900 123")
    [text] = notifier.to("+447700900123")
    assert text.channel is Channel.SMS and text.template == "sign-in-code"

    changed = await accounts.confirm_phone_change(account.id, text.personalisation["code"])
    assert changed.phone == "+447700900123" and changed.phone_verified

    await accounts.send_sign_in_code(account.id, Channel.SMS)
    code = notifier.last_code("+447700900123", "sign-in-code")
    assert await accounts.verify_sign_in_code(account.id, code)


@pytest.mark.parametrize("phone", ["12345", "07700 90012", "+44 7700 900 1234", "phone"])
async def test_a_number_that_is_not_a_mobile_number_is_refused(
    accounts: AccountService, phone: str
) -> None:
    account = await _account(accounts)
    with pytest.raises(InvalidPhoneError):
        await accounts.start_phone_change(account.id, PASSWORD, phone)
