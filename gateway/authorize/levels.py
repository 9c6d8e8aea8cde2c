"""The level a sign-in reached (``acr``, ``amr``) and the level a request needs.

A first cut the levels work will deepen (DESIGN.md §2): credential strength only, from the
factors the session proved; identity confidence is always ``P0`` until evidence is recorded.

- ``acr`` (OIDC Core §2) is a vector of trust (RFC 8485 §3): ``Cl`` for a password alone,
  ``Cl.Cm`` with a second factor (authenticator app, recovery, emailed or texted code).
- ``amr`` (RFC 8176 §2) lists the methods; the session's method names are RFC 8176 names where
  one exists (``pwd``, ``otp``, ``sms``), plus ``mfa`` when more than one factor was proven.
- A client's ``min_level`` is a floor; ``acr_values`` (OIDC Core §3.1.2.1) and a ``claims``
  request for ``acr`` (§5.5.1.1) ask for more. Voluntary requests the gateway cannot meet are
  ignored; an essential one, or the client's floor, is refused (``unmet_authentication_
  requirements``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.authorize.errors import UnmetAuthenticationRequirementsError
from gateway.sessions.models import AuthMethod
from trust_levels.errors import InvalidVectorError
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector

SECOND_FACTORS = frozenset(
    {AuthMethod.TOTP, AuthMethod.RECOVERY_CODE, AuthMethod.EMAIL_CODE, AuthMethod.SMS}
)
# The strongest credential a person can reach here today: passkeys (Cl.Cm.Ch) are to come.
REACHABLE = Vector(CredentialStrength.MEDIUM, IdentityConfidence.NONE)
# Advertised in discovery: only what a sign-in here can reach today (Cl.Cm.Ch with passkeys).
ACR_VALUES_SUPPORTED = tuple(
    str(Vector(c)) for c in CredentialStrength if c <= REACHABLE.credential
)
MAX_ACR_VALUES = 10


def achieved(methods: Iterable[AuthMethod]) -> Vector:
    """The vector a session with these proven methods stands at."""
    proven = set(methods)
    if AuthMethod.PASSWORD in proven and proven & SECOND_FACTORS:
        return Vector(CredentialStrength.MEDIUM)
    return Vector(CredentialStrength.LOW)


def amr(methods: Iterable[AuthMethod]) -> tuple[str, ...]:
    """RFC 8176 §2 method references, sorted; ``mfa`` when two or more factors were proven."""
    names = sorted({m.value for m in methods})
    return (*names, "mfa") if len(names) > 1 else tuple(names)


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
    """The acr values a client asked for, and whether it insisted (an essential claim)."""

    wanted: tuple[Vector, ...]
    essential: bool

    @classmethod
    def of(cls, acr_values: tuple[str, ...], claims: dict[str, Any] | None) -> LevelRequest:
        """From ``acr_values``, else from ``claims.id_token.acr`` (OIDC Core §5.5.1.1)."""
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

    def needed(self, floor: str | None) -> Vector:
        """The level the session must reach: the client's floor, raised to the weakest of the
        requested values (any one of them will do)."""
        need = Vector.parse(floor) if floor else Vector(CredentialStrength.LOW)
        if not REACHABLE.satisfies(need):
            raise UnmetAuthenticationRequirementsError(
                f"The client requires level {floor}, which no sign-in here can reach yet."
            )
        if not self.wanted:
            return need
        weakest = min(self.wanted, key=lambda v: (v.credential, v.identity))
        if not REACHABLE.satisfies(weakest):
            if self.essential:
                raise UnmetAuthenticationRequirementsError(
                    f"The essential acr {weakest} cannot be reached by any sign-in here yet."
                )
            return need
        return Vector(
            max(need.credential, weakest.credential), max(need.identity, weakest.identity)
        )

    def acr(self, session_level: Vector) -> str:
        """What to assert: the strongest requested value the session meets, else the
        session's own level (OIDC Core §2: the RP asked for these names)."""
        met = [v for v in self.wanted if session_level.satisfies(v)]
        if met:
            return str(max(met, key=lambda v: (v.credential, v.identity)))
        return str(session_level)
