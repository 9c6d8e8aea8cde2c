"""Level policies as small composable checks (DESIGN.md §2: "each client and each service may
set a minimum").

A policy looks at an :class:`~trust_levels.assurance.Assurance` and answers with ``None`` (met)
or a :class:`Shortfall` saying what is missing, in words for a developer and in terms the
gateway can act on: which credential level to step up to, which identity confidence to prove,
which kind of principal is needed. ``check`` raises :class:`PolicyNotMetError` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from trust_levels.assurance import Assurance, PrincipalKind
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector


@dataclass(frozen=True, slots=True)
class Shortfall:
    """What a policy still needs: a credential level (``None``: that axis is fine), an
    identity confidence, a principal kind, a freshness, and the reason in words."""

    reason: str
    credential: CredentialStrength | None = None
    identity: IdentityConfidence | None = None
    principal: frozenset[PrincipalKind] | None = None
    max_age: timedelta | None = None

    def and_(self, other: Shortfall) -> Shortfall:
        """Both shortfalls at once: the stronger need on each axis."""

        credentials = [c for c in (self.credential, other.credential) if c is not None]
        identities = [i for i in (self.identity, other.identity) if i is not None]
        ages = [m for m in (self.max_age, other.max_age) if m is not None]
        return Shortfall(
            f"{self.reason}; {other.reason}",
            max(credentials, default=None),
            max(identities, default=None),
            self.principal if other.principal is None else other.principal,
            min(ages, default=None),
        )

    @property
    def vector(self) -> Vector | None:
        """The level to ask for (RFC 9470 ``acr_values``), if a level is what is missing."""
        if self.credential is None and self.identity is None:
            return None
        return Vector(
            self.credential or CredentialStrength.LOW, self.identity or IdentityConfidence.NONE
        )


class Policy(Protocol):
    def unmet(self, assurance: Assurance) -> Shortfall | None: ...


def check(policy: Policy, assurance: Assurance) -> None:
    """Raise :class:`PolicyNotMetError` naming what is missing, unless ``policy`` is met."""
    shortfall = policy.unmet(assurance)
    if shortfall is not None:
        raise PolicyNotMetError(shortfall.reason, shortfall)


@dataclass(frozen=True, slots=True)
class AtLeast:
    """A vector of trust: a fresh credential at least this strong and identity confidence at
    least this high (the axes are independent: GPG 44 and GPG 45)."""

    vector: Vector

    def unmet(self, assurance: Assurance) -> Shortfall | None:
        credential = None
        if not assurance.fresh(self.vector.credential):
            credential = self.vector.credential
        identity = None
        if assurance.confidence.level < self.vector.identity:
            identity = self.vector.identity
        if credential is None and identity is None:
            return None
        reasons = []
        if credential is not None:
            reasons.append(f"a sign-in at {'.'.join(credential.components)} (still fresh)")
        if identity is not None:
            reasons.append(f"identity confidence P{int(identity)}")
        return Shortfall(f"needs {' and '.join(reasons)}", credential, identity)


@dataclass(frozen=True, slots=True)
class FreshWithin:
    """A credential level reached no longer than ``seconds`` ago (OIDC ``max_age``, RFC 9470
    ``max_age``)."""

    strength: CredentialStrength
    seconds: int

    def unmet(self, assurance: Assurance) -> Shortfall | None:
        within = timedelta(seconds=self.seconds)
        if assurance.fresh(self.strength, within):
            return None
        name = ".".join(self.strength.components)
        return Shortfall(
            f"needs a sign-in at {name} in the last {self.seconds} seconds",
            self.strength,
            max_age=within,
        )


@dataclass(frozen=True, slots=True)
class PrincipalIs:
    """The one acting is one of these kinds (a business member, an agent…)."""

    kinds: frozenset[PrincipalKind]

    def unmet(self, assurance: Assurance) -> Shortfall | None:
        if assurance.principal in self.kinds:
            return None
        wanted = " or ".join(sorted(k.value for k in self.kinds))
        return Shortfall(
            f"needs a {wanted}, not a {assurance.principal.value}", principal=self.kinds
        )


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every policy; what is missing is everything any of them misses."""

    policies: tuple[Policy, ...]

    def unmet(self, assurance: Assurance) -> Shortfall | None:
        found: Shortfall | None = None
        for policy in self.policies:
            shortfall = policy.unmet(assurance)
            if shortfall is not None:
                found = shortfall if found is None else found.and_(shortfall)
        return found


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Any one policy (the acceptable vectors of a ``vtr``); when none is met, the shortfall
    of the least demanding, so the person is asked for as little as possible."""

    policies: tuple[Policy, ...]

    def unmet(self, assurance: Assurance) -> Shortfall | None:
        shortfalls = []
        for policy in self.policies:
            shortfall = policy.unmet(assurance)
            if shortfall is None:
                return None
            shortfalls.append(shortfall)
        if not shortfalls:
            return None
        return min(
            shortfalls,
            key=lambda s: (
                s.principal is not None,
                s.identity or IdentityConfidence.NONE,
                s.credential or 0,
            ),
        )
