"""Password hashing and the password policy.

Hashing is Argon2id (RFC 9106) through argon2-cffi at OWASP's recommended minimum (m = 19 MiB,
t = 2, p = 1; OWASP Password Storage Cheat Sheet, ASVS 2.4.1), set by the ``argon2_*``
settings. Each hash takes tens of milliseconds of CPU, so it runs on a small thread pool of its
own (argon2-cffi releases the GIL), never on the event loop (DESIGN.md §1.1), and the pool is
bounded so a burst of sign-ins cannot exhaust memory (each hash holds ``m`` KiB).

The policy is NIST SP 800-63B §5.1.1.2: at least 8 characters, at least 64 allowed (here
256), any characters, no composition rules, and a refusal of passwords found in a list of
commonly used ones (zxcvbn's 30,000 most common passwords) or equal to the email address.
Passwords are compared exactly as typed after Unicode NFC normalisation (§5.1.1.2 allows it),
with no truncation: Argon2 reads every byte.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from typing import ParamSpec, TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

from gateway.accounts.errors import WeakPasswordError, WeakPasswordReason

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Words specific to this service (NIST SP 800-63B §5.1.1.2 "context-specific words").
_SERVICE_WORDS = frozenset({"govconnect", "gov connect", "govconnect1", "govconnect123"})

P = ParamSpec("P")
R = TypeVar("R")


def _canonical(password: str) -> bytes:
    """NFC, then UTF-8; ``surrogatepass`` so no input can make encoding raise."""
    return unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")


class PasswordHasher:
    """Argon2id hashing and verifying off the event loop, on ``max_workers`` threads."""

    def __init__(
        self,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        *,
        max_workers: int | None = None,
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        workers = max_workers or min(4, os.cpu_count() or 1)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        # The hash that burn() verifies against, made on the pool at once: never on the
        # event loop, and ready before the first sign-in with an unknown address needs it.
        self._dummy = self._executor.submit(self._argon2.hash, secrets.token_bytes(16))

    async def hash(self, password: str) -> str:
        """A PHC-format Argon2id hash with a fresh 128-bit salt."""
        return await self._run(self._argon2.hash, _canonical(password))

    async def verify(self, hash: str, password: str) -> bool:
        """True if ``password`` is the one ``hash`` was made from; never raises for a
        mismatch or a damaged hash."""
        return await self._run(self._verify, hash, _canonical(password))

    def needs_rehash(self, hash: str) -> bool:
        """True when ``hash`` was made with other parameters than the current ones (or is
        unreadable), so the next successful sign-in stores a new hash (ASVS 2.4.x)."""
        try:
            return self._argon2.check_needs_rehash(hash)
        except InvalidHashError:
            return True

    async def burn(self) -> None:
        """Spend what a verification spends, for a sign-in with an unknown email address or a
        registration of one that exists, so timing does not tell them apart."""
        await self._run(self._burn)

    def close(self) -> None:
        """Stop the worker threads; hashing after this raises."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    def _verify(self, hash: str, password: bytes) -> bool:
        try:
            return self._argon2.verify(hash, password)
        except VerificationError:
            return False
        except InvalidHashError:
            # NOTE: the hash itself is never logged; an operator looks the account up by id.
            log.warning("a stored password hash cannot be read")
            return False

    def _burn(self) -> bool:
        return self._verify(self._dummy.result(), b"not the password")


@cache
def _common_passwords() -> frozenset[str]:
    """The zxcvbn list (ranked from real password leaks), lower-cased, loaded once."""
    words: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(word.lower() for word in words) | _SERVICE_WORDS


def check_password(password: str, *, email: str | None = None) -> None:
    """Refuse a password that breaks the policy, with the reason; return if it is fine.

    ``contains-email`` covers a password that contains the whole address or is its local
    part (``alice`` for ``alice@example.com``).

    Lengths count Unicode characters after NFC normalisation (NIST SP 800-63B §5.1.1.2). The
    comparison with the list and the email address ignores case: ``Password1`` is as common
    as ``password1``.
    """
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(WeakPasswordReason.TOO_SHORT)
    if len(text) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(WeakPasswordReason.TOO_LONG)
    lowered = text.lower()
    if lowered in _common_passwords():
        raise WeakPasswordError(WeakPasswordReason.COMMON)
    if email is not None:
        address = email.lower()
        if address in lowered or lowered == address.rsplit("@", 1)[0]:
            raise WeakPasswordError(WeakPasswordReason.CONTAINS_EMAIL)


def could_be_password(password: str) -> bool:
    """False for input longer than any password the policy accepts, which is refused without
    hashing it (a megabyte "password" must not cost a megabyte of Argon2 input)."""
    if len(password) > 4 * MAX_PASSWORD_LENGTH:
        return False
    return len(unicodedata.normalize("NFC", password)) <= MAX_PASSWORD_LENGTH


class PasswordPolicy:
    """The policy as an object, for callers that pass it around; see :func:`check_password`."""

    min_length = MIN_PASSWORD_LENGTH
    max_length = MAX_PASSWORD_LENGTH

    def check(self, password: str, *, email: str | None = None) -> None:
        check_password(password, email=email)
