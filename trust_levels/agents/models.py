"""Agent relationships: a client's authority for an agent organisation to act for them in one
service (DESIGN.md §2, "an intermediary … under a relationship that a client accepted, per
service, revocable, with expiry").

A relationship starts as an invitation (``pending``) and ends ``declined``, ``expired`` or
``revoked``; while ``active`` the organisation's users (all, or those in the listed groups) may
obtain tokens for the client by token exchange (RFC 8693), with the client as ``sub`` and the
agent user in ``act``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from trust_levels.agents.errors import InvalidKnownFactsError

ID_PREFIX = "rel"
# A UK postcode (BS 7666 shape): outward code, then inward code of a digit and two letters.
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
MAX_CLIENT_NAME = 100


class RelationshipState(StrEnum):
    PENDING = "pending"  # invited, not yet answered
    ACTIVE = "active"  # accepted: the agent may act for the client
    DECLINED = "declined"  # the client said no
    EXPIRED = "expired"  # the invitation was not answered in time, or the end date passed
    REVOKED = "revoked"  # withdrawn by the agent or the client


class Side(StrEnum):
    """Who ended a relationship."""

    AGENT = "agent"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class KnownFacts:
    """What the agent and the client each know about the client: a postcode and a date of
    birth, normalised when built so that ``SW1A 1AA`` and ``sw1a1aa`` are the same fact."""

    postcode: str
    birth_date: date

    @classmethod
    def of(cls, postcode: str, day: str, month: str, year: str) -> KnownFacts:
        """From what a person typed; :class:`InvalidKnownFactsError` names the field to fix."""
        code = "".join(postcode.split()).upper()
        if not _POSTCODE.match(code):
            raise InvalidKnownFactsError("Enter a real postcode, like SW1A 1AA", field="postcode")
        try:
            born: date | None = date(int(year), int(month), int(day))
        except ValueError:
            born = None
        if born is None or born.year < 1900:
            raise InvalidKnownFactsError(
                "Enter a real date of birth, like 27 3 1980", field="birth_date"
            )
        return cls(code, born)

    def canonical(self) -> str:
        """The one spelling the keyed hash is taken over."""
        return f"{self.postcode}\x00{self.birth_date.isoformat()}"


def end_of(day: date) -> datetime:
    """A relationship's end date counts whole: it ends at midnight (UTC) after that day."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Relationship:
    """One agent organisation's authority (or request for it) for one client and service.

    ``state`` is as stored; :meth:`state_at` is what it is at a moment (a pending invitation
    past its expiry, or an active relationship past its end, is ``expired`` without anyone
    writing it). The invitation link and the known facts are kept only as keyed digests, in
    the store, never here.
    """

    id: str
    agent_id: str
    service: str
    invitee_email: str
    groups: frozenset[str]
    state: RelationshipState
    invited_by: str
    invited_at: datetime
    invitation_expires_at: datetime
    ends_at: datetime | None
    client_account_id: str | None = None
    client_name: str | None = None
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: Side | None = None
    attempts: int = 0

    def state_at(self, now: datetime) -> RelationshipState:
        if self.state is RelationshipState.PENDING and now >= self.invitation_expires_at:
            return RelationshipState.EXPIRED
        if (
            self.state is RelationshipState.ACTIVE
            and self.ends_at is not None
            and now >= self.ends_at
        ):
            return RelationshipState.EXPIRED
        return self.state

    def permits(self, groups: frozenset[str]) -> bool:
        """Whether a member in ``groups`` may act under it: any member when it names no
        groups, else a member of at least one named group."""
        return not self.groups or bool(self.groups & groups)

    def to_fields(self) -> dict[str, str]:
        """The store's hash fields (absent values are left out)."""
        values: dict[str, Any] = {
            "id": self.id,
            "agent_id": self.agent_id,
            "service": self.service,
            "invitee_email": self.invitee_email,
            "groups": "\n".join(sorted(self.groups)),
            "state": self.state.value,
            "invited_by": self.invited_by,
            "invited_at": self.invited_at.isoformat(),
            "invitation_expires_at": self.invitation_expires_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "client_account_id": self.client_account_id,
            "client_name": self.client_name,
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "ended_by": self.ended_by.value if self.ended_by else None,
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Relationship:
        def moment(name: str) -> datetime | None:
            value = fields.get(name)
            return datetime.fromisoformat(value) if value else None

        invited_at, expires_at = moment("invited_at"), moment("invitation_expires_at")
        assert invited_at is not None and expires_at is not None
        ended_by = fields.get("ended_by")
        return cls(
            id=fields["id"],
            agent_id=fields["agent_id"],
            service=fields["service"],
            invitee_email=fields["invitee_email"],
            groups=frozenset(g for g in fields.get("groups", "").split("\n") if g),
            state=RelationshipState(fields["state"]),
            invited_by=fields["invited_by"],
            invited_at=invited_at,
            invitation_expires_at=expires_at,
            ends_at=moment("ends_at"),
            client_account_id=fields.get("client_account_id"),
            client_name=fields.get("client_name"),
            accepted_at=moment("accepted_at"),
            ended_at=moment("ended_at"),
            ended_by=Side(ended_by) if ended_by else None,
            attempts=int(fields.get("attempts", "0")),
        )


@dataclass(frozen=True, slots=True)
class Invitation:
    """A relationship just created, with the one copy of its link's secret (emailed, never
    stored)."""

    relationship: Relationship
    token: str


@dataclass(frozen=True, slots=True)
class Delegation:
    """What a token exchange may issue under an active relationship: the client it is for,
    the agent organisation acting, the service, and when the authority ends (if it does)."""

    relationship_id: str
    client_account_id: str
    agent_id: str
    service: str
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class UsableClient:
    """A relationship an agent user may use, as the agent sees it: only what the client agreed
    to show (the name they gave when accepting)."""

    relationship_id: str
    agent_id: str
    service: str
    client_name: str
    ends_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "relationship_id": self.relationship_id,
            "agent_organisation_id": self.agent_id,
            "service": self.service,
            "client_name": self.client_name,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
        }
