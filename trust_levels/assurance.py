"""What a person has shown at a moment: the credential levels they reached, when, and how
sure the gateway is of who they are (DESIGN.md §2).

Credential strength follows GPG 44 ("Using authenticators to protect an online service"):
something you know (a password) is low; adding a second, independent factor is medium; a
phishing-resistant authenticator (a passkey: a key bound to the site's origin, unlocked by the
device's own check of the person) is high, and by itself counts as two factors.

Each level *reached* carries the time it was reached: the moment its last required factor was
proven (a step-up to ``Cl.Cm`` an hour after the password makes ``Cl.Cm`` an hour younger
than ``Cl``). A level counts only while it is fresh: younger than its freshness limit (a
setting per level), or than a fresher limit a service demands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from trust_levels.models import CredentialStrength, IdentityConfidence, Vector


class Factor(StrEnum):
    """What kind of proof an authentication event was (GPG 44 "authenticator types")."""

    KNOWLEDGE = "knowledge"  # a password, or a code emailed to the address (Cl)
    SECOND = "second"  # an authenticator app, texted or emailed code, recovery code
    PHISHING_RESISTANT = "phishing-resistant"  # a passkey (Cl.Cm.Ch)


class PrincipalKind(StrEnum):
    """Who is acting: a person for themselves, a member for a business, or an agent for a
    client (DESIGN.md §2 "Principals")."""

    CITIZEN = "citizen"
    BUSINESS = "business"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Reached:
    """A credential level and the moment it was reached."""

    strength: CredentialStrength
    at: datetime


def reached_levels(events: Iterable[tuple[Factor, datetime]]) -> tuple[Reached, ...]:
    """Every credential level a sign-in's factor events reach, strongest first.

    A stronger factor satisfies the weaker levels too: a passkey alone reaches high, medium
    and low; a second factor counts towards medium only with a knowledge factor beside it.
    """
    latest: dict[Factor, datetime] = {}
    for factor, at in events:
        if factor not in latest or at > latest[factor]:
            latest[factor] = at
    passkey = latest.get(Factor.PHISHING_RESISTANT)
    pair = (
        max(latest[Factor.KNOWLEDGE], latest[Factor.SECOND])
        if Factor.KNOWLEDGE in latest and Factor.SECOND in latest
        else None
    )
    found: list[Reached] = []
    if passkey is not None:
        found.append(Reached(CredentialStrength.HIGH, passkey))
    medium = max((t for t in (passkey, pair) if t is not None), default=None)
    if medium is not None:
        found.append(Reached(CredentialStrength.MEDIUM, medium))
    # A second factor alone is no sign-in: low needs a knowledge factor or a passkey.
    low = max((t for t in (latest.get(Factor.KNOWLEDGE), medium) if t is not None), default=None)
    if low is not None:
        found.append(Reached(CredentialStrength.LOW, low))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long each credential level counts after it was reached (settings; GPG 44 asks
    services to decide how often a person must prove each factor again)."""

    low: timedelta
    medium: timedelta
    high: timedelta

    def __post_init__(self) -> None:
        if min(self.low, self.medium, self.high) <= timedelta(0):
            raise ValueError("every freshness limit must be positive")

    def limit(self, strength: CredentialStrength) -> timedelta:
        return {
            CredentialStrength.LOW: self.low,
            CredentialStrength.MEDIUM: self.medium,
            CredentialStrength.HIGH: self.high,
        }[strength]


@dataclass(frozen=True, slots=True)
class Confidence:
    """How sure the gateway is of who the person is: the GPG 45 level their recorded
    evidence reaches, and the name of the profile met (``None`` at ``P0``)."""

    level: IdentityConfidence
    profile: str | None = None


NO_CONFIDENCE = Confidence(IdentityConfidence.NONE)


class ConfidenceSource(Protocol):
    """Where an account's identity confidence comes from (its recorded evidence)."""

    async def confidence(self, account_id: str) -> Confidence: ...


@dataclass(frozen=True, slots=True)
class Assurance:
    """Everything a level policy looks at, at one moment."""

    reached: tuple[Reached, ...]
    confidence: Confidence
    now: datetime
    freshness: Freshness
    principal: PrincipalKind = PrincipalKind.CITIZEN

    def reached_at(self, strength: CredentialStrength) -> datetime | None:
        """When ``strength`` was last reached (a stronger proof counts; see
        :func:`reached_levels`)."""
        return next((r.at for r in self.reached if r.strength == strength), None)

    def fresh(self, strength: CredentialStrength, within: timedelta | None = None) -> bool:
        """Whether ``strength`` was reached within its freshness limit, and within
        ``within`` when a service demands fresher."""
        at = self.reached_at(strength)
        if at is None:
            return False
        limit = self.freshness.limit(strength)
        return self.now - at <= (limit if within is None else min(limit, within))

    @property
    def credential(self) -> CredentialStrength | None:
        """The strongest credential level that is still fresh; ``None`` if none is."""
        return next((r.strength for r in self.reached if self.fresh(r.strength)), None)

    @property
    def vector(self) -> Vector | None:
        """The vector of trust the person stands at now (``None``: no fresh credential)."""
        credential = self.credential
        return None if credential is None else Vector(credential, self.confidence.level)
