"""The level a sign-in reached and the level a request needs (DESIGN.md §2).

- A session's factor events become credential levels with the time each was reached
  (:func:`trust_levels.assurance.reached_levels`); a level counts while it is fresh (the
  ``level_freshness_*`` settings). Identity confidence comes from the account's recorded
  evidence (a :class:`~trust_levels.assurance.ConfidenceSource`).
- ``amr`` (RFC 8176 §2) lists the methods; the session's method names are RFC 8176 names where
  one exists (``pwd``, ``otp``, ``sms``, ``pop``), plus ``mfa`` when more than one factor was
  proven.
- What a request needs: the client's ``min_level`` and each requested service's minimum
  (``service_levels``) are floors; a relying party asks for more with ``vtr`` (One Login style,
  RFC 8485 §5: the vectors it accepts, any one will do, and one must be met), ``acr_values``
  (OIDC Core §3.1.2.1: voluntary, so only the credential part is stepped up to) or an
  essential ``acr`` in ``claims`` (§5.5.1.1: must be met, like ``vtr``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.core.clock import Clock
from gateway.oidc.errors import InvalidRequestError
from gateway.sessions.models import AuthMethod, Session
from trust_levels.assurance import (
    NO_CONFIDENCE,
    Assurance,
    Confidence,
    ConfidenceSource,
    Factor,
    Freshness,
    PrincipalKind,
    reached_levels,
)
from trust_levels.errors import InvalidVectorError
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector
from trust_levels.policies import AllOf, AnyOf, AtLeast, Policy

FACTORS: Mapping[AuthMethod, Factor] = {
    AuthMethod.PASSWORD: Factor.KNOWLEDGE,
    AuthMethod.TOTP: Factor.SECOND,
    AuthMethod.RECOVERY_CODE: Factor.SECOND,
    AuthMethod.EMAIL_CODE: Factor.SECOND,
    AuthMethod.SMS: Factor.SECOND,
    AuthMethod.PASSKEY: Factor.PHISHING_RESISTANT,
}
SECOND_FACTORS = frozenset(m for m, f in FACTORS.items() if f is Factor.SECOND)
# Every vector a sign-in here can reach: each credential level (passkeys reach Cl.Cm.Ch) with
# each identity confidence (recorded evidence reaches P1 to P3).
VECTORS_SUPPORTED = tuple(str(Vector(c, i)) for c in CredentialStrength for i in IdentityConfidence)
ACR_VALUES_SUPPORTED = VECTORS_SUPPORTED
MAX_ACR_VALUES = 10
TRUSTMARK_PATH = "/trustmark"


def amr(methods: Iterable[AuthMethod]) -> tuple[str, ...]:
    """RFC 8176 §2 method references, sorted; ``mfa`` when two or more factors were proven
    (a passkey is two in one gesture: possession and the device's check of the person)."""
    names = sorted({m.value for m in methods})
    several = len(names) > 1 or AuthMethod.PASSKEY.value in names
    return (*names, "mfa") if several else tuple(names)


class NoEvidence:
    """A confidence source for an account with no recorded evidence anywhere: ``P0``."""

    async def confidence(self, account_id: str) -> Confidence:
        return NO_CONFIDENCE


class LevelService:
    """Where a session stands, and the floors the deployment sets."""

    def __init__(
        self,
        freshness: Freshness,
        confidence: ConfidenceSource,
        clock: Clock,
        *,
        service_levels: Mapping[str, str],
    ) -> None:
        self.freshness = freshness
        self._confidence = confidence
        self._clock = clock
        self._service_levels = {name: Vector.parse(v) for name, v in service_levels.items()}

    async def assurance(
        self, session: Session, principal: PrincipalKind = PrincipalKind.CITIZEN
    ) -> Assurance:
        """What this session shows now: its fresh credential levels and, for a signed-in
        account, the identity confidence its evidence reaches."""
        events = [(FACTORS[e.method], e.at) for e in session.auth]
        confidence = NO_CONFIDENCE
        if session.account_id is not None:
            confidence = await self._confidence.confidence(session.account_id)
        return Assurance(
            reached_levels(events), confidence, self._clock.now(), self.freshness, principal
        )

    def service_level(self, service: str) -> Vector | None:
        """The minimum a service (a scope) demands, if the deployment set one."""
        return self._service_levels.get(service)

    def floors(self, min_level: str | None, scopes: Iterable[str]) -> tuple[Vector, ...]:
        """The client's minimum and each requested service's."""
        found = [Vector.parse(min_level)] if min_level else []
        found += [v for s in scopes if (v := self._service_levels.get(s)) is not None]
        return tuple(found)


def parse_vtr(value: object) -> tuple[str, ...]:
    """``vtr`` (RFC 8485 §5.1, OIDC as GOV.UK One Login uses it): a JSON array of vectors,
    any one of which the relying party accepts; a request object may carry the array itself."""
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the stack
            raise InvalidRequestError(
                'vtr must be a JSON array of vectors of trust, like ["Cl.Cm.P2"] (RFC 8485 §5.1).'
            ) from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(
            'vtr must be a non-empty JSON array of strings, like ["Cl.Cm", "Cl.Cm.P2"].'
        )
    if len(value) > MAX_ACR_VALUES:
        raise InvalidRequestError(f"vtr lists more than {MAX_ACR_VALUES} vectors.")
    try:
        return tuple(dict.fromkeys(str(Vector.parse(v)) for v in value))
    except InvalidVectorError as exc:
        raise InvalidRequestError(f"vtr: {exc.detail}") from None


def _parse(values: Iterable[object]) -> list[Vector]:
    found = []
    for value in values:
        if isinstance(value, str):
            try:
                found.append(Vector.parse(value))
            except InvalidVectorError:
                continue  # an acr this gateway does not know: the request is voluntary
    return found


@dataclass(frozen=True, slots=True)
class LevelRequest:
    """The vectors a client asked for, and whether one of them must be met (``vtr``, or an
    essential ``acr`` claim) or the request is voluntary (``acr_values``)."""

    wanted: tuple[Vector, ...]
    essential: bool
    vtr: bool = False

    @classmethod
    def of(
        cls, acr_values: tuple[str, ...], claims: dict[str, Any] | None, vtr: tuple[str, ...] = ()
    ) -> LevelRequest:
        """From ``vtr``, else ``acr_values``, else ``claims.id_token.acr`` (§5.5.1.1)."""
        if vtr:
            return cls(tuple(Vector.parse(v) for v in vtr), essential=True, vtr=True)
        request = (claims or {}).get("id_token") or {}
        acr = request.get("acr") if isinstance(request, dict) else None
        essential = isinstance(acr, dict) and acr.get("essential") is True
        if acr_values:
            return cls(tuple(_parse(acr_values)), essential)
        if isinstance(acr, dict):
            values = acr.get("values")
            listed: list[object] = values if isinstance(values, list) else [acr.get("value")]
            return cls(tuple(_parse(listed)), essential)
        return cls((), False)

    def policy(self, floors: Iterable[Vector]) -> Policy:
        """Every floor, and one of the wanted vectors: whole when it must be met, only its
        credential part when the request is voluntary (identity proving is never forced on
        a person for a voluntary request)."""
        checks: list[Policy] = [AtLeast(v) for v in floors]
        if self.wanted:
            asked = self.wanted if self.essential else (Vector(v.credential) for v in self.wanted)
            checks.append(AnyOf(tuple(AtLeast(v) for v in asked)))
        if not checks:
            checks.append(AtLeast(Vector(CredentialStrength.LOW)))
        return AllOf(tuple(checks))

    def asserted(self, reached: Vector) -> str:
        """What to assert as ``acr`` and ``vot``: the strongest requested vector the person
        meets (OIDC Core §2: the relying party asked in these names), else where they stand."""
        met = [v for v in self.wanted if reached.satisfies(v)]
        return str(max(met)) if met else str(reached)


def trustmark(issuer: str) -> dict[str, Any]:
    """The trustmark ``vtm`` points at (RFC 8485 §5.3): who asserts the vectors and which
    values of each component it can assert (as GOV.UK One Login publishes its own)."""
    return {
        "idp": issuer,
        "trustmark_provider": issuer,
        "C": [".".join(c.components) for c in CredentialStrength],
        "P": [f"P{int(i)}" for i in IdentityConfidence],
    }


def freshness_of(low: int, medium: int, high: int) -> Freshness:
    return Freshness(timedelta(seconds=low), timedelta(seconds=medium), timedelta(seconds=high))
