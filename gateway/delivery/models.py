"""Services, routing rules, recipients' delivery settings and submissions (DESIGN.md §3).

:class:`NewService`, :class:`NewRoute` and :class:`NewRecipientSettings` validate what an
operator asks for; :class:`Service`, :class:`RoutingRule`, :class:`RecipientSettings` and
:class:`Submission` are what the store holds, so holding one means it was accepted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gateway.organisations.models import _check_endpoint_url
from trust_levels.assurance import Assurance
from trust_levels.errors import InvalidVectorError
from trust_levels.models import Vector

SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{1,63}")
SERVICE_VERSION = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,2}")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
MAX_BODY_BYTES = 900_000  # under the gateway's 1 MiB request limit, with room for the rest
DEFAULT_BODY_BYTES = 64 * 1024
DEFAULT_RETENTION_DAYS = 90
# What an attachment may be: the types gateway.delivery.uploads recognises by their content.
ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain")
MAX_ATTACHMENTS = 20
DEFAULT_ATTACHMENTS = 5
# Also bounded by the whole request's limit (GOVCONNECT_MAX_REQUEST_BYTES).
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
DEFAULT_ATTACHMENT_BYTES = 512 * 1024


def _invalid(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


class NewService(BaseModel):
    """A service to register: a document type (``name``) at a ``version``, the JSON Schema its
    bodies must match (``schema``), the level of assurance a citizen's submission needs, size
    limits and how long bodies are kept."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(description="The document type: a-z, 0-9 and '-', 2-64 characters.")
    version: str = Field(description="1, 1.2 or 1.2.3.")
    title: str = Field(min_length=1, max_length=200)
    json_schema: dict[str, Any] = Field(
        alias="schema", description="The JSON Schema (draft 2020-12 unless $schema says)."
    )
    min_level: str | None = Field(
        default=None,
        description="The vector of trust a citizen's submission needs, e.g. Cl.Cm.P2.",
    )
    max_body_bytes: int = Field(default=DEFAULT_BODY_BYTES, ge=2, le=MAX_BODY_BYTES)
    # At least a week: a submission must outlive the push retries (about three days).
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=7, le=3650)
    attachment_types: tuple[str, ...] = Field(
        default=(),
        description="The media types an attachment may have (checked by its content); none: "
        f"no attachments. Any of {', '.join(ATTACHMENT_TYPES)}.",
    )
    max_attachments: int = Field(default=DEFAULT_ATTACHMENTS, ge=1, le=MAX_ATTACHMENTS)
    max_attachment_bytes: int = Field(
        default=DEFAULT_ATTACHMENT_BYTES, ge=1, le=MAX_ATTACHMENT_BYTES
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SERVICE_NAME.fullmatch(value):
            raise _invalid(
                "service_name",
                "a service name is 2-64 characters of a-z, 0-9 and '-', starting with a letter; "
                "got '{name}'",
                name=value,
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not SERVICE_VERSION.fullmatch(value):
            raise _invalid(
                "service_version", "give a version such as 1, 1.2 or 1.2.3; got '{v}'", v=value
            )
        return value

    @field_validator("min_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(Vector.parse(value))
        except InvalidVectorError as exc:
            raise _invalid("min_level", "{reason}", reason=exc.detail) from None

    @field_validator("attachment_types")
    @classmethod
    def _attachment_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ATTACHMENT_TYPES))
        if unknown:
            raise _invalid(
                "attachment_types",
                "the gateway recognises attachments of {known} by their content; not {unknown}",
                known=", ".join(ATTACHMENT_TYPES),
                unknown=", ".join(unknown),
            )
        return tuple(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class Service:
    """A registered service. ``key`` (``name@version``) names it in submissions and logs."""

    name: str
    version: str
    title: str
    json_schema: dict[str, Any]
    min_level: str | None
    max_body_bytes: int
    retention_days: int
    created_at: str
    attachment_types: tuple[str, ...] = ()
    max_attachments: int = DEFAULT_ATTACHMENTS
    max_attachment_bytes: int = DEFAULT_ATTACHMENT_BYTES

    @property
    def key(self) -> str:
        return service_key(self.name, self.version)

    @property
    def level(self) -> Vector | None:
        return None if self.min_level is None else Vector.parse(self.min_level)

    @classmethod
    def of(cls, new: NewService, created_at: str) -> Service:
        return cls(
            name=new.name,
            version=new.version,
            title=new.title,
            json_schema=dict(new.json_schema),
            min_level=new.min_level,
            max_body_bytes=new.max_body_bytes,
            retention_days=new.retention_days,
            created_at=created_at,
            attachment_types=new.attachment_types,
            max_attachments=new.max_attachments,
            max_attachment_bytes=new.max_attachment_bytes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "schema": self.json_schema,
            "min_level": self.min_level,
            "max_body_bytes": self.max_body_bytes,
            "retention_days": self.retention_days,
            "created_at": self.created_at,
            "attachment_types": list(self.attachment_types),
            "max_attachments": self.max_attachments,
            "max_attachment_bytes": self.max_attachment_bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Service:
        return cls(
            name=data["name"],
            version=data["version"],
            title=data["title"],
            json_schema=dict(data["schema"]),
            min_level=data["min_level"],
            max_body_bytes=int(data["max_body_bytes"]),
            retention_days=int(data["retention_days"]),
            created_at=data["created_at"],
            # Services registered before attachments existed take none.
            attachment_types=tuple(data.get("attachment_types", ())),
            max_attachments=int(data.get("max_attachments", DEFAULT_ATTACHMENTS)),
            max_attachment_bytes=int(data.get("max_attachment_bytes", DEFAULT_ATTACHMENT_BYTES)),
        )


def service_key(name: str, version: str) -> str:
    return f"{name}@{version}"


class NewRoute(BaseModel):
    """A routing rule to add: ``sender`` may send ``service`` (any version) to ``recipient``
    (X-Road style per-service access rights; both are organisation ids)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sender: str = Field(min_length=1, max_length=64)
    service: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=64)


@dataclass(frozen=True, slots=True)
class RoutingRule:
    id: str
    sender: str
    service: str
    recipient: str
    created_at: str

    @property
    def triple(self) -> str:
        """What makes a rule unique: the index field of the store."""
        return route_triple(self.sender, self.service, self.recipient)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "service": self.service,
            "recipient": self.recipient,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoutingRule:
        return cls(
            data["id"], data["sender"], data["service"], data["recipient"], data["created_at"]
        )


def route_triple(sender: str, service: str, recipient: str) -> str:
    return f"{sender} {service} {recipient}"


class DeliveryMode(StrEnum):
    """Push: the gateway posts each submission to the recipient's endpoint (Standard Webhooks).
    Pull: the recipient lists, fetches and acknowledges (HMRC Transaction Engine style). A
    pushed submission can be pulled too; only the acknowledgement settles it."""

    PUSH = "push"
    PULL = "pull"


class NewRecipientSettings(BaseModel):
    """How an organisation receives its submissions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: DeliveryMode
    endpoint: str | None = Field(default=None, max_length=2048)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            _check_endpoint_url("webhook", value)
        return value

    @model_validator(mode="after")
    def _push_needs_endpoint(self) -> NewRecipientSettings:
        if self.mode is DeliveryMode.PUSH and self.endpoint is None:
            raise _invalid("endpoint", "push delivery needs an endpoint URL")
        return self


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """One signing secret of a recipient (Standard Webhooks "whsec_" secret), held sealed.
    While a rotation's grace lasts the old secret signs beside the new one, so a recipient
    can move over without missing a delivery."""

    id: str
    sealed: str
    created_at: str
    expires_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sealed": self.sealed,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebhookSecret:
        return cls(data["id"], data["sealed"], data["created_at"], data.get("expires_at"))


@dataclass(frozen=True, slots=True)
class RecipientSettings:
    organisation_id: str
    mode: DeliveryMode
    endpoint: str | None
    secrets: tuple[WebhookSecret, ...]
    updated_at: str

    @property
    def pushes(self) -> bool:
        """Whether submissions are pushed to an endpoint (else the recipient pulls them)."""
        return self.mode is DeliveryMode.PUSH and bool(self.endpoint)

    def public_json(self) -> dict[str, Any]:
        """What an operator sees: never a secret, sealed or not."""
        return {
            "organisation_id": self.organisation_id,
            "mode": self.mode.value,
            "endpoint": self.endpoint,
            "secrets": [
                {"id": s.id, "created_at": s.created_at, "expires_at": s.expires_at}
                for s in self.secrets
            ],
            "updated_at": self.updated_at,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "organisation_id": self.organisation_id,
            "mode": self.mode.value,
            "endpoint": self.endpoint,
            "secrets": [s.to_json() for s in self.secrets],
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecipientSettings:
        return cls(
            organisation_id=data["organisation_id"],
            mode=DeliveryMode(data["mode"]),
            endpoint=data["endpoint"],
            secrets=tuple(WebhookSecret.from_json(s) for s in data["secrets"]),
            updated_at=data["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class IssuedRecipientSettings:
    """Settings just made or rotated, with the new secret shown this once."""

    settings: RecipientSettings
    secret: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.settings.public_json()
        if self.secret is not None:
            data["webhook_secret"] = self.secret
        return data


@dataclass(frozen=True, slots=True)
class Sender:
    """Who submits, as proven by the access token: a back-office client of an organisation,
    or a council website acting for a signed-in citizen (``account_id`` and the token's
    claims, and the level they show, ``acr`` reached at ``auth_time``)."""

    client_id: str
    organisation_id: str
    account_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    assurance: Assurance | None = None

    @property
    def for_citizen(self) -> bool:
        return self.account_id is not None


class SubmissionRequest(BaseModel):
    """``POST /api/v1/submissions`` (JSON): what to send to whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient: str = Field(min_length=1, max_length=64, description="The recipient org id.")
    service: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=16)
    reference: str | None = Field(
        default=None, max_length=128, description="The sender's own reference, echoed back."
    )
    body: dict[str, Any]
    sender_signature: str | None = Field(
        default=None,
        max_length=8192,
        description="The sender's own signature: a detached JWS (RFC 7515 Appendix F, "
        "'<protected>..<signature>') over the envelope payload, by a key registered for the "
        "sending client.",
    )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a submission, its media type found from its content
    (:mod:`gateway.delivery.uploads`); it travels in the envelope by its SHA-256 digest."""

    name: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Its entry in the envelope payload."""
        return {
            "name": self.name,
            "media_type": self.media_type,
            "size": len(self.data),
            "sha256": self.sha256,
        }


class State(StrEnum):
    """Where a submission is. ``failed`` is final for push (dead-lettered); the recipient
    can still pull and acknowledge it."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    RESPONDED = "responded"
    FAILED = "failed"


# A state reached is never left for an earlier one (a late push after a pull's
# acknowledgement changes nothing); failed sits below delivered so a pull still settles it.
STATE_ORDER = {
    State.ACCEPTED: 0,
    State.QUEUED: 1,
    State.FAILED: 2,
    State.DELIVERED: 3,
    State.ACKNOWLEDGED: 4,
    State.RESPONDED: 5,
}


@dataclass(frozen=True, slots=True)
class Submission:
    """A stored submission's facts (the envelope, receipt and proofs are kept beside it)."""

    id: str
    sender_org: str
    sender_client: str
    recipient_org: str
    service: str
    version: str
    reference: str | None
    payload_sha256: str
    request_sha256: str
    accepted_at: str
    delete_after: str
    state: State = State.ACCEPTED

    def with_state(self, state: State) -> Submission:
        return replace(self, state=state)

    def involves(self, organisation_id: str) -> bool:
        return organisation_id in (self.sender_org, self.recipient_org)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender_org": self.sender_org,
            "sender_client": self.sender_client,
            "recipient_org": self.recipient_org,
            "service": self.service,
            "version": self.version,
            "reference": self.reference,
            "payload_sha256": self.payload_sha256,
            "request_sha256": self.request_sha256,
            "accepted_at": self.accepted_at,
            "delete_after": self.delete_after,
            "state": self.state.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Submission:
        return cls(**{**data, "state": State(data["state"])})


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the sender gets back: the ids, the state and the signed receipt (a compact JWS)."""

    submission: Submission
    receipt: str
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.submission.id,
            "correlation_id": self.submission.id,
            "reference": self.submission.reference,
            "payload_sha256": self.submission.payload_sha256,
            "accepted_at": self.submission.accepted_at,
            "receipt": self.receipt,
        }


class ResponseOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class BusinessResponse(BaseModel):
    """A recipient's answer to a submission, routed back to the sender."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: ResponseOutcome
    case_reference: str | None = Field(default=None, max_length=128)
    reasons: list[str] = Field(default_factory=list, max_length=20)
    message: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> BusinessResponse:
        if self.outcome is ResponseOutcome.REJECTED and not self.reasons:
            raise _invalid("reasons", "a rejection gives at least one reason")
        return self


class AcknowledgementBody(BaseModel):
    """``POST …/acknowledgement``: the recipient's signed acknowledgement (compact JWS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acknowledgement: str = Field(min_length=10, max_length=8192)
