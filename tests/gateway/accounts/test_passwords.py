"""The password policy (NIST SP 800-63B §5.1.1.2) and Argon2id hashing off the event loop."""

from __future__ import annotations

import unicodedata

import argon2
import pytest

from gateway.accounts.errors import WeakPasswordError, WeakPasswordReason
from gateway.accounts.passwords import PasswordHasher, check_password
from gateway.core.settings import Settings


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("abcdefg", WeakPasswordReason.TOO_SHORT),
        ("", WeakPasswordReason.TOO_SHORT),
        ("x" * 257, WeakPasswordReason.TOO_LONG),
        ("password1", WeakPasswordReason.COMMON),
        ("Password1", WeakPasswordReason.COMMON),
        ("QWERTYUIOP", WeakPasswordReason.COMMON),
        ("iloveyou2", WeakPasswordReason.COMMON),
        ("govconnect", WeakPasswordReason.COMMON),
        ("mary.jones@council.example", WeakPasswordReason.CONTAINS_EMAIL),
        ("Mary.Jones", WeakPasswordReason.CONTAINS_EMAIL),
    ],
    ids=[
        "7-chars",
        "empty",
        "257-chars",
        "common",
        "common-any-case",
        "common-upper",
        "common-with-digit",
        "service-name",
        "the-email",
        "the-local-part",
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    password: str, reason: WeakPasswordReason
) -> None:
    with pytest.raises(WeakPasswordError) as refused:
        check_password(password, email="mary.jones@council.example")
    assert refused.value.reason is reason
    assert refused.value.extensions == {"reason": reason.value}


@pytest.mark.parametrize(
    "password",
    [
        "8 chars!",
        "a" * 100,
        "x" * 256,
        "correct horse battery staple",
        "ünïcödé pässwörd ✓",
        "        spaces all round        ",
    ],
    ids=["8-chars", "100-chars", "256-chars", "passphrase", "unicode", "spaces"],
)
def test_long_and_unusual_passwords_are_accepted_with_no_composition_rules(
    password: str,
) -> None:
    check_password(password, email="mary.jones@council.example")


async def test_an_80_byte_password_does_not_verify_by_its_first_72_bytes(
    hasher: PasswordHasher,
) -> None:
    password = "0123456789" * 8
    assert len(password.encode()) == 80
    stored = await hasher.hash(password)
    assert await hasher.verify(stored, password)
    assert not await hasher.verify(stored, password[:72])
    assert not await hasher.verify(stored, password[:79])


async def test_a_password_is_checked_exactly_as_typed_up_to_unicode_normalisation(
    hasher: PasswordHasher,
) -> None:
    composed = "caf\u00e9 au lait"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    stored = await hasher.hash(composed)
    assert await hasher.verify(stored, decomposed)  # NFC: the same characters, typed apart
    assert not await hasher.verify(stored, "Caf\u00e9 au lait")
    assert not await hasher.verify(stored, composed + " ")


async def test_hashes_are_argon2id_at_the_configured_parameters(
    hasher: PasswordHasher, settings: Settings
) -> None:
    stored = await hasher.hash("correct horse battery staple")
    parameters = argon2.extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert parameters.memory_cost == settings.argon2_memory_kib >= 19_456
    assert parameters.time_cost == settings.argon2_time_cost >= 2
    assert parameters.parallelism == settings.argon2_parallelism
    assert not hasher.needs_rehash(stored)


async def test_verify_never_raises_for_a_mismatch_or_a_damaged_hash(
    hasher: PasswordHasher,
) -> None:
    assert not await hasher.verify("$argon2id$v=19$m=19456,t=2,p=1$junk", "anything at all")
    assert not await hasher.verify("", "anything at all")
    assert hasher.needs_rehash("not a hash")
    await hasher.burn()


def test_a_hash_made_with_weaker_parameters_needs_rehashing(hasher: PasswordHasher) -> None:
    old = argon2.PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1)
    assert hasher.needs_rehash(old.hash("correct horse battery staple"))
