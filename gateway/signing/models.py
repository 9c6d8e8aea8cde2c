"""Signing keys, their life cycle and what a rotation did.

A key is born ``next`` (published so relying parties cache it before it signs), becomes
``current`` (it signs), then ``retiring`` (no longer signs, still published until every token
it signed has expired) and finally ``archived`` (private half destroyed; the public JWK kept so
long-lived receipts can still be checked offline). Key ids are RFC 7638 JWK thumbprints, so a
relying party can recompute one from the published key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc.jwk import ECKey, RSAKey

from gateway.signing.errors import UnsupportedAlgorithmError


class KeyState(StrEnum):
    NEXT = "next"
    CURRENT = "current"
    RETIRING = "retiring"
    ARCHIVED = "archived"


class KeyFamily(StrEnum):
    """The two key types the gateway holds; both rotate together (DESIGN.md §1.6).

    ES256 (RFC 7518 §3.4, ECDSA P-256) signs everything by default; the RSA family serves
    RS256 (§3.3) and PS256 (§3.5) ID tokens for clients registered for them (OIDC Registration
    ``id_token_signed_response_alg``).
    """

    EC_P256 = "EC-P256"
    RSA_2048 = "RSA-2048"

    @property
    def algorithms(self) -> tuple[str, ...]:
        return _ALGORITHMS[self]

    @classmethod
    def for_algorithm(cls, alg: str) -> KeyFamily:
        for family, algorithms in _ALGORITHMS.items():
            if alg in algorithms:
                return family
        raise UnsupportedAlgorithmError(
            f"The gateway signs with {', '.join(sorted(SUPPORTED_ALGORITHMS))}, not {alg!r}."
        )


_ALGORITHMS: dict[KeyFamily, tuple[str, ...]] = {
    KeyFamily.EC_P256: ("ES256",),
    # NOTE: one RSA key serves both PKCS #1 v1.5 (RS256) and PSS (PS256) rather than one key
    # per algorithm. No practical attack is known across the two paddings, and a single kid
    # keeps RFC 7638 thumbprints as key ids (two entries with one kid would be ambiguous).
    KeyFamily.RSA_2048: ("RS256", "PS256"),
}

SUPPORTED_ALGORITHMS = frozenset(alg for algs in _ALGORITHMS.values() for alg in algs)

# Members a published JWK may carry, per RFC 7518 §6.2.1 (EC) and §6.3.1 (RSA). Chosen by
# allow-list so no private parameter (d, p, q, dp, dq, qi, oth) can ever slip into the JWKS.
_PUBLIC_MEMBERS: dict[KeyFamily, tuple[str, ...]] = {
    KeyFamily.EC_P256: ("crv", "x", "y"),
    KeyFamily.RSA_2048: ("n", "e"),
}

AsymmetricKey = ECKey | RSAKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the ring. ``key`` holds the private half unless the key is archived."""

    kid: str
    family: KeyFamily
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    key: AsymmetricKey

    def is_published(self, now: datetime, grace: timedelta) -> bool:
        """In the JWKS: current and next always, retiring until ``retired_at + grace``."""
        if self.state is KeyState.RETIRING:
            return self.retired_at is not None and now < self.retired_at + grace
        return self.state in (KeyState.CURRENT, KeyState.NEXT)

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (RFC 7517 §4) relying parties verify with.

        ``use`` is ``sig`` (§4.2). ``alg`` (§4.4, optional) is ``ES256`` for the EC family and
        left out for RSA: the one RSA key verifies both RS256 and PS256, and naming either
        would make strict libraries refuse the other. Publishing the key twice, once per
        alg, would put two entries with one kid in the set (§4.5 says kids SHOULD differ).
        """
        material = self.key.as_dict(private=False)
        jwk: dict[str, Any] = {"kty": material["kty"], "use": "sig", "kid": self.kid}
        if self.family is KeyFamily.EC_P256:
            jwk["alg"] = "ES256"
        jwk.update((name, material[name]) for name in _PUBLIC_MEMBERS[self.family])
        return jwk

    def archived(self) -> SigningKey:
        """This key archived: the private half is dropped for good, the public half kept."""
        public = type(self.key).import_key(self.key.as_dict(private=False))
        return replace(self, state=KeyState.ARCHIVED, key=public)

    def to_json(self) -> dict[str, Any]:
        """What an operator sees in ``govconnect keys list``: never key material."""
        return {
            "kid": self.kid,
            "family": self.family.value,
            "state": self.state.value,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


@dataclass(frozen=True, slots=True)
class RotationResult:
    """The kids in each state after a rotation; ``archived`` lists only those it archived."""

    current: tuple[str, ...]
    next: tuple[str, ...]
    retiring: tuple[str, ...]
    archived: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {
            "current": list(self.current),
            "next": list(self.next),
            "retiring": list(self.retiring),
            "archived": list(self.archived),
        }
