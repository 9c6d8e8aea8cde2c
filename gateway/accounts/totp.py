"""Time-based one-time passwords (RFC 6238) and recovery codes, as pure functions.

TOTP parameters are the RFC 6238 defaults every authenticator app supports: HMAC-SHA-1,
6 digits, a 30-second step (§4, §5.2), with a 160-bit secret (RFC 4226 §4 R6 recommends
160 bits and requires at least 128). A code is accepted for the current step and one step
either side (RFC 6238 §5.2 "at most one time step" of network delay and clock drift); the
service then refuses that step and every earlier one, so each code works once.

Recovery codes are ten characters of Crockford base32 (50 bits), shown as ``xxxxx-xxxxx``.
Only their digests are kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

from gateway.accounts.errors import InvalidTotpSecretError
from gateway.accounts.models import RecoveryCodes, TotpEnrolment

ISSUER = "GovConnect"
STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
SECRET_BYTES = 20
MIN_SECRET_BYTES = 16
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_CROCKFORD_ALIASES = str.maketrans({"i": "1", "l": "1", "o": "0"})
_SEPARATORS = re.compile(r"[\s-]")
_DIGITS = re.compile(rf"[0-9]{{{DIGITS}}}")


def new_secret() -> str:
    """A fresh 160-bit secret in RFC 4648 base32 (32 characters, no padding)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def normalise_secret(value: str) -> str:
    """An operator-supplied secret as stored: base32 upper-case without spaces or padding;
    :class:`InvalidTotpSecretError` unless it decodes to at least 128 bits."""
    secret = _SEPARATORS.sub("", value).upper().rstrip("=")
    try:
        raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise InvalidTotpSecretError(
            "The TOTP secret must be base32 (letters A-Z and digits 2-7)."
        ) from None
    if len(raw) < MIN_SECRET_BYTES:
        raise InvalidTotpSecretError(
            f"The TOTP secret is {len(raw) * 8} bits; RFC 4226 §4 requires at least 128 bits "
            "(26 base32 characters)."
        )
    return secret


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER)


def enrolment(secret: str, label: str) -> TotpEnrolment:
    """The ``otpauth://`` URI (issuer GovConnect, the email address as the account name) and
    its QR code as inline SVG with a title for screen readers."""
    uri = _totp(secret).provisioning_uri(name=label, issuer_name=ISSUER)
    qr_svg = segno.make(uri, error="m").svg_inline(
        scale=4, title="QR code to add GovConnect to your authenticator app"
    )
    return TotpEnrolment(secret=secret, uri=uri, qr_svg=qr_svg)


def time_step(now: datetime) -> int:
    """RFC 6238 §4.2: T = floor((now - T0) / X), with T0 = 0 and X = 30 seconds."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code for one time step (what an authenticator app shows during it)."""
    return _totp(secret).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within ±``WINDOW`` whose code is ``code``, latest first; None if none."""
    typed = _SEPARATORS.sub("", code)
    if not _DIGITS.fullmatch(typed):
        return None
    current = time_step(now)
    for step in range(current + WINDOW, current - WINDOW - 1, -1):
        if hmac.compare_digest(code_at(secret, step), typed):
            return step
    return None


def new_recovery_codes() -> RecoveryCodes:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        text = "".join(secrets.choice(_CROCKFORD) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{text[:5]}-{text[5:]}")
    return RecoveryCodes(tuple(codes))


def recovery_digest(account_id: str, code: str) -> str:
    """The stored form of a recovery code: case, spaces, hyphens and the look-alikes
    i/l/o (Crockford base32) do not matter."""
    # NOTE: a single SHA-256 (with the account id as context), not a slow password hash:
    # each code has 50 random bits, beyond offline guessing at any speed, and is tried online
    # only behind the second-step throttle (ASVS 2.6.2).
    typed = _SEPARATORS.sub("", code).lower().translate(_CROCKFORD_ALIASES)
    return hashlib.sha256(f"recovery:{account_id}:{typed}".encode()).hexdigest()
