"""What operators do (create, find, disable, enable), deleting an account, and the evidence
log: every lifecycle change recorded, with nothing secret in it."""

from __future__ import annotations

import json

import pytest

from gateway.accounts import totp
from gateway.accounts.errors import (
    AccountNotFoundError,
    EmailInUseError,
    IncorrectPasswordError,
    InvalidTotpSecretError,
    SignInFailedError,
)
from gateway.accounts.models import SignInAttempt
from gateway.accounts.services import AccountService
from gateway.accounts.store import AccountStore
from gateway.notify.models import Channel
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.support import PASSWORD, CollectingNotifier, new_email, new_ip
from tests.support.clock import MovableClock
from tests.support.evidence import recorded

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def test_an_operator_creates_an_account_with_an_authenticator_secret(
    timed: AccountService, clock: MovableClock, store: AccountStore, runtime: Runtime
) -> None:
    email = new_email()
    account = await timed.create(
        email, PASSWORD, verified=True, totp_secret=SECRET.lower(), actor=TEST_ACTOR
    )
    assert account.email_verified and account.totp_enabled
    assert await timed.verify_totp(account.id, totp.code_at(SECRET, totp.time_step(clock.now())))
    sealed = await store.totp_secret(account.id)
    assert sealed is not None and SECRET not in sealed

    [entry] = await recorded(runtime.evidence, "account.created", account.id)
    assert entry["actor"] == str(TEST_ACTOR)
    assert entry["details"] == {"email_verified": True, "totp_enabled": True}


async def test_an_operator_is_told_when_the_address_is_taken(accounts: AccountService) -> None:
    email = new_email()
    await accounts.create(email, PASSWORD, verified=False, totp_secret=None, actor=TEST_ACTOR)
    with pytest.raises(EmailInUseError):
        await accounts.create(
            email.upper(), PASSWORD, verified=False, totp_secret=None, actor=TEST_ACTOR
        )


@pytest.mark.parametrize("secret", ["JBSWY3DPEHPK3PXP", "not base32 at all!"])
async def test_a_short_or_malformed_totp_secret_is_refused(
    accounts: AccountService, secret: str
) -> None:
    with pytest.raises(InvalidTotpSecretError):
        await accounts.create(
            new_email(), PASSWORD, verified=True, totp_secret=secret, actor=TEST_ACTOR
        )


async def test_accounts_are_found_by_id_or_address(accounts: AccountService) -> None:
    account = await accounts.create(
        new_email(), PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )
    assert await accounts.find(account.id) == account
    assert await accounts.find(account.email.upper()) == account
    for missing in (new_email(), "acc_" + "x" * 22, "junk"):
        with pytest.raises(AccountNotFoundError):
            await accounts.find(missing)


async def test_a_disabled_account_cannot_sign_in_until_enabled(
    accounts: AccountService, runtime: Runtime
) -> None:
    account = await accounts.create(
        new_email(), PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )
    assert (await accounts.disable(account.id, TEST_ACTOR)).disabled
    with pytest.raises(SignInFailedError):
        await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    assert not (await accounts.enable(account.id, TEST_ACTOR)).disabled
    await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))
    assert await recorded(runtime.evidence, "account.disabled", account.id)
    assert await recorded(runtime.evidence, "account.enabled", account.id)


async def test_deleting_removes_the_account_so_the_address_can_register_again(
    accounts: AccountService, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    account = await accounts.create(
        new_email(), PASSWORD, verified=True, totp_secret=SECRET, actor=TEST_ACTOR
    )
    with pytest.raises(IncorrectPasswordError):
        await accounts.delete(account.id, "not my password")
    await accounts.delete(account.id, PASSWORD)

    with pytest.raises(AccountNotFoundError):
        await accounts.get(account.id)
    assert await accounts.find_by_email(account.email) is None
    with pytest.raises(SignInFailedError):
        await accounts.authenticate(account.email, PASSWORD, SignInAttempt(new_ip()))

    await accounts.register(account.email, "a fresh start passphrase")
    assert notifier.templates(account.email) == ["verify-email"]
    again = await accounts.find_by_email(account.email)
    assert again is not None and again.id != account.id and not again.totp_enabled
    [entry] = await recorded(runtime.evidence, "account.deleted", account.id)
    assert entry["actor"] == f"account:{account.id}" and entry["details"] == {}


async def test_nothing_secret_reaches_the_evidence_log(
    timed: AccountService, clock: MovableClock, notifier: CollectingNotifier, runtime: Runtime
) -> None:
    """A whole life: register, confirm, app, recovery code, codes, changes, deletion."""
    email, new = new_email(), new_email()
    secrets: set[str] = {email, new, PASSWORD, "second passphrase!", "third passphrase!"}
    await timed.register(email, PASSWORD)
    code = notifier.last_code(email, "verify-email")
    account = await timed.verify_email(email, code)
    enrolment = await timed.begin_totp(account.id)
    recovery = await timed.confirm_totp(
        account.id, totp.code_at(enrolment.secret, totp.time_step(clock.now()))
    )
    await timed.use_recovery_code(account.id, recovery.codes[0])
    await timed.regenerate_recovery_codes(account.id)
    await timed.send_sign_in_code(account.id, Channel.EMAIL)
    await timed.change_password(account.id, PASSWORD, "second passphrase!")
    await timed.start_password_reset(email)
    await timed.reset_password(
        email, notifier.last_code(email, "reset-password"), "third passphrase!"
    )
    await timed.start_email_change(account.id, "third passphrase!", new)
    await timed.confirm_email_change(account.id, notifier.last_code(new, "email-change-code"))
    await timed.reset_mfa(account.id, TEST_ACTOR)
    await timed.delete(account.id, "third passphrase!")
    secrets |= {enrolment.secret, *recovery.codes}
    secrets |= {n.personalisation["code"] for n in notifier.sent if "code" in n.personalisation}

    entries: list[dict[str, object]] = []
    after = 0
    while page := await runtime.evidence.entries(after, 1000):
        entries.extend(e for e in page if e["subject"] == account.id)
        after = int(str(page[-1]["seq"]))
    actions = [e["action"] for e in entries]
    assert actions == [
        "account.registered",
        "account.email-verified",
        "account.totp-enabled",
        "account.recovery-code-used",
        "account.recovery-codes-regenerated",
        "account.password-changed",
        "account.password-reset",
        "account.email-changed",
        "account.mfa-reset",
        "account.deleted",
    ]
    logged = json.dumps(entries).lower()
    leaked = [s for s in secrets if s.lower() in logged]
    assert leaked == []
