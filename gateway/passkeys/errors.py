"""Errors of passkey registration and sign-in.

A failed ceremony says nothing about *why* to the browser (which credential exists, whose it
is, which check failed): one :class:`PasskeyRefusedError` for every way a response can fail,
with the reason kept for the log.

PasskeyError
├── PasskeyRefusedError           (unauthenticated: the response did not verify: no live
│   │                              challenge for this session, wrong origin or RP ID, bad
│   │                              signature, user not verified, unknown or someone else's
│   │                              credential, disabled account)
│   └── PasskeyCloneSuspectedError (unauthenticated: a genuine signature whose sign count did
│                                   not move forward: the key may have been copied)
├── SecondFactorRequiredError     (forbidden: adding or removing a passkey needs a session
│                                  that proved a second factor or a passkey)
├── PasskeyInUseError             (conflict: that credential is already registered)
├── PasskeyNotFoundError          (not-found: no passkey by that id on this account)
├── InvalidPasskeyNameError       (invalid: the name is empty, too long or has control
│                                  characters)
└── PasskeysUnavailableError      (unavailable: the issuer's host cannot be a WebAuthn RP ID)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class PasskeyError(GovConnectError):
    slug = "passkey-error"
    title = "Passkey error"


class PasskeyRefusedError(PasskeyError):
    category = Category.UNAUTHENTICATED
    slug = "passkey-refused"
    title = "Passkey not accepted"

    def __init__(self, reason: str) -> None:
        super().__init__("The passkey could not be checked. Try again.")
        # For the log only: never shown, since it would say which check an attacker failed.
        self.reason = reason


class PasskeyCloneSuspectedError(PasskeyRefusedError):
    slug = "passkey-clone-suspected"


class SecondFactorRequiredError(PasskeyError):
    category = Category.FORBIDDEN
    slug = "second-factor-required"
    title = "Second factor required"


class PasskeyInUseError(PasskeyError):
    category = Category.CONFLICT
    slug = "passkey-in-use"
    title = "Passkey already registered"


class PasskeyNotFoundError(PasskeyError):
    category = Category.NOT_FOUND
    slug = "passkey-not-found"
    title = "Passkey not found"


class InvalidPasskeyNameError(PasskeyError):
    category = Category.INVALID
    slug = "invalid-passkey-name"
    title = "Invalid passkey name"


class PasskeysUnavailableError(PasskeyError):
    category = Category.UNAVAILABLE
    slug = "passkeys-unavailable"
    title = "Passkeys unavailable"
