"""Tell Us Once: a change of address reported once and sent, with consent, to the
organisations the person chooses.

A :class:`Move` is what the person reported (two addresses with their UPRNs, the moving date,
who moves with them). Each organisation they agree to tell has a :class:`Notice`: the consent
(for that organisation and that purpose, with the fields its service declares), then the copy
sent through the delivery engine and what became of it. :class:`NewMove` validates a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MOVE_PREFIX = "mov"
# A UPRN is an integer of up to 12 digits (GeoPlace, "UPRN: the identifier").
UPRN = re.compile(r"[1-9][0-9]{0,11}")
# The name every change-of-address service starts with: an organisation registers by having
# a delivery service of this name (or ``change-of-address-…``) routed to it from the hub.
SERVICE_PREFIX = "change-of-address"
MAX_PEOPLE = 10
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as the gazetteer knows it, with its Unique Property Reference Number
    and the GSS code of the local authority it lies in (None when the lookup cannot say)."""

    uprn: str
    lines: tuple[str, ...]
    town: str
    postcode: str
    local_authority: str | None

    @property
    def label(self) -> str:
        return ", ".join((*self.lines, self.town, self.postcode))

    def to_json(self) -> dict[str, Any]:
        return {
            "uprn": self.uprn,
            "lines": list(self.lines),
            "town": self.town,
            "postcode": self.postcode,
            "local_authority": self.local_authority,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Address:
        return cls(
            str(data["uprn"]),
            tuple(data["lines"]),
            data["town"],
            data["postcode"],
            data.get("local_authority"),
        )

    def disclosed(self) -> dict[str, Any]:
        """What an organisation receives of it (the local authority code is the hub's
        business: it chose whom to suggest)."""
        return {
            "uprn": self.uprn,
            "lines": list(self.lines),
            "town": self.town,
            "postcode": self.postcode,
        }


def normalise_postcode(value: str) -> str:
    """``sw1a2aa`` → ``SW1A 2AA``: upper case, one space before the inward code."""
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


class NewMove(BaseModel):
    """A reported move: the UPRNs of the old and new addresses (from the lookup), the date,
    and the names of the people moving too."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    old_uprn: str
    new_uprn: str
    moving_date: date
    people: tuple[str, ...] = Field(default=(), max_length=MAX_PEOPLE)

    @field_validator("old_uprn", "new_uprn")
    @classmethod
    def _uprn(cls, value: str) -> str:
        if not UPRN.fullmatch(value):
            raise ValueError("a UPRN is a number of up to 12 digits")
        return value

    @field_validator("people")
    @classmethod
    def _people(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(n.strip() for n in value if n.strip())
        if any(len(n) > MAX_NAME or not n.isprintable() for n in names):
            raise ValueError(f"each name is at most {MAX_NAME} printable characters")
        return names

    @model_validator(mode="after")
    def _moved(self) -> NewMove:
        if self.old_uprn == self.new_uprn:
            raise ValueError("the old and new addresses are the same")
        return self


class MoveState(StrEnum):
    DRAFT = "draft"  # consent can still be given and withdrawn
    SENT = "sent"  # the copies went; consent is spent
    CONFIRMED = "confirmed"  # every organisation answered and the person was told


@dataclass(frozen=True, slots=True)
class Move:
    id: str
    account_id: str
    old_address: Address
    new_address: Address
    moving_date: str
    people: tuple[str, ...]
    created_at: str
    state: MoveState = MoveState.DRAFT

    def with_state(self, state: MoveState) -> Move:
        return replace(self, state=state)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "old_address": self.old_address.to_json(),
            "new_address": self.new_address.to_json(),
            "moving_date": self.moving_date,
            "people": list(self.people),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], state: MoveState) -> Move:
        return cls(
            id=data["id"],
            account_id=data["account_id"],
            old_address=Address.from_json(data["old_address"]),
            new_address=Address.from_json(data["new_address"]),
            moving_date=data["moving_date"],
            people=tuple(data["people"]),
            created_at=data["created_at"],
            state=state,
        )


class NoticeState(StrEnum):
    """Where one organisation's copy is, as the hub records it. ``sending`` is the claim taken
    just before the submission (a retry finishes it under the same Idempotency-Key);
    ``withdrawn`` can only follow ``consented``."""

    CONSENTED = "consented"
    WITHDRAWN = "withdrawn"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Status(StrEnum):
    """What the person sees for one organisation."""

    WAITING = "waiting"  # consent given, not sent yet
    WITHDRAWN = "withdrawn"
    NOT_SENT = "not-sent"  # the organisation's service refused the copy
    SENT = "sent"
    RECEIVED = "received"  # the organisation fetched or acknowledged it
    QUESTION = "question"  # it asked something, in the person's secure messages
    UPDATED = "updated"  # it answered: its records are updated
    NOT_UPDATED = "not-updated"  # it answered: it could not update them

    @property
    def answered(self) -> bool:
        return self in (Status.UPDATED, Status.NOT_UPDATED)


@dataclass(frozen=True, slots=True)
class Notice:
    """One organisation to tell: the consent (organisation, purpose, the fields its service
    declares, when), and the copy sent."""

    organisation_id: str
    organisation_name: str
    service: str
    version: str
    purpose: str
    fields: tuple[str, ...]
    consented_at: str
    state: NoticeState = NoticeState.CONSENTED
    withdrawn_at: str | None = None
    submission_id: str | None = None
    sent_at: str | None = None
    question_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "organisation_id": self.organisation_id,
            "organisation_name": self.organisation_name,
            "service": self.service,
            "version": self.version,
            "purpose": self.purpose,
            "fields": list(self.fields),
            "consented_at": self.consented_at,
            "withdrawn_at": self.withdrawn_at,
            "submission_id": self.submission_id,
            "sent_at": self.sent_at,
            "question_at": self.question_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], state: NoticeState) -> Notice:
        return cls(
            organisation_id=data["organisation_id"],
            organisation_name=data["organisation_name"],
            service=data["service"],
            version=data["version"],
            purpose=data["purpose"],
            fields=tuple(data["fields"]),
            consented_at=data["consented_at"],
            state=state,
            withdrawn_at=data.get("withdrawn_at"),
            submission_id=data.get("submission_id"),
            sent_at=data.get("sent_at"),
            question_at=data.get("question_at"),
        )


@dataclass(frozen=True, slots=True)
class Offer:
    """An organisation the person may tell: its change-of-address service (the newest
    version routed to it from the hub), the fields that service declares, and whether the
    hub suggests it (a council whose area holds the old or the new address)."""

    organisation_id: str
    organisation_name: str
    service: str
    version: str
    purpose: str
    fields: tuple[str, ...]
    suggested: bool


@dataclass(frozen=True, slots=True)
class Progress:
    """A notice with the status the person sees and the organisation's answer, if any."""

    notice: Notice
    status: Status
    case_reference: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MoveView:
    move: Move
    progress: tuple[Progress, ...]

    @property
    def all_answered(self) -> bool:
        sent = [p for p in self.progress if p.notice.submission_id is not None]
        return bool(sent) and all(p.status.answered for p in sent)


@dataclass(frozen=True, slots=True)
class Change:
    """A change of address as the receiving organisation knows it: its own submission, the
    person's pairwise ``sub`` for it, and only the fields its service declared."""

    submission_id: str
    sub: str
    service: str
    version: str
    sent_at: str
    status: Status
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "sub": self.sub,
            "service": self.service,
            "version": self.version,
            "sent_at": self.sent_at,
            "status": self.status.value,
            "body": self.body,
        }


class NewQuestion(BaseModel):
    """``POST /api/moves/v1/changes/{id}/question``: a receiving organisation's question,
    written to the person's secure messages from one of its teams."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(min_length=1, max_length=64)
    body: str = Field(min_length=1, max_length=5000)
