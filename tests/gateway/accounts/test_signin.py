"""Sign-in with an email address and password: one answer for every failure, hashes upgraded
at sign-in, and throttling with growing delays that an attacker cannot turn into a lock-out."""

from __future__ import annotations

import asyncio
from typing import Any

import argon2
import pytest

from gateway.accounts.errors import SignInFailedError, SignInThrottledError
from gateway.accounts.models import Account, SignInAttempt
from gateway.accounts.passwords import PasswordHasher
from gateway.accounts.services import AccountService
from gateway.accounts.store import AccountStore
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.conftest import timed_service
from tests.gateway.accounts.support import PASSWORD, CollectingNotifier, new_email, new_ip
from tests.support.clock import MovableClock

WRONG = "not the right password"


@pytest.fixture
def slow(
    runtime: Runtime,
    clock: MovableClock,
    hasher: PasswordHasher,
    notifier: CollectingNotifier,
    box: Any,
    account_settings: Settings,
) -> AccountService:
    """The gateway's default delays (1 s doubling to 60 s per address, 300 s per client), on
    a clock the test moves instead of waiting."""
    defaults = account_settings.model_copy(
        update={
            "signin_base_delay_seconds": 1.0,
            "signin_account_max_delay_seconds": 60.0,
            "signin_ip_max_delay_seconds": 300.0,
        }
    )
    return timed_service(runtime, clock, hasher, notifier, box, defaults)


async def _account(accounts: AccountService, *, verified: bool = True) -> Account:
    return await accounts.create(
        new_email(), PASSWORD, verified=verified, totp_secret=None, actor=TEST_ACTOR
    )


async def _outcome(call: Any) -> tuple[type[BaseException] | None, str | None]:
    try:
        await call
    except Exception as exc:
        return type(exc), str(exc)
    return None, None


async def test_the_right_password_signs_in(accounts: AccountService) -> None:
    account = await _account(accounts)
    signed_in = await accounts.authenticate(
        account.email.upper().replace("EXAMPLE", "example"), PASSWORD, SignInAttempt(new_ip())
    )
    assert signed_in.id == account.id and signed_in.email_verified


async def test_an_unconfirmed_account_signs_in_and_says_so(accounts: AccountService) -> None:
    account = await _account(accounts, verified=False)
    signed_in = await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    assert signed_in.id == account.id and not signed_in.email_verified


async def test_unknown_address_wrong_password_and_disabled_account_fail_alike(
    accounts: AccountService,
) -> None:
    account = await _account(accounts)
    disabled = await _account(accounts)
    await accounts.disable(disabled.id, TEST_ACTOR)

    unknown = await _outcome(accounts.authenticate(new_email(), PASSWORD, SignInAttempt(new_ip())))
    wrong = await _outcome(accounts.authenticate(account.email, WRONG, SignInAttempt(new_ip())))
    off = await _outcome(accounts.authenticate(disabled.email, PASSWORD, SignInAttempt(new_ip())))
    junk = await _outcome(accounts.authenticate("junk", PASSWORD, SignInAttempt(new_ip())))
    huge = await _outcome(
        accounts.authenticate(account.email, "x" * 10_000, SignInAttempt(new_ip()))
    )
    assert unknown == wrong == off == junk == huge
    assert unknown[0] is SignInFailedError


async def test_a_hash_with_older_parameters_is_upgraded_at_the_next_sign_in(
    accounts: AccountService, store: AccountStore, hasher: PasswordHasher
) -> None:
    account = await _account(accounts)
    # Weaker than the settings allow, so made with argon2 directly.
    old = argon2.PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1)
    await store.set_password(account.id, old.hash(PASSWORD))

    with pytest.raises(SignInFailedError):
        await accounts.authenticate(account.email, WRONG, SignInAttempt(new_ip()))
    unchanged = await store.password_hash(account.id)
    assert unchanged is not None and argon2.extract_parameters(unchanged).memory_cost == 8_192

    await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    upgraded = await store.password_hash(account.id)
    assert upgraded is not None and not hasher.needs_rehash(upgraded)
    assert argon2.extract_parameters(upgraded).memory_cost >= 19_456
    assert await hasher.verify(upgraded, PASSWORD)
    await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))


async def test_fifty_wrong_passwords_meet_growing_delays_on_the_address(
    slow: AccountService, clock: MovableClock
) -> None:
    account = await _account(slow)
    failures, waits = 0, []
    for _ in range(50):
        try:
            # A fresh client address each time: the delay comes from the address signed in to.
            await slow.authenticate(account.email, WRONG, SignInAttempt(new_ip()))
        except SignInFailedError:
            failures += 1
        except SignInThrottledError as exc:
            waits.append(exc.retry_after_seconds)
            clock.advance(seconds=exc.retry_after)
    assert waits[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert set(waits[7:]) == {60}
    assert failures + len(waits) == 50 and len(waits) >= 23


async def test_after_the_wait_the_right_password_works(accounts: AccountService) -> None:
    account = await _account(accounts)
    attempt = SignInAttempt(new_ip())
    retry_after = None
    for _ in range(10):
        try:
            await accounts.authenticate(account.email, WRONG, attempt)
        except SignInFailedError:
            continue
        except SignInThrottledError as exc:
            retry_after = exc.retry_after
            break
    assert retry_after is not None and 0 < retry_after <= 0.5
    await asyncio.sleep(retry_after)
    assert (await accounts.authenticate(account.email, PASSWORD, attempt)).id == account.id


async def _attack(service: AccountService, clock: MovableClock, email: str, failures: int) -> None:
    """``failures`` wrong passwords from ever-new client addresses, waiting out every delay
    but the one the last failure starts."""
    failed = 0
    while failed < failures:
        try:
            await service.authenticate(email, WRONG, SignInAttempt(new_ip()))
        except SignInFailedError:
            failed += 1
        except SignInThrottledError as exc:
            clock.advance(seconds=exc.retry_after)


async def test_a_device_token_keeps_the_person_out_of_the_delay_an_attacker_causes(
    slow: AccountService, clock: MovableClock
) -> None:
    account = await _account(slow)
    home = SignInAttempt(new_ip())
    await slow.authenticate(account.email, PASSWORD, home)
    token = await slow.issue_device_token(account.id)

    await _attack(slow, clock, account.email, 15)
    with pytest.raises(SignInThrottledError) as attacker:
        await slow.authenticate(account.email, WRONG, SignInAttempt(new_ip()))
    assert attacker.value.retry_after_seconds == 60

    # The person, on their own browser, is not held up at all.
    person = await slow.authenticate(account.email, PASSWORD, SignInAttempt(home.ip, token))
    assert person.id == account.id
    # The attacker still is, and so is a browser without the token.
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(account.email, WRONG, SignInAttempt(new_ip()))
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))


async def test_a_device_token_is_no_way_round_the_delay_for_guessing(
    slow: AccountService, clock: MovableClock
) -> None:
    account, other = await _account(slow), await _account(slow)
    token = await slow.issue_device_token(account.id)
    other_token = await slow.issue_device_token(other.id)

    outcomes = []
    for _ in range(5):  # with the account's own token: its own counter, same delays
        outcomes.append(
            (
                await _outcome(
                    slow.authenticate(account.email, WRONG, SignInAttempt(new_ip(), token))
                )
            )[0]
        )
    assert outcomes == [SignInFailedError] * 3 + [SignInThrottledError] * 2

    await _attack(slow, clock, other.email, 6)
    for presented in (token, "forged-token", token[:-2] + "AA"):  # not this account's
        with pytest.raises(SignInThrottledError):
            await slow.authenticate(other.email, PASSWORD, SignInAttempt(new_ip(), presented))
    assert (
        await slow.authenticate(other.email, PASSWORD, SignInAttempt(new_ip(), other_token))
    ).id == other.id


async def test_an_old_device_token_no_longer_counts(
    slow: AccountService, clock: MovableClock
) -> None:
    account = await _account(slow)
    token = await slow.issue_device_token(account.id)
    clock.advance(days=366)
    await _attack(slow, clock, account.email, 5)
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(account.email, PASSWORD, SignInAttempt(new_ip(), token))


async def test_the_client_address_delay_applies_even_with_a_device_token(
    slow: AccountService,
) -> None:
    account = await _account(slow)
    token = await slow.issue_device_token(account.id)
    shared = new_ip()
    for _ in range(3):  # a run of guesses at other addresses from one client address
        with pytest.raises(SignInFailedError):
            await slow.authenticate(new_email(), WRONG, SignInAttempt(shared))
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(account.email, PASSWORD, SignInAttempt(shared, token))


async def test_one_client_address_trying_many_addresses_meets_growing_delays(
    slow: AccountService, clock: MovableClock
) -> None:
    shared, waits = new_ip(), []
    for _ in range(30):
        try:
            await slow.authenticate(new_email(), WRONG, SignInAttempt(shared))
        except SignInFailedError:
            pass
        except SignInThrottledError as exc:
            waits.append(exc.retry_after_seconds)
            clock.advance(seconds=exc.retry_after)
    assert waits[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert set(waits[9:]) == {300}


async def test_an_ipv6_client_is_counted_by_its_64_network(slow: AccountService) -> None:
    for host in ("::1", "::2", ":ffff:ffff:ffff:ffff"):
        with pytest.raises(SignInFailedError):
            await slow.authenticate(new_email(), WRONG, SignInAttempt(f"2001:db8:77:1{host}"))
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(new_email(), WRONG, SignInAttempt("2001:db8:77:1:abcd::9"))
    with pytest.raises(SignInFailedError):  # the next /64 is someone else
        await slow.authenticate(new_email(), WRONG, SignInAttempt("2001:db8:77:2::1"))


async def test_signing_in_to_ones_own_account_does_not_wipe_a_guessing_run(
    slow: AccountService, clock: MovableClock
) -> None:
    own = await _account(slow)
    shared = new_ip()
    for _ in range(3):
        with pytest.raises(SignInFailedError):
            await slow.authenticate(new_email(), WRONG, SignInAttempt(shared))
    clock.advance(seconds=1)
    await slow.authenticate(own.email, PASSWORD, SignInAttempt(shared))
    with pytest.raises(SignInThrottledError):
        await slow.authenticate(new_email(), WRONG, SignInAttempt(shared))


async def test_a_persons_own_typos_are_forgiven_when_they_get_it_right(
    slow: AccountService,
) -> None:
    own = await _account(slow)
    office = new_ip()
    for _ in range(2):
        with pytest.raises(SignInFailedError):
            await slow.authenticate(own.email, WRONG, SignInAttempt(office))
    await slow.authenticate(own.email, PASSWORD, SignInAttempt(office))
    # The next person in the same office starts with the full allowance.
    for _ in range(3):
        with pytest.raises(SignInFailedError):
            await slow.authenticate(new_email(), WRONG, SignInAttempt(office))
    # And the account's own count started again too.
    for _ in range(3):
        with pytest.raises(SignInFailedError):
            await slow.authenticate(own.email, WRONG, SignInAttempt(new_ip()))


async def test_known_and_unknown_addresses_are_throttled_alike(slow: AccountService) -> None:
    account = await _account(slow)

    async def run(email: str) -> list[type[BaseException] | None]:
        return [
            (await _outcome(slow.authenticate(email, WRONG, SignInAttempt(new_ip()))))[0]
            for _ in range(6)
        ]

    assert await run(account.email) == await run(new_email())


async def test_a_burst_of_guesses_at_once_gets_no_more_than_the_free_attempts(
    slow: AccountService,
) -> None:
    account = await _account(slow)
    outcomes = await asyncio.gather(
        *(
            _outcome(slow.authenticate(account.email, WRONG, SignInAttempt(new_ip())))
            for _ in range(12)
        )
    )
    kinds = [kind for kind, _ in outcomes]
    assert kinds.count(SignInFailedError) == 3
    assert kinds.count(SignInThrottledError) == 9
