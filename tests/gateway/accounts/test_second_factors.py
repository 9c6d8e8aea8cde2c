"""Second factors: TOTP enrolment and codes that work once (RFC 6238 §5.2), single-use
recovery codes, emailed sign-in codes, and the throttle in front of all of them."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from gateway.accounts import totp
from gateway.accounts.errors import (
    AccountNotVerifiedError,
    CodeSendLimitError,
    InvalidCodeError,
    SecondFactorStateError,
    SignInThrottledError,
)
from gateway.accounts.models import Account
from gateway.accounts.services import AccountService
from gateway.accounts.store import AccountStore, pending_totp_key
from gateway.core.settings import Settings
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.support import PASSWORD, CollectingNotifier, new_email, wrong_code
from tests.support.clock import MovableClock
from tests.support.evidence import recorded


async def _account(accounts: AccountService, *, verified: bool = True) -> Account:
    return await accounts.create(
        new_email(), PASSWORD, verified=verified, totp_secret=None, actor=TEST_ACTOR
    )


def _now_code(secret: str, clock: MovableClock, steps: int = 0) -> str:
    return totp.code_at(secret, totp.time_step(clock.now()) + steps)


async def _enrolled(timed: AccountService, clock: MovableClock) -> tuple[Account, str]:
    account = await _account(timed)
    enrolment = await timed.begin_totp(account.id)
    await timed.confirm_totp(account.id, _now_code(enrolment.secret, clock))
    clock.advance(seconds=3 * totp.STEP_SECONDS)  # past the step the enrolment used
    return account, enrolment.secret


async def test_enrolment_shows_a_qr_code_and_the_secret_for_typing(
    accounts: AccountService, store: AccountStore
) -> None:
    account = await _account(accounts)
    enrolment = await accounts.begin_totp(account.id)

    assert len(enrolment.secret) == 32 and enrolment.secret.isalnum()  # 160 bits of base32
    assert enrolment.secret_groups.replace(" ", "") == enrolment.secret
    uri = urlsplit(enrolment.uri)
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert unquote(uri.path) == f"/GovConnect:{account.email}"
    assert query["issuer"] == ["GovConnect"] and query["secret"] == [enrolment.secret]
    assert enrolment.qr_svg.startswith("<svg") and "<?xml" not in enrolment.qr_svg
    assert "<title>" in enrolment.qr_svg and "<script" not in enrolment.qr_svg

    pending = await store.pending_totp(account.id)
    assert pending is not None and enrolment.secret not in pending  # sealed at rest


async def test_enrolling_needs_a_confirmed_address(accounts: AccountService) -> None:
    account = await _account(accounts, verified=False)
    with pytest.raises(AccountNotVerifiedError):
        await accounts.begin_totp(account.id)


async def test_a_right_code_switches_the_app_on_with_ten_recovery_codes(
    timed: AccountService, clock: MovableClock, runtime: Runtime
) -> None:
    account = await _account(timed)
    enrolment = await timed.begin_totp(account.id)
    with pytest.raises(InvalidCodeError):
        await timed.confirm_totp(account.id, wrong_code(_now_code(enrolment.secret, clock)))
    codes = await timed.confirm_totp(account.id, _now_code(enrolment.secret, clock))

    assert len(codes.codes) == 10 and len(set(codes.codes)) == 10
    assert (await timed.get(account.id)).totp_enabled
    assert await timed.remaining_recovery_codes(account.id) == 10
    with pytest.raises(SecondFactorStateError):
        await timed.begin_totp(account.id)
    assert await recorded(runtime.evidence, "account.totp-enabled", account.id)


async def test_an_enrolment_left_too_long_cannot_be_confirmed(
    timed: AccountService, clock: MovableClock, store: AccountStore
) -> None:
    account = await _account(timed)
    enrolment = await timed.begin_totp(account.id)
    await store.redis.delete(pending_totp_key(account.id))  # as when it expires
    with pytest.raises(InvalidCodeError):
        await timed.confirm_totp(account.id, _now_code(enrolment.secret, clock))


async def test_a_totp_code_works_once(timed: AccountService, clock: MovableClock) -> None:
    account, secret = await _enrolled(timed, clock)
    code = _now_code(secret, clock)
    assert await timed.verify_totp(account.id, code)
    assert not await timed.verify_totp(account.id, code)


async def test_a_code_one_step_either_side_is_accepted(
    timed: AccountService, clock: MovableClock
) -> None:
    account, secret = await _enrolled(timed, clock)
    assert await timed.verify_totp(account.id, _now_code(secret, clock, -1))
    clock.advance(seconds=2 * totp.STEP_SECONDS)
    assert await timed.verify_totp(account.id, _now_code(secret, clock, +1))


async def test_a_code_from_two_steps_ago_is_refused(
    timed: AccountService, clock: MovableClock
) -> None:
    account, secret = await _enrolled(timed, clock)
    clock.advance(seconds=5 * totp.STEP_SECONDS)
    assert not await timed.verify_totp(account.id, _now_code(secret, clock, -2))
    assert not await timed.verify_totp(account.id, _now_code(secret, clock, +2))
    assert await timed.verify_totp(account.id, _now_code(secret, clock))


async def test_once_a_code_is_used_no_earlier_code_works(
    timed: AccountService, clock: MovableClock
) -> None:
    account, secret = await _enrolled(timed, clock)
    assert await timed.verify_totp(account.id, _now_code(secret, clock))
    assert not await timed.verify_totp(account.id, _now_code(secret, clock, -1))


async def test_a_recovery_code_works_once_however_it_is_typed(
    accounts: AccountService, runtime: Runtime
) -> None:
    account = await _account(accounts)
    enrolment = await accounts.begin_totp(account.id)
    codes = await accounts.confirm_totp(
        account.id, totp.code_at(enrolment.secret, totp.time_step(runtime.clock.now()))
    )
    first = codes.codes[0]
    assert await accounts.use_recovery_code(account.id, f" {first.upper().replace('-', ' ')} ")
    assert not await accounts.use_recovery_code(account.id, first)
    assert await accounts.remaining_recovery_codes(account.id) == 9
    assert not await accounts.use_recovery_code(account.id, "00000-00000")
    entries = await recorded(runtime.evidence, "account.recovery-code-used", account.id)
    assert [e["details"] for e in entries] == [{"remaining": 9}]


async def test_new_recovery_codes_replace_the_old_ones(
    timed: AccountService, clock: MovableClock
) -> None:
    account, _ = await _enrolled(timed, clock)
    fresh = await timed.regenerate_recovery_codes(account.id)
    assert await timed.remaining_recovery_codes(account.id) == 10
    assert await timed.use_recovery_code(account.id, fresh.codes[3])
    other, _ = await _enrolled(timed, clock)
    assert not await timed.use_recovery_code(other.id, fresh.codes[4])  # not another's


async def test_resetting_mfa_removes_the_app_and_its_codes(
    timed: AccountService, clock: MovableClock, runtime: Runtime
) -> None:
    account, secret = await _enrolled(timed, clock)
    reset = await timed.reset_mfa(account.id, TEST_ACTOR)
    assert not reset.totp_enabled
    assert not await timed.verify_totp(account.id, _now_code(secret, clock))
    assert await timed.remaining_recovery_codes(account.id) == 0
    with pytest.raises(SecondFactorStateError):
        await timed.regenerate_recovery_codes(account.id)
    await timed.begin_totp(account.id)  # and a new app can be set up
    [entry] = await recorded(runtime.evidence, "account.mfa-reset", account.id)
    assert entry["actor"] == str(TEST_ACTOR)


async def test_wrong_codes_meet_the_second_step_throttle(
    timed: AccountService, clock: MovableClock
) -> None:
    account, secret = await _enrolled(timed, clock)
    for _ in range(3):
        assert not await timed.verify_totp(account.id, wrong_code(_now_code(secret, clock)))
    with pytest.raises(SignInThrottledError):
        await timed.verify_totp(account.id, _now_code(secret, clock))
    with pytest.raises(SignInThrottledError):
        await timed.use_recovery_code(account.id, "00000-00000")
    clock.advance(seconds=1)
    assert await timed.verify_totp(account.id, _now_code(secret, clock))


async def test_an_emailed_sign_in_code_works_once(
    accounts: AccountService, notifier: CollectingNotifier
) -> None:
    account = await _account(accounts)
    await accounts.send_sign_in_code(account.id, Channel.EMAIL)
    code = notifier.last_code(account.email, "sign-in-code")
    assert not await accounts.verify_sign_in_code(account.id, wrong_code(code))
    assert await accounts.verify_sign_in_code(account.id, code)
    assert not await accounts.verify_sign_in_code(account.id, code)


async def test_a_text_needs_a_confirmed_mobile_number(accounts: AccountService) -> None:
    account = await _account(accounts)
    with pytest.raises(SecondFactorStateError):
        await accounts.send_sign_in_code(account.id, Channel.SMS)


async def test_sign_in_codes_are_limited_per_account(
    accounts: AccountService, notifier: CollectingNotifier, account_settings: Settings
) -> None:
    account = await _account(accounts)
    for _ in range(account_settings.code_send_limit):
        await accounts.send_sign_in_code(account.id, Channel.EMAIL)
    with pytest.raises(CodeSendLimitError):
        await accounts.send_sign_in_code(account.id, Channel.EMAIL)
    assert len(notifier.to(account.email)) == account_settings.code_send_limit
