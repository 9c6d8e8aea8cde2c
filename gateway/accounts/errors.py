"""Errors of people's accounts and sign-in.

Errors that a public page may show are worded so they reveal nothing about whether an email
address has an account (OWASP ASVS 2.2.x / WSTG-IDNT-04): one message for every way a sign-in
or a code can fail.

AccountError
├── WeakPasswordError             (invalid: the password breaks a rule; ``reason`` says which)
├── InvalidEmailError             (invalid: not an email address we can send to)
├── InvalidPhoneError             (invalid: not a mobile number we can text)
├── InvalidTotpSecretError        (invalid: an operator's TOTP secret is not 128+ bits base32)
├── InvalidCodeError              (invalid: wrong, expired, used up or never sent: one message)
├── SignInFailedError             (unauthenticated: unknown email, wrong password or disabled
│   │                              account: one message)
│   └── IncorrectPasswordError    (invalid: a signed-in person's current password is wrong)
├── SignInThrottledError          (too-many: wait ``retry_after_seconds`` before trying again)
├── CodeSendLimitError            (too-many: too many codes sent; ``retry_after_seconds``)
├── AccountNotFoundError          (not-found: no account has that id; operator and signed-in
│                                  paths only)
├── AccountNotVerifiedError       (forbidden: confirm the email address first)
├── EmailInUseError               (conflict: operator paths, and email change after the new
│                                  address was proven; never the public registration flow)
├── SecondFactorStateError        (conflict: TOTP already on, no enrolment pending, no phone)
└── AccountChangedConcurrentlyError (conflict: another change kept winning; retry)
"""

from __future__ import annotations

import math
from enum import StrEnum

from gateway.core.errors import Category, GovConnectError


class AccountError(GovConnectError):
    slug = "account-error"
    title = "Account error"


class WeakPasswordReason(StrEnum):
    TOO_SHORT = "too-short"
    TOO_LONG = "too-long"
    COMMON = "common"
    CONTAINS_EMAIL = "contains-email"


_WEAK_PASSWORD_MESSAGES = {
    WeakPasswordReason.TOO_SHORT: "Your password must be at least 8 characters long.",
    WeakPasswordReason.TOO_LONG: "Your password must be 256 characters or fewer.",
    WeakPasswordReason.COMMON: (
        "That password is too common and easy to guess. Choose a different password, such as "
        "three random words."
    ),
    WeakPasswordReason.CONTAINS_EMAIL: "Your password must not be your email address.",
}


class WeakPasswordError(AccountError):
    """NIST SP 800-63B §5.1.1.2: length and blocklist rules only, no composition rules."""

    category = Category.INVALID
    slug = "weak-password"
    title = "Password not accepted"

    def __init__(self, reason: WeakPasswordReason) -> None:
        super().__init__(_WEAK_PASSWORD_MESSAGES[reason], reason=reason.value)
        self.reason = reason


class InvalidEmailError(AccountError):
    category = Category.INVALID
    slug = "invalid-email"
    title = "Invalid email address"


class InvalidPhoneError(AccountError):
    category = Category.INVALID
    slug = "invalid-phone"
    title = "Invalid phone number"


class InvalidTotpSecretError(AccountError):
    category = Category.INVALID
    slug = "invalid-totp-secret"
    title = "Invalid TOTP secret"


class InvalidCodeError(AccountError):
    """One message whether the code was wrong, expired, used, tried too often, or never sent,
    so a caller learns nothing about the address or the account."""

    category = Category.INVALID
    slug = "invalid-code"
    title = "Code not accepted"

    def __init__(self) -> None:
        super().__init__(
            "The code is not right or has expired. Check the code, or ask for a new one."
        )


class SignInFailedError(AccountError):
    """One message for an unknown email, a wrong password and a disabled account."""

    category = Category.UNAUTHENTICATED
    slug = "sign-in-failed"
    title = "Sign-in failed"

    def __init__(self) -> None:
        super().__init__(
            "The email address or password is not right. Check them and try again, or reset "
            "your password."
        )


class IncorrectPasswordError(SignInFailedError):
    """A signed-in person re-entering their password (to change it, their email address or
    phone number, or to delete the account) got it wrong. A :class:`SignInFailedError`, so
    a handler for that covers it, but with its own category and message."""

    category = Category.INVALID
    slug = "incorrect-password"
    title = "Password not right"

    def __init__(self) -> None:
        AccountError.__init__(self, "The password is not right. Check it and try again.")


class _RetryLaterError(AccountError):
    category = Category.TOO_MANY

    def __init__(self, detail: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(detail.format(seconds=seconds), retry_after_seconds=seconds)
        self.retry_after_seconds = seconds
        self.retry_after = retry_after  # precise, in seconds; the header uses the integer


class SignInThrottledError(_RetryLaterError):
    slug = "sign-in-throttled"
    title = "Too many sign-in attempts"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "There have been too many attempts to sign in. Wait {seconds} seconds and try again.",
            retry_after,
        )


class CodeSendLimitError(_RetryLaterError):
    slug = "code-send-limit"
    title = "Too many codes sent"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "Too many codes have been sent. Wait {seconds} seconds before asking for another.",
            retry_after,
        )


class AccountNotFoundError(AccountError):
    category = Category.NOT_FOUND
    slug = "account-not-found"
    title = "Account not found"


class AccountNotVerifiedError(AccountError):
    category = Category.FORBIDDEN
    slug = "account-not-verified"
    title = "Email address not confirmed"

    def __init__(self) -> None:
        super().__init__("Confirm your email address before setting this up.")


class EmailInUseError(AccountError):
    """Only for operators and for a person who has just proven they hold the address: a
    public form that raised this would tell anyone which addresses have accounts."""

    category = Category.CONFLICT
    slug = "email-in-use"
    title = "Email address already in use"


class SecondFactorStateError(AccountError):
    category = Category.CONFLICT
    slug = "second-factor-state"
    title = "Second factor not in that state"


class AccountChangedConcurrentlyError(AccountError):
    category = Category.CONFLICT
    slug = "account-changed-concurrently"
    title = "Account changed concurrently"
