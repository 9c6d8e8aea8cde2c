"""Registration with an emailed code, and one-time codes: the same outcome for an address
with or without an account (no enumeration), codes that expire, die after too many tries and
work once, and a limit on how many are sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.accounts.errors import (
    CodeSendLimitError,
    InvalidCodeError,
    InvalidEmailError,
    WeakPasswordError,
)
from gateway.accounts.services import AccountService
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.support import PASSWORD, CollectingNotifier, new_email, wrong_code
from tests.support.clock import MovableClock
from tests.support.evidence import recorded


async def _outcome(call: Any) -> tuple[object, type[BaseException] | None, str | None]:
    """What a caller can observe: the return value, or the error's type and message."""
    try:
        return await call, None, None
    except Exception as exc:
        return None, type(exc), str(exc)


async def test_registering_sends_a_code_that_confirms_the_address(
    accounts: AccountService, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    account = await accounts.find_by_email(email)
    assert account is not None and not account.email_verified and account.id.startswith("acc_")

    verified = await accounts.verify_email(email, notifier.last_code(email, "verify-email"))
    assert verified.id == account.id and verified.email_verified
    assert (await accounts.get(account.id)).email_verified
    entries = await recorded(runtime.evidence, "account.email-verified", account.id)
    assert [e["actor"] for e in entries] == [f"account:{account.id}"]


async def test_registering_a_known_or_an_unknown_address_looks_the_same(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    known = new_email()
    await accounts.create(known, PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR)
    unknown = new_email()

    assert await _outcome(accounts.register(known, "another good passphrase")) == (
        await _outcome(accounts.register(unknown, "another good passphrase"))
    )
    assert notifier.templates(known) == ["account-exists"]
    assert notifier.to(known)[0].personalisation == {}
    assert notifier.templates(unknown) == ["verify-email"]

    # A refusal says nothing about the address either.
    weak_known = await _outcome(accounts.register(known, "password1"))
    weak_unknown = await _outcome(accounts.register(new_email(), "password1"))
    assert weak_known == weak_unknown and weak_known[1] is WeakPasswordError


async def test_the_address_is_one_account_whatever_its_case(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await accounts.register(email.replace("person", "Person").replace(".com", ".COM"), PASSWORD)
    account = await accounts.find_by_email(email)
    assert account is not None
    assert account.email == email.replace("person", "Person")  # local part kept, domain lowered
    await accounts.register(email, PASSWORD)
    assert notifier.templates(email) == ["account-exists"]


async def test_two_registrations_of_one_address_at_once_make_one_account(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await asyncio.gather(*(accounts.register(email, PASSWORD) for _ in range(4)))
    assert sorted(notifier.templates(email)) == ["account-exists"] * 3 + ["verify-email"]
    assert await accounts.find_by_email(email) is not None


async def test_an_address_that_is_not_one_is_refused_before_anything_happens(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    with pytest.raises(InvalidEmailError):
        await accounts.register("not-an-address", PASSWORD)
    assert notifier.sent == []


async def test_a_code_for_an_address_that_was_never_sent_one_fails_like_a_wrong_code(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    wrong = await _outcome(accounts.verify_email(email, wrong_code(code)))
    never = await _outcome(accounts.verify_email(new_email(), code))
    junk = await _outcome(accounts.verify_email("junk", code))
    assert wrong == never == junk
    assert wrong[1] is InvalidCodeError


async def test_a_code_works_once(accounts: AccountService, notifier: CollectingNotifier) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    await accounts.verify_email(email, code)
    with pytest.raises(InvalidCodeError):
        await accounts.verify_email(email, code)


async def test_a_code_typed_with_spaces_is_accepted(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    assert (await accounts.verify_email(email, f" {code[:3]} {code[3:]} ")).email_verified


async def test_a_code_expires_after_its_lifetime(
    timed: AccountService,
    clock: MovableClock,
    notifier: CollectingNotifier,
    account_settings: Settings,
) -> None:
    assert account_settings.code_ttl_seconds in range(60, 601)  # at most ten minutes
    email = new_email()
    await timed.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    clock.advance(seconds=account_settings.code_ttl_seconds + 1)
    with pytest.raises(InvalidCodeError):
        await timed.verify_email(email, code)


async def test_a_code_still_works_just_before_it_expires(
    timed: AccountService,
    clock: MovableClock,
    notifier: CollectingNotifier,
    account_settings: Settings,
) -> None:
    email = new_email()
    await timed.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    clock.advance(seconds=account_settings.code_ttl_seconds - 1)
    assert (await timed.verify_email(email, code)).email_verified


async def test_a_code_dies_after_too_many_wrong_tries(
    accounts: AccountService, notifier: CollectingNotifier, account_settings: Settings
) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    for _ in range(account_settings.code_max_attempts):
        with pytest.raises(InvalidCodeError):
            await accounts.verify_email(email, wrong_code(code))
    with pytest.raises(InvalidCodeError):
        await accounts.verify_email(email, code)


async def test_a_new_code_replaces_the_old_one(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await accounts.register(email, PASSWORD)
    first = notifier.last_code(email, "verify-email")
    await accounts.resend_verification(email)
    second = notifier.last_code(email, "verify-email")
    if first != second:
        with pytest.raises(InvalidCodeError):
            await accounts.verify_email(email, first)
    assert (await accounts.verify_email(email, second)).email_verified


async def test_code_sending_is_limited_per_address_the_same_way_whether_known_or_not(
    accounts: AccountService, notifier: CollectingNotifier, account_settings: Settings
) -> None:
    known, unknown = new_email(), new_email()
    await accounts.register(known, PASSWORD)
    for _ in range(account_settings.code_send_limit - 1):
        await accounts.resend_verification(known)
        await accounts.resend_verification(unknown)
    await accounts.resend_verification(unknown)  # the unknown address has had one less
    assert len(notifier.to(known)) == account_settings.code_send_limit
    assert notifier.to(unknown) == []

    refused_known = await _outcome(accounts.resend_verification(known))
    refused_unknown = await _outcome(accounts.resend_verification(unknown))
    assert refused_known[1] is refused_unknown[1] is CodeSendLimitError
    with pytest.raises(CodeSendLimitError) as refused:
        await accounts.register(known, PASSWORD)
    assert refused.value.retry_after_seconds in range(
        1, account_settings.code_send_window_seconds + 1
    )
    assert len(notifier.to(known)) == account_settings.code_send_limit


async def test_resending_to_a_verified_address_sends_nothing(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    email = new_email()
    await accounts.create(email, PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR)
    await accounts.resend_verification(email)
    assert notifier.sent == []
