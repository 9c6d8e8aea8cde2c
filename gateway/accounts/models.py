"""People's accounts, the credentials they enrol and what a sign-in attempt carries.

An account is named by an opaque id (``acc_…``, :mod:`gateway.core.ids`); the email address is
an attribute that can change. Claims follow OpenID Connect Core §5.1 so the ``email``,
``profile`` and ``phone`` scopes can be answered from :class:`Account` directly.

Email addresses: stored with surrounding spaces removed and the domain lower-cased (domains
are case-insensitive, RFC 5321 §2.4); the local part is kept as typed so messages go to the
address the person gave. Two addresses that differ only in case name the same account: the
index key is the SHA-256 of the whole address lower-cased (:func:`email_digest`). RFC 5321
lets a mail server treat local parts case-sensitively, but no mainstream provider does, and
treating them as one account stops ``Alice@`` and ``alice@`` from becoming two accounts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.accounts.errors import InvalidEmailError, InvalidPhoneError

ID_PREFIX = "acc"
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
# The WHATWG HTML "valid e-mail address" grammar with a dot in the domain (as for
# organisations' contact addresses): ASCII only, so internationalised domains come as punycode.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
# ITU-T E.164: a country code and up to 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def normalise_email(value: str) -> str:
    """The address as stored: stripped, domain lower-cased; :class:`InvalidEmailError` if it
    is not one."""
    email = value.strip()
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise InvalidEmailError(
            "Enter an email address in the correct format, like name@example.com"
        )
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def email_digest(email: str) -> str:
    """The index key of a normalised address: SHA-256 of it lower-cased, as hex.

    A digest rather than the address keeps addresses out of key names (which monitoring
    tools and ``MONITOR`` show) and gives every address a fixed-length key.
    """
    return hashlib.sha256(email.lower().encode()).hexdigest()


def email_hint(email: str) -> str:
    """``j•••@example.com``: enough for the owner to recognise, little for anyone else."""
    local, domain = email.rsplit("@", 1)
    return f"{local[0]}•••@{domain}"


def normalise_phone(value: str) -> str:
    """A mobile number in E.164 form (``+447700900123``); UK numbers may be given as 07…."""
    number = _PHONE_PUNCTUATION.sub("", value.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0"):
        number = "+44" + number[1:]
    if not _E164.fullmatch(number) or (number.startswith("+44") and len(number) != 13):
        raise InvalidPhoneError(
            "Enter a mobile phone number, like 07700 900 982 or +44 7700 900982"
        )
    return number


class CodePurpose(StrEnum):
    """What a one-time code proves; part of its digest, so a code for one use fails another."""

    VERIFY_EMAIL = "verify-email"
    RESET_PASSWORD = "reset-password"  # noqa: S105 - a purpose name, not a password
    EMAIL_CHANGE = "email-change"
    PHONE_CHANGE = "phone-change"
    SIGN_IN = "sign-in"


@dataclass(frozen=True, slots=True)
class Account:
    """A person's account. Credentials (the password hash, the sealed TOTP secret, recovery
    code digests) are stored beside it and are never part of it, so :meth:`to_json` cannot
    leak them. The address and number stay out of ``repr``, so a log line never holds them."""

    id: str
    email: str = field(repr=False)
    email_verified: bool
    created_at: datetime
    updated_at: datetime
    disabled: bool = False
    totp_enabled: bool = False
    phone: str | None = field(default=None, repr=False)
    phone_verified: bool = False
    given_name: str | None = None
    family_name: str | None = None

    @property
    def email_key(self) -> str:
        return email_digest(self.email)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "email_verified": self.email_verified,
            "phone": self.phone,
            "phone_verified": self.phone_verified,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "disabled": self.disabled,
            "totp_enabled": self.totp_enabled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(
            id=data["id"],
            email=data["email"],
            email_verified=data["email_verified"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            disabled=data["disabled"],
            totp_enabled=data["totp_enabled"],
            phone=data.get("phone"),
            phone_verified=data.get("phone_verified", False),
            given_name=data.get("given_name"),
            family_name=data.get("family_name"),
        )


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the set-up page shows once: a QR code of the ``otpauth://`` URI and the secret
    for typing in by hand (Google Authenticator Key Uri Format; RFC 6238 parameters
    SHA-1, 6 digits, 30 s, which every authenticator app supports)."""

    secret: str = field(repr=False)  # RFC 4648 base32, no padding
    uri: str = field(repr=False)  # holds the secret too
    qr_svg: str = field(repr=False)  # inline <svg>, no XML declaration: safe in a page

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to read and type: ``ABCD EFGH …``."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True, slots=True)
class RecoveryCodes:
    """Recovery codes as issued: shown once, only their digests are kept."""

    codes: tuple[str, ...] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"recovery_codes": list(self.codes)}


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """Where a sign-in comes from: the client address (after trusted proxies) and the device
    token the browser presented, if any (an opaque value from
    :meth:`~gateway.accounts.services.AccountService.issue_device_token`)."""

    ip: str
    device: str | None = field(default=None, repr=False)
