"""Notifications, templates and what the local outbox keeps.

A :class:`Notification` names a template and the values for its ``((placeholders))``; the
text itself comes from the catalogue (``templates.toml``). Placeholders follow GOV.UK Notify's
syntax: ``((name))``, filled in one pass, so a value that itself looks like a placeholder is
shown as written and never expanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from gateway.notify.errors import MissingPersonalisationError, UnsupportedChannelError

# GOV.UK Notify's placeholder: two opening brackets, a name without brackets, two closing.
PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one recipient: ``to`` is an email address or a phone number.

    The personalisation is copied into a read-only mapping when built, and left out of
    ``repr``: it holds one-time codes, which must never reach a log line.
    """

    channel: Channel
    to: str
    template: str
    personalisation: Mapping[str, str] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        if not self.to.strip():
            raise ValueError("a notification needs a recipient")
        values = dict(self.personalisation)
        for name, value in values.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"personalisation {name!r} must map a string to a string")
        object.__setattr__(self, "personalisation", MappingProxyType(values))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template with its placeholders filled in; ``subject`` is ``None`` for a text message."""

    subject: str | None
    body: str


def placeholders(text: str) -> tuple[str, ...]:
    """The placeholder names in ``text``, in order of first appearance."""
    return tuple(dict.fromkeys(match.strip() for match in PLACEHOLDER.findall(text)))


def _fill(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values[match.group(1).strip()], text)


@dataclass(frozen=True, slots=True)
class Template:
    """One entry of the catalogue: an email (``subject`` and ``body``) and, where the
    template can go by text message, its ``sms`` text."""

    name: str
    subject: str
    body: str
    sms: str | None = None

    @property
    def channels(self) -> tuple[Channel, ...]:
        return (Channel.EMAIL, Channel.SMS) if self.sms is not None else (Channel.EMAIL,)

    def placeholders(self, channel: Channel) -> tuple[str, ...]:
        texts = (self.subject, self.body) if channel is Channel.EMAIL else (self.sms or "",)
        return tuple(dict.fromkeys(name for text in texts for name in placeholders(text)))

    def render(self, channel: Channel, personalisation: Mapping[str, str]) -> Rendered:
        """Fill in the placeholders; refuses a channel the template has no text for and a
        placeholder without a value (values the template does not use are ignored, as
        GOV.UK Notify ignores them)."""
        if channel not in self.channels:
            raise UnsupportedChannelError(
                f"the template {self.name!r} has no {channel} text; add an 'sms' entry to "
                "gateway/notify/templates.toml to send it by text message"
            )
        missing = [name for name in self.placeholders(channel) if name not in personalisation]
        if missing:
            # NOTE: names only; the values (one-time codes) never appear in an error.
            raise MissingPersonalisationError(
                f"the template {self.name!r} needs a value for "
                + ", ".join(f"(({name}))" for name in missing),
                template=self.name,
                missing=missing,
            )
        if channel is Channel.SMS:
            return Rendered(None, _fill(self.sms or "", personalisation))
        return Rendered(_fill(self.subject, personalisation), _fill(self.body, personalisation))


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message as the local outbox (development only) delivered it."""

    id: str
    time: datetime
    channel: Channel
    to: str
    template: str
    subject: str | None
    body: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "channel": self.channel.value,
            "to": self.to,
            "template": self.template,
            "subject": self.subject,
            "body": self.body,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutboxMessage:
        return cls(
            id=data["id"],
            time=datetime.fromisoformat(data["time"]),
            channel=Channel(data["channel"]),
            to=data["to"],
            template=data["template"],
            subject=data["subject"],
            body=data["body"],
        )


QUEUE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class QueuedNotification:
    """A notification waiting in the delivery queue (:mod:`gateway.notify.queue`).

    ``reference`` is the gateway's own id for it (``ntf_…``), on every log line about it;
    ``request_id`` is the id of the request that queued it, put back on the log lines of its
    delivery; ``entry_id`` is its Redis stream entry id and ``attempt`` the delivery it is
    on, read from the consumer group's delivery counter (1 for the first). The notification
    is left out of ``repr``: the recipient is personal data.
    """

    reference: str
    notification: Notification = field(repr=False)
    queued_at: datetime
    request_id: str | None = None
    entry_id: str = ""
    attempt: int = 0

    def to_json(self) -> dict[str, Any]:
        """What the queue keeps. The personalisation is kept as given: it holds one-time
        codes, as the local outbox's rendered text does, and never reaches a log line."""
        return {
            "v": QUEUE_FORMAT,
            "ref": self.reference,
            "channel": self.notification.channel.value,
            "to": self.notification.to,
            "template": self.notification.template,
            "personalisation": dict(self.notification.personalisation),
            "queued_at": self.queued_at.isoformat(),
            "request_id": self.request_id,
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, entry_id: str = "", attempt: int = 0
    ) -> QueuedNotification:
        """Refuses (``KeyError``, ``ValueError``, ``TypeError``) an entry of another format."""
        if data.get("v") != QUEUE_FORMAT:
            raise ValueError(f"queue entry format {data.get('v')!r} is not {QUEUE_FORMAT}")
        request_id = data.get("request_id")
        return cls(
            reference=str(data["ref"]),
            notification=Notification(
                Channel(data["channel"]), data["to"], data["template"], data["personalisation"]
            ),
            queued_at=datetime.fromisoformat(data["queued_at"]),
            request_id=request_id if isinstance(request_id, str) else None,
            entry_id=entry_id,
            attempt=attempt,
        )
