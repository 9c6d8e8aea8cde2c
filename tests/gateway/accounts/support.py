"""What the account tests share: a notifier that keeps what it was given, fresh addresses."""

from __future__ import annotations

import itertools
import random
import re
import secrets
from dataclasses import dataclass, field

from gateway.notify.models import Notification

_CODE = re.compile(r"^[0-9]{6}$")
# Each session starts somewhere random in 10.0.0.0/8, so counters left in an external test
# Redis by an earlier run never meet this run's addresses.
_ADDRESSES = itertools.count(random.randrange(1, 2**23))


@dataclass
class CollectingNotifier:
    """Implements :class:`gateway.notify.services.Notifier` by keeping every notification."""

    sent: list[Notification] = field(default_factory=list)

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)

    def to(self, recipient: str, template: str | None = None) -> list[Notification]:
        return [
            n
            for n in self.sent
            if n.to == recipient and (template is None or n.template == template)
        ]

    def last_code(self, recipient: str, template: str) -> str:
        """The code in the newest ``template`` message to ``recipient``."""
        found = self.to(recipient, template)
        assert found, f"no {template!r} notification was sent to {recipient}"
        code = found[-1].personalisation["code"]
        assert _CODE.match(code)
        return code

    def templates(self, recipient: str) -> list[str]:
        return [n.template for n in self.to(recipient)]


def new_email(domain: str = "example.com") -> str:
    return f"person-{secrets.token_hex(6)}@{domain}"


def new_ip() -> str:
    """An IPv4 address no other test in this session uses."""
    n = next(_ADDRESSES)
    return f"10.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


PASSWORD = "correct horse battery staple"
