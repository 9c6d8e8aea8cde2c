"""Vectors of trust: credential strength and identity confidence as one value.

Written as in GOV.UK One Login's ``vtr`` and RFC 8485 (Vectors of Trust) §3: components
joined by ``.``, each a letter and a value. ``C`` is credential strength — ``Cl`` low
(password or emailed code, GPG 44 low), ``Cl.Cm`` medium (plus a second factor, GPG 44
medium), ``Cl.Cm.Ch`` high (phishing-resistant: a passkey, GPG 44 high). ``P`` is identity
confidence, ``P0`` to ``P3`` (GPG 45 none, low, medium, high).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from trust_levels.errors import InvalidVectorError


class CredentialStrength(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(("Cl", "Cl.Cm", "Cl.Cm.Ch")[self - 1].split("."))


class IdentityConfidence(IntEnum):
    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


_CREDENTIALS = {
    ("Cl",): CredentialStrength.LOW,
    ("Cl", "Cm"): CredentialStrength.MEDIUM,
    ("Cl", "Cm", "Ch"): CredentialStrength.HIGH,
}


@dataclass(frozen=True, slots=True, order=True)
class Vector:
    """A parsed vector; holding one proves it was well formed."""

    credential: CredentialStrength
    identity: IdentityConfidence = IdentityConfidence.NONE

    @classmethod
    def parse(cls, text: str) -> Vector:
        """``"Cl.Cm.P2"`` (or ``"P2.Cl.Cm"``: RFC 8485 §3 leaves the order free) → medium
        credential, medium identity confidence."""
        parts = text.strip().split(".") if text else []
        credential = tuple(p for p in parts if p.startswith("C"))
        identity = [p for p in parts if p.startswith("P")]
        unknown = [p for p in parts if not p.startswith(("C", "P"))]
        if unknown or credential not in _CREDENTIALS or len(identity) > 1:
            raise InvalidVectorError(
                f"{text!r} is not a vector of trust; use Cl, Cl.Cm or Cl.Cm.Ch, optionally "
                "followed by one of P0, P1, P2, P3 (for example Cl.Cm.P2)"
            )
        if identity and identity[0] not in {"P0", "P1", "P2", "P3"}:
            raise InvalidVectorError(f"{identity[0]!r} is not an identity level; use P0 to P3")
        level = IdentityConfidence(int(identity[0][1])) if identity else IdentityConfidence.NONE
        return cls(_CREDENTIALS[credential], level)

    def __str__(self) -> str:
        text = ".".join(self.credential.components)
        return f"{text}.P{int(self.identity)}" if self.identity else text

    def satisfies(self, required: Vector) -> bool:
        """At least as strong on both axes (the axes are independent: GPG 44 and GPG 45)."""
        return self.credential >= required.credential and self.identity >= required.identity
