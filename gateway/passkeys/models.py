"""Passkeys as stored, the relying party they are scoped to, and the challenges in flight.

A passkey is a WebAuthn public key credential (W3C Web Authentication Level 3, §6.5 "public
key credential source" as the relying party keeps it, §7.1 step 27): its id, its COSE public
key, its signature counter, its transports, the authenticator model (AAGUID) and the backup
flags. The ``user.id`` the authenticator stores beside it (the *user handle*, §14.6.1) is
random per account, never the account id or the email address.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from gateway.authorize.levels import SECOND_FACTORS
from gateway.passkeys.errors import InvalidPasskeyNameError, PasskeysUnavailableError
from gateway.sessions.models import AuthMethod

MAX_NAME = 60
# The largest response a browser sends for one credential is a few kilobytes (an RSA key, an
# attestation statement); anything far larger is refused before it is parsed.
MAX_RESPONSE_CHARS = 16_384
CHALLENGE_TTL_SECONDS = 300
# The factors a session must have proven before it may add or remove a passkey.
STRONG_METHODS = SECOND_FACTORS | {AuthMethod.PASSKEY}


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 4648 §5), as WebAuthn's JSON forms spell bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def proves_second_factor(methods: Iterable[AuthMethod]) -> bool:
    """Whether a session with these proven methods may change the account's passkeys."""
    return bool(set(methods) & STRONG_METHODS)


def passkey_name(value: str) -> str:
    """A person's name for a passkey: trimmed, 1 to 60 characters, no control characters."""
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidPasskeyNameError(f"Enter a name of 1 to {MAX_NAME} characters.")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidPasskeyNameError("A passkey name cannot contain control characters.")
    return name


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Where credentials are scoped (WebAuthn §5.1.4 ``rp.id``, §13.4.9 origin checks).

    Both come from the issuer setting, never from the request's ``Host`` or ``Origin``, so a
    request through another name cannot change what the signatures are checked against.
    """

    id: str
    origin: str
    name: str = "GovConnect"

    @classmethod
    def for_issuer(cls, issuer: str) -> RelyingParty:
        """:class:`PasskeysUnavailableError` when the host is an IP address: browsers refuse
        an IP literal as an RP ID (WebAuthn §5.1.3 via HTML's "valid domain")."""
        parts = urlsplit(issuer)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return cls(host, f"{parts.scheme}://{parts.netloc}")
        raise PasskeysUnavailableError(
            f"Passkeys need the gateway's issuer on a domain name, not {host}: "
            "set GOVCONNECT_ISSUER to one (http://localhost:<port> in development)."
        )


class Ceremony(StrEnum):
    """What a challenge was issued for; a challenge answers only the ceremony it was for."""

    REGISTER = "register"
    SIGN_IN = "sign-in"
    STEP_UP = "step-up"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge in flight (WebAuthn §13.4.3: random, at least 16 bytes, used once), and the
    account it was issued to, if any."""

    value: bytes
    account_id: str | None

    def to_json(self) -> str:
        return json.dumps({"challenge": b64url(self.value), "account": self.account_id})

    @classmethod
    def from_json(cls, raw: str) -> Challenge:
        data = json.loads(raw)
        return cls(from_b64url(data["challenge"]), data["account"])


@dataclass(frozen=True, slots=True)
class Passkey:
    """One registered credential of an account."""

    id: str  # the credential id, base64url
    account_id: str
    name: str
    public_key: bytes  # COSE_Key (RFC 9052 §7), as the authenticator gave it
    sign_count: int
    transports: tuple[str, ...]
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None = None

    def to_json(self) -> str:
        """The stored record; the counter and last use are kept beside it (they change)."""
        return json.dumps(
            {
                "id": self.id,
                "account_id": self.account_id,
                "name": self.name,
                "public_key": b64url(self.public_key),
                "transports": list(self.transports),
                "aaguid": self.aaguid,
                "backup_eligible": self.backup_eligible,
                "backed_up": self.backed_up,
                "created_at": self.created_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: str, sign_count: int, last_used_at: datetime | None) -> Passkey:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            id=data["id"],
            account_id=data["account_id"],
            name=data["name"],
            public_key=from_b64url(data["public_key"]),
            sign_count=sign_count,
            transports=tuple(data["transports"]),
            aaguid=data["aaguid"],
            backup_eligible=data["backup_eligible"],
            backed_up=data["backed_up"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_used_at=last_used_at,
        )
