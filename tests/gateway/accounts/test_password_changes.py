"""Password reset by emailed code (the same outcome for any address) and password change."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.accounts.errors import (
    IncorrectPasswordError,
    InvalidCodeError,
    SignInFailedError,
    SignInThrottledError,
    WeakPasswordError,
)
from gateway.accounts.models import Account, SignInAttempt
from gateway.accounts.services import AccountService
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

NEW_PASSWORD = "a brand new passphrase"


async def _account(accounts: AccountService, *, verified: bool = True) -> Account:
    return await accounts.create(
        new_email(), PASSWORD, verified=verified, totp_secret=None, actor=TEST_ACTOR
    )


async def _outcome(call: Any) -> tuple[object, type[BaseException] | None, str | None]:
    try:
        return await call, None, None
    except Exception as exc:
        return None, type(exc), str(exc)


async def test_starting_a_reset_looks_the_same_for_any_address(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    unknown = new_email()
    assert await _outcome(accounts.start_password_reset(account.email)) == await _outcome(
        accounts.start_password_reset(unknown)
    )
    assert notifier.templates(account.email) == ["reset-password"]
    assert notifier.to(unknown) == []


async def test_a_reset_code_sets_a_new_password_and_the_old_one_stops_working(
    accounts: AccountService, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    account = await _account(accounts)
    await accounts.start_password_reset(account.email)
    code = notifier.last_code(account.email, "reset-password")

    reset = await accounts.reset_password(account.email, code, NEW_PASSWORD)
    assert reset.id == account.id
    assert notifier.templates(account.email)[-1] == "password-changed"
    with pytest.raises(SignInFailedError):
        await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    await accounts.authenticate(account.email, NEW_PASSWORD, SignInAttempt(new_ip()))
    with pytest.raises(InvalidCodeError):  # used once
        await accounts.reset_password(account.email, code, "yet another passphrase")
    assert await recorded(runtime.evidence, "account.password-reset", account.id)


async def test_a_reset_with_a_wrong_code_fails_like_one_for_an_unknown_address(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    await accounts.start_password_reset(account.email)
    code = notifier.last_code(account.email, "reset-password")
    wrong = await _outcome(accounts.reset_password(account.email, wrong_code(code), NEW_PASSWORD))
    unknown = await _outcome(accounts.reset_password(new_email(), code, NEW_PASSWORD))
    assert wrong == unknown and wrong[1] is InvalidCodeError


async def test_a_weak_new_password_is_refused_before_the_code_is_used(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    await accounts.start_password_reset(account.email)
    code = notifier.last_code(account.email, "reset-password")
    with pytest.raises(WeakPasswordError):
        await accounts.reset_password(account.email, code, "short")
    await accounts.reset_password(account.email, code, NEW_PASSWORD)


async def test_a_reset_confirms_the_address_and_lifts_the_delay_on_it(
    timed: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(timed, verified=False)
    for _ in range(3):
        with pytest.raises(SignInFailedError):
            await timed.authenticate(account.email, "wrong guess!", SignInAttempt(new_ip()))
    with pytest.raises(SignInThrottledError):
        await timed.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))

    await timed.start_password_reset(account.email)
    code = notifier.last_code(account.email, "reset-password")
    assert (await timed.reset_password(account.email, code, NEW_PASSWORD)).email_verified
    signed_in = await timed.authenticate(account.email, NEW_PASSWORD, SignInAttempt(new_ip()))
    assert signed_in.email_verified


async def test_a_disabled_account_is_sent_no_reset_code(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    await accounts.disable(account.id, TEST_ACTOR)
    await accounts.start_password_reset(account.email)
    assert notifier.to(account.email) == []


async def test_changing_the_password_needs_the_current_one(
    accounts: AccountService, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    account = await _account(accounts)
    with pytest.raises(IncorrectPasswordError) as wrong:
        await accounts.change_password(account.id, "not my password", NEW_PASSWORD)
    assert isinstance(wrong.value, SignInFailedError)  # pages handle both alike
    with pytest.raises(WeakPasswordError):
        await accounts.change_password(account.id, PASSWORD, "password1")
    assert notifier.sent == []

    await accounts.change_password(account.id, PASSWORD, NEW_PASSWORD)
    assert notifier.templates(account.email) == ["password-changed"]
    await accounts.authenticate(account.email, NEW_PASSWORD, SignInAttempt(new_ip()))
    entries = await recorded(runtime.evidence, "account.password-changed", account.id)
    assert [e["actor"] for e in entries] == [f"account:{account.id}"]


async def test_re_entering_a_password_is_throttled_too(timed: AccountService) -> None:
    account = await _account(timed)
    for _ in range(3):
        with pytest.raises(IncorrectPasswordError):
            await timed.change_password(account.id, "a wrong guess", NEW_PASSWORD)
    with pytest.raises(SignInThrottledError):
        await timed.change_password(account.id, PASSWORD, NEW_PASSWORD)
