"""The messaging domain (DESIGN.md §4): council service teams, inboxes, conversations and
messages, and the requests a council system sends.

An **inbox** belongs to an :class:`Owner`: a citizen (an account), a business (shared by its
members) or a council service :class:`Team` (shared by the staff on it). A **conversation** is
between one team and one citizen or business: a subject, the council's case reference, and
messages in order, written by either side. A message's body and attachments are sealed
(:mod:`messaging.crypto`); what is here in the clear is only what routing, listing and
retention need.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.ids import looks_like_id
from messaging.errors import InvalidCursorError
from trust_levels.errors import InvalidVectorError
from trust_levels.models import Vector

TEAM_PREFIX = "tm"
CONVERSATION_PREFIX = "cnv"
MESSAGE_PREFIX = "msg"
ATTACHMENT_PREFIX = "att"
MESSAGES_SCOPE = "messages"
MAX_BODY = 20_000
MAX_SUBJECT = 150
MAX_REFERENCE = 64
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# A page of the council API's conversation list: at most this many, this many unless asked.
PAGE_MAX = 200
PAGE_DEFAULT = 50
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,512}")
_CURSOR_FIELDS = {"at", "id", "team"}


class OwnerKind(StrEnum):
    CITIZEN = "citizen"
    BUSINESS = "business"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose inbox: ``citizen:<account id>``, ``business:<business id>``, ``team:<team id>``."""

    kind: OwnerKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Owner:
        kind, _, ident = text.partition(":")
        return cls(OwnerKind(kind), ident)


class Side(StrEnum):
    """Who wrote a message: the council (its system or its staff) or the citizen's side."""

    COUNCIL = "council"
    CITIZEN = "citizen"


class ConversationState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Folder(StrEnum):
    """Where a conversation sits in the citizen's own view (never the council's record)."""

    INBOX = "inbox"
    ARCHIVED = "archived"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Team:
    """A council service team: staff of one organisation answering one service's messages,
    with that service's retention (days in the citizen's view, then days kept for the
    council's record before the message is destroyed)."""

    id: str
    organisation_id: str
    name: str
    service: str
    view_days: int
    record_days: int
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "name": self.name,
            "service": self.service,
            "view_days": self.view_days,
            "record_days": self.record_days,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Team:
        return cls(
            id=data["id"],
            organisation_id=data["organisation_id"],
            name=data["name"],
            service=data["service"],
            view_days=int(data["view_days"]),
            record_days=int(data["record_days"]),
            created_at=datetime.fromisoformat(data["created_at"]),
        )


class NewTeam(BaseModel):
    """An operator's request to add a team (admin API or ``govconnect messaging teams add``)."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    service: str
    view_days: int = Field(default=365, ge=1, le=3_650)
    record_days: int = Field(default=2_190, ge=0, le=36_500)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError("service must be lower-case letters, digits and hyphens")
        return value


@dataclass(frozen=True, slots=True)
class Conversation:
    """One thread between a team and a citizen or business."""

    id: str
    team_id: str
    organisation_id: str
    service: str
    owner: Owner
    subject: str
    reference: str | None
    created_at: datetime
    updated_at: datetime
    state: ConversationState = ConversationState.OPEN
    assigned_to: str | None = None

    def record(self) -> str:
        """The fields that never change, as stored."""
        return json.dumps(
            {
                "id": self.id,
                "team_id": self.team_id,
                "organisation_id": self.organisation_id,
                "service": self.service,
                "owner": str(self.owner),
                "subject": self.subject,
                "reference": self.reference,
                "created_at": self.created_at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Conversation:
        data = json.loads(fields["record"])
        return cls(
            id=data["id"],
            team_id=data["team_id"],
            organisation_id=data["organisation_id"],
            service=data["service"],
            owner=Owner.parse(data["owner"]),
            subject=data["subject"],
            reference=data["reference"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(fields["updated_at"]),
            state=ConversationState(fields.get("state", "open")),
            assigned_to=fields.get("assigned_to") or None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team": self.team_id,
            "service": self.service,
            "subject": self.subject,
            "reference": self.reference,
            "state": self.state.value,
            "assigned_to": self.assigned_to,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """What the sealed body says about one attachment (its name is sealed with the body)."""

    id: str
    filename: str
    content_type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentInfo:
        return cls(data["id"], data["filename"], data["content_type"], int(data["size"]))


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """A message as stored in the clear: who wrote it when, the level it demands, its
    retention dates, and its read receipt (the first time the other side opened it)."""

    id: str
    conversation_id: str
    side: Side
    author: str  # an evidence-log actor: "client:<id>" or "account:<id>"
    sent_at: datetime
    level: str | None
    visible_until: datetime
    destroy_at: datetime
    read_at: datetime | None = None
    read_by: str | None = None
    destroyed: bool = False

    def dumps(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "conversation_id": self.conversation_id,
                "side": self.side.value,
                "author": self.author,
                "sent_at": self.sent_at.isoformat(),
                "level": self.level,
                "visible_until": self.visible_until.isoformat(),
                "destroy_at": self.destroy_at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> MessageMeta:
        data = json.loads(fields["meta"])
        read_at = fields.get("read_at")
        return cls(
            id=data["id"],
            conversation_id=data["conversation_id"],
            side=Side(data["side"]),
            author=data["author"],
            sent_at=datetime.fromisoformat(data["sent_at"]),
            level=data["level"],
            visible_until=datetime.fromisoformat(data["visible_until"]),
            destroy_at=datetime.fromisoformat(data["destroy_at"]),
            read_at=datetime.fromisoformat(read_at) if read_at else None,
            read_by=fields.get("read_by"),
            destroyed="destroyed_at" in fields,
        )

    def visible_at(self, now: datetime) -> bool:
        return not self.destroyed and now < self.visible_until


@dataclass(frozen=True, slots=True)
class Message:
    """A message opened for a reader: its metadata, body and attachment list."""

    meta: MessageMeta
    body: str | None
    attachments: tuple[AttachmentInfo, ...] = ()

    def to_json(self) -> dict[str, Any]:
        meta = self.meta
        return {
            "id": meta.id,
            "from": meta.side.value,
            "sent_at": meta.sent_at.isoformat(),
            "level": meta.level,
            "body": self.body,
            "attachments": [a.to_json() for a in self.attachments],
            "read_at": meta.read_at.isoformat() if meta.read_at else None,
            "destroyed": meta.destroyed,
        }


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation and the messages its reader may see, oldest first."""

    conversation: Conversation
    team: Team
    organisation_name: str
    messages: tuple[Message, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.conversation.to_json(), "messages": [m.to_json() for m in self.messages]}


@dataclass(frozen=True, slots=True)
class Summary:
    """A line of an inbox: the conversation, who wrote (council and team), whether the
    reader's side has unread messages in it, and the level it demands."""

    conversation: Conversation
    team: Team
    organisation_name: str
    unread: int
    folder: Folder = Folder.INBOX


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where a page of a council's conversations ended: the last inbox entry it covered (its
    score, the last activity in ms, and its conversation id) and the ``team`` filter the page
    was asked with, so the next page continues the same list (see
    :meth:`~messaging.services.Messaging.council_conversations`).

    Callers see it only as :meth:`encode`'s text: unpadded base64url (RFC 4648 §5) of a JSON
    object, which they pass back unchanged. :meth:`decode` checks every field, so only a
    cursor of this shape reaches the store."""

    at: int
    conversation_id: str
    team: str | None

    def encode(self) -> str:
        document = {"at": self.at, "id": self.conversation_id, "team": self.team}
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> PageCursor:
        """The cursor :meth:`encode` wrote, or :class:`~messaging.errors.InvalidCursorError`."""
        data: Any = None
        if _CURSOR.fullmatch(text):
            # binascii.Error, UnicodeDecodeError and JSONDecodeError are all ValueErrors.
            with contextlib.suppress(ValueError):
                data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if (
            isinstance(data, dict)
            and data.keys() == _CURSOR_FIELDS
            and type(data["at"]) is int
            and 0 <= data["at"] < 2**53  # exact in a double, as Redis keeps scores
            and isinstance(data["id"], str)
            and looks_like_id(data["id"], CONVERSATION_PREFIX)
            and (data["team"] is None or isinstance(data["team"], str))
        ):
            return cls(data["at"], data["id"], data["team"])
        raise InvalidCursorError(
            "The before parameter is not a cursor this API gave. Follow the next link of the "
            "previous page unchanged, or leave before out to start from the newest conversation."
        )


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of a council's conversations, newest first, and the cursor of the next page
    (None on the last)."""

    summaries: tuple[Summary, ...]
    next: PageCursor | None


@dataclass(frozen=True, slots=True)
class Upload:
    """An attachment as received, before checking: the name and bytes sent."""

    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Council:
    """A council system calling the API: its client and organisation."""

    client_id: str
    organisation_id: str

    @property
    def actor(self) -> str:
        return f"client:{self.client_id}"


@dataclass(frozen=True, slots=True)
class Sent:
    """A message accepted: its conversation and metadata; ``replayed`` when an
    Idempotency-Key retry returned the first answer."""

    conversation: Conversation
    message: MessageMeta
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation.id,
            "message": self.message.id,
            "sent_at": self.message.sent_at.isoformat(),
            "level": self.message.level,
        }


def demanded(levels: Any) -> Vector | None:
    """The strongest of the levels named (each a vector string, or None)."""
    found = [Vector.parse(level) for level in levels if level]
    if not found:
        return None
    return Vector(max(v.credential for v in found), max(v.identity for v in found))


def retention(team: Team, sent_at: datetime) -> tuple[datetime, datetime]:
    """When a message leaves the citizen's view, and when it is destroyed."""
    visible_until = sent_at + timedelta(days=team.view_days)
    return visible_until, visible_until + timedelta(days=team.record_days)


def _level(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(Vector.parse(value))
    except InvalidVectorError as exc:
        raise ValueError(exc.detail) from None


class Recipient(BaseModel):
    """Whom a council writes to: the pairwise ``sub`` it was given at a citizen's sign-in (or
    in a submission), or a business by its GovConnect id. Never an email address."""

    model_config = ConfigDict(extra="forbid")

    sub: str | None = Field(default=None, min_length=1, max_length=128)
    business: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> Recipient:
        if (self.sub is None) == (self.business is None):
            raise ValueError("name exactly one of sub or business")
        return self


class NewReply(BaseModel):
    """A message in an existing conversation: its body and the level it demands to be read
    (a vector of trust such as ``Cl.Cm``)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_BODY)
    level: str | None = Field(default=None, max_length=16)

    @field_validator("level")
    @classmethod
    def _valid_level(cls, value: str | None) -> str | None:
        return _level(value)


class NewConversation(NewReply):
    """A council's first message to a citizen or business, from one of its teams."""

    team: str = Field(min_length=1, max_length=64)
    to: Recipient
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    reference: str | None = Field(default=None, max_length=MAX_REFERENCE)
