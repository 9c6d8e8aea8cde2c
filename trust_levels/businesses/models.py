"""Businesses, their members, invitations and service enrolments (DESIGN.md §2: a business is
an organisation with member users and roles, and service enrolments).

:class:`Business` and :class:`Membership` are the interface other packages use (the agents
package builds agent/client relationships on agent businesses). Values that come from people
are checked when built: holding a :class:`NewBusiness`, a group name from
:func:`group_names` or a service from :func:`service_name` means it passed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from trust_levels.businesses.errors import (
    InvalidBusinessDetailsError,
    InvalidGroupError,
    InvalidServiceError,
)
from trust_levels.businesses.numbers import RegisteredNumber, charity_number, company_number

ID_PREFIX = "bus"
INVITATION_PREFIX = "binv"
MAX_NAME = 160
MAX_GROUPS = 20
# Agent user groups: short names an administrator types ("Payroll team", "VAT - north").
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9 '&.-]{0,39}")
# A service is named as the scope its relying parties ask for (RFC 6749 §3.3 scope-token,
# narrowed to lower-case letters, digits and . _ : - as GovConnect's scopes are written).
_SERVICE = re.compile(r"[a-z][a-z0-9._:-]{1,63}")
# OpenID Connect's own scopes (OIDC Core §5.4, §11) name claims or behaviour, not services.
RESERVED_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    MEMBER = "member"


class BusinessKind(StrEnum):
    COMPANY = "company"
    CHARITY = "charity"
    SOLE_TRADER = "sole_trader"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Business:
    id: str  # "bus_..." (gateway.core.ids.new_id("bus"))
    name: str
    kind: str  # a BusinessKind value
    number: str | None  # Companies House number or charity number, validated
    agent: bool  # True: an agent organisation (accountant, advice charity, attorney…)
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "number": self.number,
            "agent": self.agent,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Business:
        return cls(
            id=data["id"],
            name=data["name"],
            kind=BusinessKind(data["kind"]).value,
            number=data["number"],
            agent=bool(data["agent"]),
            created_at=datetime.fromisoformat(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Membership:
    business_id: str
    account_id: str
    role: Role
    groups: frozenset[str]  # agent user groups this member belongs to (empty if none)
    joined_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "business_id": self.business_id,
            "account_id": self.account_id,
            "role": self.role.value,
            "groups": sorted(self.groups),
            "joined_at": self.joined_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class NewBusiness:
    """What a person asks for when they create a business, checked."""

    name: str
    kind: BusinessKind
    number: RegisteredNumber | None
    agent: bool

    @classmethod
    def parse(cls, name: str, kind: str, number: str, *, agent: bool) -> NewBusiness:
        """Check the form's answers; :class:`InvalidBusinessDetailsError` names the field.

        A company needs its Companies House number and a charity its charity number; a sole
        trader has no registered number; another kind of body may give a Companies House
        number (a limited liability partnership, a registered society).
        """
        cleaned = " ".join(name.split())
        if not cleaned:
            raise InvalidBusinessDetailsError(
                "Give the business's name.", field="name", reason="name_missing"
            )
        if len(cleaned) > MAX_NAME or any(
            unicodedata.category(ch).startswith("C") for ch in cleaned
        ):
            raise InvalidBusinessDetailsError(
                f"The name must be at most {MAX_NAME} characters, with no control characters.",
                field="name",
                reason="name_invalid",
            )
        try:
            business_kind = BusinessKind(kind)
        except ValueError:
            raise InvalidBusinessDetailsError(
                "The kind is one of " + ", ".join(k.value for k in BusinessKind) + ".",
                field="kind",
                reason="kind_missing",
            ) from None
        given = number.strip()
        registered: RegisteredNumber | None = None
        if business_kind is BusinessKind.COMPANY:
            if not given:
                raise InvalidBusinessDetailsError(
                    "A company needs its Companies House number.",
                    field="number",
                    reason="company_number_missing",
                )
            registered = company_number(given)
        elif business_kind is BusinessKind.CHARITY:
            if not given:
                raise InvalidBusinessDetailsError(
                    "A charity needs its charity number.",
                    field="number",
                    reason="charity_number_missing",
                )
            registered = charity_number(given)
        elif business_kind is BusinessKind.SOLE_TRADER:
            if given:
                raise InvalidBusinessDetailsError(
                    "A sole trader has no registered number; leave it empty.",
                    field="number",
                    reason="sole_trader_number",
                )
        elif given:
            registered = company_number(given)
        return cls(cleaned, business_kind, registered, agent)


@dataclass(frozen=True, slots=True)
class Invitation:
    """An invitation waiting for its person. The link's secret is never kept: ``digest`` is
    its SHA-256, which finds the invitation and cannot be turned back into a link."""

    id: str
    business_id: str
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "business_id": self.business_id,
            "email": self.email,
            "role": self.role.value,
            "invited_by": self.invited_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Invitation:
        return cls(
            id=data["id"],
            business_id=data["business_id"],
            email=data["email"],
            role=Role(data["role"]),
            invited_by=data["invited_by"],
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            digest=data["digest"],
        )


@dataclass(frozen=True, slots=True)
class InvitationView:
    """What the page behind an invitation link shows before the person accepts."""

    invitation: Invitation
    business: Business


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A business enrolled in a service (named as the scope its relying parties ask for)."""

    business_id: str
    service: str
    enrolled_by: str
    enrolled_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "business_id": self.business_id,
            "service": self.service,
            "enrolled_by": self.enrolled_by,
            "enrolled_at": self.enrolled_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Enrolment:
        return cls(
            business_id=data["business_id"],
            service=data["service"],
            enrolled_by=data["enrolled_by"],
            enrolled_at=datetime.fromisoformat(data["enrolled_at"]),
        )


@dataclass(frozen=True, slots=True)
class MemberView:
    """A member as the business's pages show them: with their email address (``None`` when
    the account has been deleted since)."""

    membership: Membership
    email: str | None


def group_names(names: list[str]) -> frozenset[str]:
    """Agent user group names, spaces tidied; :class:`InvalidGroupError` for a bad one."""
    cleaned = {" ".join(name.split()) for name in names if name.strip()}
    if len(cleaned) > MAX_GROUPS:
        raise InvalidGroupError(f"A member can be in at most {MAX_GROUPS} groups.")
    for name in cleaned:
        if not _GROUP.fullmatch(name):
            raise InvalidGroupError(
                f"{name[:40]!r} is not a group name: up to 40 letters, digits, spaces and "
                "' & . - , starting with a letter or digit."
            )
    return frozenset(cleaned)


def service_name(value: str) -> str:
    """A service named as a scope; :class:`InvalidServiceError` otherwise."""
    service = value.strip()
    if not _SERVICE.fullmatch(service) or service in RESERVED_SCOPES:
        raise InvalidServiceError(
            f"{service[:64]!r} is not a service name: 2 to 64 characters of a-z, 0-9 and . _ : "
            "-, starting with a letter, as the service's scope is written (not an OpenID "
            "Connect scope such as openid or email)."
        )
    return service
