"""The gateway's signing key ring: sign with the current key, verify, publish, rotate.

DESIGN.md §1.6: one ES256 key set (plus an RSA family for RS256/PS256 ID tokens), rotated by
the CLI without breaking a token still in its lifetime. Tokens are JWS compact serializations
(RFC 7515 §7.1) of JWT claims (RFC 7519) with a ``kid`` header naming the RFC 7638 thumbprint
of the signing key; the JWKS is an RFC 7517 §5 JWK Set.

Every gateway worker holds its own :class:`KeyRing` over the one key file. Signing is on the
hot path, so the parsed keys are cached and the file is only ``stat``-ed, at most once every
``recheck_seconds``, to notice a rotation made by another process.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from gateway.core.clock import Clock
from gateway.core.errors import ConfigurationError
from gateway.signing.errors import (
    AlgorithmNotAllowedError,
    TokenVerificationError,
    UnknownKeyError,
    UntrustedKeyHeaderError,
)
from gateway.signing.models import (
    SUPPORTED_ALGORITHMS,
    AsymmetricKey,
    KeyFamily,
    KeyState,
    RotationResult,
    SigningKey,
)
from gateway.signing.store import FileStamp, KeyFile

# One registry per algorithm, so joserfc itself refuses any other alg (RFC 8725 §3.1). Header
# names outside the JWS registry are allowed because envelopes and receipts add their own;
# ``crit`` (RFC 7515 §4.1.11) is still enforced.
_REGISTRIES = {
    alg: JWSRegistry(algorithms=[alg], strict_check_header=False) for alg in SUPPORTED_ALGORITHMS
}

# Headers that carry or point at a key (RFC 7515 §4.1.2-4.1.6). Trusting one would let the
# token choose the key it is checked with (RFC 8725 §3.10), so a token bearing one is refused.
_KEY_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c"})

# Set by the ring from its own state, never by a caller.
_RING_HEADERS = frozenset({"alg", "kid", "typ"})

_STATE_ORDER = (KeyState.CURRENT, KeyState.NEXT, KeyState.RETIRING, KeyState.ARCHIVED)

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_P256_BYTES = 32


def _no_keys() -> ConfigurationError:
    return ConfigurationError("no signing keys; run 'govconnect init'")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One version of the key file, parsed, with the lookups signing and verifying need."""

    stamp: FileStamp
    keys: tuple[SigningKey, ...]
    current: dict[KeyFamily, SigningKey]
    live: dict[str, SigningKey]
    # The encoded ES256 protected header per (kid, typ), filled as tokens are signed; it goes
    # with the snapshot, so a rotation starts afresh.
    es256_headers: dict[tuple[str, str | None], bytes]

    @classmethod
    def of(cls, keys: tuple[SigningKey, ...], stamp: FileStamp) -> _Snapshot:
        families = list(KeyFamily)
        ordered = tuple(
            sorted(keys, key=lambda k: (_STATE_ORDER.index(k.state), families.index(k.family)))
        )
        return cls(
            stamp=stamp,
            keys=ordered,
            current={k.family: k for k in ordered if k.state is KeyState.CURRENT},
            live={k.kid: k for k in ordered if k.state is not KeyState.ARCHIVED},
            es256_headers={},
        )


class KeyRing:
    """The signing keys in ``path``, with retiring keys published for ``grace_seconds``.

    ``grace_seconds`` must be at least the longest lifetime of anything signed with a key
    that verifiers check against the JWKS, so no token outlives the publication of its key.
    Nothing touches the disk until a method is called: the gateway builds its ring before
    ``govconnect init`` may have run. ``recheck_seconds`` bounds how often the file is
    ``stat``-ed for another process's rotation.
    """

    def __init__(
        self, path: Path, clock: Clock, grace_seconds: int, *, recheck_seconds: float = 1.0
    ) -> None:
        self._file = KeyFile(path)
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        # NOTE: for up to ``recheck_seconds`` after another process rotates, this one may
        # still sign with the key just retired. Tokens it signs then still verify everywhere,
        # since a retiring key stays published, and signing avoids a stat call per token.
        self._recheck_seconds = recheck_seconds
        self._snapshot: _Snapshot | None = None
        self._checked_at = -math.inf

    def initialise(self) -> bool:
        """Create a current and a next key of each family unless the file exists.

        Returns True if it created the file. Safe to run again, and from several processes.
        """
        with self._file.locked():
            if self._file.stamp() is not None:
                return False
            now = self._clock.now()
            keys = tuple(
                _generate(family, state, now)
                for family in KeyFamily
                for state in (KeyState.CURRENT, KeyState.NEXT)
            )
            self._remember(keys, self._file.save(keys))
        return True

    def current(self, alg: str = "ES256") -> SigningKey:
        """The key that signs ``alg`` now; raises ConfigurationError before ``init``."""
        return self._view().current[KeyFamily.for_algorithm(alg)]

    def all_keys(self) -> tuple[SigningKey, ...]:
        """Every key, archived ones included, current first: what an operator lists."""
        return self._view().keys

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5): current, next and retiring keys in their grace.

        Publishing ``next`` before it signs lets relying parties that cache the set (OIDC
        Core §10.1.1) hold a key before the first token signed with it reaches them.
        """
        now = self._clock.now()
        return {
            "keys": [k.public_jwk() for k in self._view().keys if k.is_published(now, self._grace)]
        }

    def archive(self) -> dict[str, Any]:
        """A JWK Set of archived public keys, for checking long-lived receipts offline."""
        return {"keys": [k.public_jwk() for k in self._view().keys if k.state is KeyState.ARCHIVED]}

    def rotate(self) -> RotationResult:
        """Retire every current key, promote every next key and generate fresh next keys.

        Retiring keys whose grace has ended are archived, their private halves dropped. The
        read-modify-write runs under the file lock, so a rotation from the CLI while servers
        run (or two rotations at once) never loses a key.
        """
        # Checked before locking too, so a mistaken rotate does not create the folder.
        if self._file.stamp() is None:
            raise _no_keys()
        with self._file.locked():
            loaded = self._file.load()
            if loaded is None:
                raise _no_keys()
            now = self._clock.now()
            rotated: list[SigningKey] = []
            archived: list[str] = []
            for key in loaded[0]:
                if key.state is KeyState.CURRENT:
                    rotated.append(replace(key, state=KeyState.RETIRING, retired_at=now))
                elif key.state is KeyState.NEXT:
                    rotated.append(replace(key, state=KeyState.CURRENT))
                elif key.state is KeyState.RETIRING and not key.is_published(now, self._grace):
                    rotated.append(key.archived())
                    archived.append(key.kid)
                else:
                    rotated.append(key)
            rotated.extend(_generate(family, KeyState.NEXT, now) for family in KeyFamily)
            snapshot = self._remember(tuple(rotated), self._file.save(rotated))

        def kids(state: KeyState) -> tuple[str, ...]:
            return tuple(k.kid for k in snapshot.keys if k.state is state)

        return RotationResult(
            current=kids(KeyState.CURRENT),
            next=kids(KeyState.NEXT),
            retiring=kids(KeyState.RETIRING),
            archived=tuple(archived),
        )

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        alg: str = "ES256",
        typ: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A compact JWS (RFC 7515 §7.1) over the JWT ``claims`` (RFC 7519), with ``kid``.

        ``typ`` sets explicit typing (RFC 8725 §3.11), e.g. ``at+jwt`` for access tokens
        (RFC 9068 §2.1); ``headers`` adds protected header parameters other than ``alg``,
        ``kid`` and ``typ``, which the ring sets itself. Claims are JSON values (times as
        NumericDate numbers, RFC 7519 §2).
        """
        extra = dict(headers or {})
        clash = extra.keys() & _RING_HEADERS
        if clash:
            raise ValueError(f"the key ring sets {', '.join(sorted(clash))} itself")
        if alg == "ES256" and not extra:
            return self._sign_es256(claims, typ)
        key = self.current(alg)
        header = {**extra, "alg": alg, "kid": key.kid}
        if typ is not None:
            header["typ"] = typ
        return jwt.encode(
            header, dict(claims), key.key, registry=_REGISTRIES[alg], default_type=None
        )

    def _sign_es256(self, claims: Mapping[str, Any], typ: str | None) -> str:
        """What :func:`joserfc.jwt.encode` makes for ES256 with no extra headers (the same
        header and payload bytes: compact JSON, RFC 7515 §7.1 and RFC 7518 §3.4), made
        straight with ``cryptography`` and a header encoded once per key: every access token
        is signed here, and joserfc's general path costs as much again as the signature."""
        snapshot = self._view()
        key = snapshot.current[KeyFamily.EC_P256]
        header = snapshot.es256_headers.get((key.kid, typ))
        if header is None:
            fields = {"alg": "ES256", "kid": key.kid}
            if typ is not None:
                fields["typ"] = typ
            header = _b64(json.dumps(fields, separators=(",", ":")).encode("ascii"))
            snapshot.es256_headers[(key.kid, typ)] = header
        payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
        signing_input = header + b"." + _b64(payload)
        private = key.key.private_key
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"the current ES256 key {key.kid} has no private half")
        r, s = decode_dss_signature(private.sign(signing_input, _ECDSA_SHA256))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
        return (signing_input + b"." + _b64(signature)).decode("ascii")

    def verify(self, token: str, *, algorithms: Collection[str]) -> dict[str, Any]:
        """Check a compact JWS signed by this ring; returns ``{"header": …, "claims": …}``.

        Follows RFC 8725 §3.1: ``alg`` must be in the caller's allow-list (so ``none`` and
        HMAC with a public key as secret are refused) and must suit the key's family. The key
        is chosen by ``kid`` among the published keys only (RFC 8725 §3.10): a ``jwk``,
        ``jku``, ``x5u`` or ``x5c`` header is refused, never used. ``next`` keys count as
        published because another worker may already have promoted one and signed with it.

        Only the signature is checked. The claims (``exp``, ``iss``, ``aud`` …) are the
        caller's to validate (RFC 7519 §7.2), since the rules differ: OIDC RP-Initiated
        Logout §2, for one, accepts an expired ``id_token_hint``.
        """
        allowed = frozenset(algorithms)
        if not allowed or not allowed <= SUPPORTED_ALGORITHMS:
            # An empty list would let joserfc fall back to its own defaults.
            raise ValueError(
                f"algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}"
            )
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise TokenVerificationError(
                "The token is not a JWS in compact serialization (RFC 7515 §7.1)."
            ) from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in allowed:
            raise AlgorithmNotAllowedError(
                f"Tokens signed with {alg!r} are not accepted here; "
                f"use one of {', '.join(sorted(allowed))}."
            )
        carried = sorted(_KEY_HEADERS & header.keys())
        if carried:
            raise UntrustedKeyHeaderError(
                f"The token header carries {', '.join(carried)}; the gateway verifies only "
                "with its own published keys, named by kid."
            )
        key = self._published(header.get("kid"))
        if alg not in key.family.algorithms:
            raise AlgorithmNotAllowedError(
                f"Key {key.kid} is a {key.family.value} key and does not sign {alg}."
            )
        try:
            decoded = jwt.decode(token, key.key, registry=_REGISTRIES[alg])
        except (JoseError, ValueError) as exc:
            raise TokenVerificationError(
                "The token's signature does not match its content."
            ) from exc
        return {"header": dict(decoded.header), "claims": dict(decoded.claims)}

    def _published(self, kid: object) -> SigningKey:
        # NOTE: ``next`` keys verify although this process never signs with one: another
        # worker may have promoted it already. Its private half is the ring's own, so no
        # outsider gains a signing key by it.
        if isinstance(kid, str):
            now = self._clock.now()
            # A kid this worker has not seen may come from a rotation another process made
            # since the last check; one forced stat (not a re-read) settles it.
            for force in (False, True):
                key = self._view(force=force).live.get(kid)
                if key is not None and key.is_published(now, self._grace):
                    return key
        raise UnknownKeyError("The token's kid names no key in the gateway's published JWKS.")

    def _view(self, *, force: bool = False) -> _Snapshot:
        """The cached keys, re-read only when the file's stamp changed since the last check."""
        checked = time.monotonic()
        snapshot = self._snapshot
        if (
            not force
            and snapshot is not None
            and checked - self._checked_at < self._recheck_seconds
        ):
            return snapshot
        self._checked_at = checked
        if snapshot is not None and self._file.stamp() == snapshot.stamp:
            return snapshot
        loaded = self._file.load()
        if loaded is None:
            self._snapshot = None
            raise _no_keys()
        return self._remember(*loaded)

    def _remember(self, keys: tuple[SigningKey, ...], stamp: FileStamp) -> _Snapshot:
        snapshot = _Snapshot.of(keys, stamp)
        self._snapshot = snapshot
        self._checked_at = time.monotonic()
        return snapshot


def _b64(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _generate(family: KeyFamily, state: KeyState, now: datetime) -> SigningKey:
    key: AsymmetricKey
    if family is KeyFamily.EC_P256:
        key = ECKey.generate_key("P-256", auto_kid=True)
    else:
        key = RSAKey.generate_key(2048, auto_kid=True)
    return SigningKey(
        kid=key.thumbprint(), family=family, state=state, created_at=now, retired_at=None, key=key
    )
