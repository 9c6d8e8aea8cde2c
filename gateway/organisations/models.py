"""Connected organisations and the client certificates issued to them.

:class:`NewOrganisation` validates what an operator asks for; :class:`Organisation` and
:class:`CertificateRecord` are what the registry holds, so holding one means it was accepted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.core.settings import is_loopback_host

# ONS Government Statistical Service codes: a country letter and eight digits (E06000001).
GSS_CODE = re.compile(r"[EWSN][0-9]{8}")
OTHER_CODE = re.compile(r"[A-Z0-9-]{2,32}")
ENDPOINT_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
# The WHATWG HTML "valid e-mail address" grammar, with at least one dot in the domain.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
MAX_ENDPOINTS = 32
MAX_URL = 2048
SERIAL_HEX = re.compile(r"[0-9a-f]{1,64}")


class OrganisationKind(StrEnum):
    COUNCIL = "council"
    DEPARTMENT = "department"
    AGENCY = "agency"


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class RevocationReason(StrEnum):
    """The RFC 5280 §5.3.1 ``CRLReason`` values that apply to an organisation's certificate.

    ``certificateHold`` is left out because revocation here is final, and the CA-only and
    delta-CRL reasons do not apply to an end-entity certificate.
    """

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"


def _invalid(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


def _check_endpoint_url(name: str, url: str) -> None:
    if len(url) > MAX_URL or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _invalid(
            "endpoint_url",
            "endpoint {name}: the URL must be at most {limit} characters with no spaces",
            name=name,
            limit=MAX_URL,
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - urlsplit parses the port lazily; this raises if it is junk
    except ValueError:
        raise _invalid(
            "endpoint_url", "endpoint {name}: the port is not a number from 0 to 65535", name=name
        ) from None
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise _invalid("endpoint_url", "endpoint {name}: give an absolute https:// URL", name=name)
    if "@" in parts.netloc:
        raise _invalid(
            "endpoint_url",
            "endpoint {name}: the URL must not carry a user name or password; credentials are "
            "never put in URLs",
            name=name,
        )
    if "#" in url:
        raise _invalid(
            "endpoint_url", "endpoint {name}: the URL must not have a #fragment", name=name
        )
    # NOTE: plain http is accepted for loopback hosts only, so a developer can point an
    # endpoint at a local service; such traffic never leaves the machine.
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise _invalid(
            "endpoint_url",
            "endpoint {name}: use https (plain http is accepted only for localhost and "
            "loopback addresses)",
            name=name,
        )


class NewOrganisation(BaseModel):
    """What an operator supplies to register an organisation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind
    code: str | None = Field(
        default=None,
        description="For a council its ONS GSS code (E06000001); otherwise 2-32 of A-Z 0-9 -.",
    )
    contact_email: str = Field(max_length=MAX_EMAIL)
    endpoints: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENDPOINTS)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if any(unicodedata.category(ch).startswith("C") for ch in value):
            raise _invalid(
                "name_characters",
                "the name must not contain control or invisible formatting characters",
            )
        return value

    @field_validator("code")
    @classmethod
    def _code_for_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        code = value.upper()
        kind = info.data.get("kind")
        if kind is OrganisationKind.COUNCIL and not GSS_CODE.fullmatch(code):
            raise _invalid(
                "council_code",
                "a council's code is its ONS GSS code: E, W, S or N and eight digits "
                "(for example E06000001); got '{code}'",
                code=value,
            )
        if kind is not OrganisationKind.COUNCIL and not OTHER_CODE.fullmatch(code):
            raise _invalid(
                "organisation_code",
                "the code must be 2 to 32 characters of A-Z, 0-9 and '-'; got '{code}'",
                code=value,
            )
        return code

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise _invalid(
                "contact_email",
                "give a contact e-mail address such as digital@example.gov.uk; got '{email}'",
                email=value,
            )
        return value

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not ENDPOINT_NAME.fullmatch(name):
                raise _invalid(
                    "endpoint_name",
                    "endpoint name '{name}' must start with a-z and use only a-z, 0-9 and '-' "
                    "(at most 32 characters)",
                    name=name,
                )
            _check_endpoint_url(name, url)
        return value


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each field that failed and why, for the command line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )


@dataclass(frozen=True, slots=True)
class Organisation:
    """A connected council, department or agency."""

    id: str
    name: str
    kind: OrganisationKind
    code: str | None
    contact_email: str
    endpoints: dict[str, str]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "code": self.code,
            "contact_email": self.contact_email,
            "endpoints": dict(self.endpoints),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Organisation:
        return cls(
            id=data["id"],
            name=data["name"],
            kind=OrganisationKind(data["kind"]),
            code=data["code"],
            contact_email=data["contact_email"],
            endpoints=dict(data["endpoints"]),
            created_at=data["created_at"],
        )


def format_serial(serial: int) -> str:
    """How serials are written everywhere in the registry: lowercase hex, no separators."""
    return format(serial, "x")


def parse_serial(text: str) -> int | None:
    """A serial as people copy it (``0A:1b:…``, ``0x…``, any case), or None if it is not one."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    return int(cleaned, 16) if SERIAL_HEX.fullmatch(cleaned) else None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A client certificate the organisations CA issued, and whether it is revoked."""

    serial: str
    org_id: str
    fingerprint: str
    not_before: str
    not_after: str
    status: CertificateStatus
    revoked_at: str | None
    reason: str | None
    pem: str

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "org_id": self.org_id,
            "fingerprint": self.fingerprint,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "status": self.status.value,
            "revoked_at": self.revoked_at,
            "reason": self.reason,
            "pem": self.pem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertificateRecord:
        return cls(
            serial=data["serial"],
            org_id=data["org_id"],
            fingerprint=data["fingerprint"],
            not_before=data["not_before"],
            not_after=data["not_after"],
            status=CertificateStatus(data["status"]),
            revoked_at=data["revoked_at"],
            reason=data["reason"],
            pem=data["pem"],
        )


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of the CRL: which serial, when, why, and until when it must stay listed."""

    serial: int
    revoked_at: datetime
    reason: str | None
    not_after: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": format_serial(self.serial),
            "revoked_at": self.revoked_at.isoformat(),
            "reason": self.reason,
            "not_after": self.not_after.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Revocation:
        return cls(
            serial=int(data["serial"], 16),
            revoked_at=datetime.fromisoformat(data["revoked_at"]),
            reason=data["reason"],
            not_after=datetime.fromisoformat(data["not_after"]),
        )
