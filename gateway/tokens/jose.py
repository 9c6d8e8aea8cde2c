"""JWS checks shared by client assertions and DPoP proofs (RFC 8725, JWT Best Current
Practices): read the header before trusting it, verify with one allowed algorithm and a key
the gateway chose, never a key the token brings along.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key
from joserfc.jws import JWSRegistry

# The asymmetric algorithms accepted from clients (RFC 7518 §3.4/§3.5, RFC 8037 §3.1). No
# ``none`` and no HMAC: a public key used as an HMAC secret must never verify (RFC 8725 §2.1).
CLIENT_ALGORITHMS = ("ES256", "PS256", "EdDSA")

# NOTE: "EdDSA" stays accepted although RFC 9864 deprecates it in favour of "Ed25519": it is
# the value OIDC and DPoP client libraries send today. joserfc warns on every use; the
# registries below use a copy of its EdDSA model without the warning (the algorithm itself is
# unchanged), rather than silencing warnings process-wide.
_EDDSA = copy.copy(JWSRegistry.algorithms["EdDSA"])
_EDDSA.security_warning = None


# joserfc's default 512-byte header limit is too small for a DPoP proof carrying a 4096-bit
# RSA key in its jwk header; 4 KiB bounds the work while fitting any key accepted here.
MAX_HEADER_BYTES = 4096


def _registry(alg: str | None) -> JWSRegistry:
    registry = JWSRegistry(algorithms=[alg] if alg else None, strict_check_header=False)
    registry.algorithms = {**JWSRegistry.algorithms, "EdDSA": _EDDSA}
    registry.max_header_length = MAX_HEADER_BYTES
    return registry


# Headers that carry or point at a key (RFC 7515 §4.1.2-4.1.6); ``crit`` and ``b64``
# (RFC 7797) would change how the token is read, and nothing here needs them.
KEY_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})
_EXTENSION_HEADERS = frozenset({"crit", "b64"})

_REGISTRIES = {alg: _registry(alg) for alg in (*CLIENT_ALGORITHMS, "RS256")}
_READER = _registry(None)  # only parses (extract_compact never verifies or picks an alg)


class JwsFormatError(ValueError):
    """The value is not a compact JWS with a JSON object header and payload."""


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, UNVERIFIED: only to choose the client and key to verify with."""
    try:
        compact = jws.extract_compact(token.encode(), registry=_READER)
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise JwsFormatError("not a JWS in compact serialization (RFC 7515 §7.1)") from exc
    header = compact.headers()
    if not isinstance(claims, dict) or not isinstance(header, dict):
        raise JwsFormatError("the JWS header and payload must be JSON objects")
    if _EXTENSION_HEADERS & header.keys():
        raise JwsFormatError("the JWS uses crit or b64 extensions, which are not accepted")
    return dict(header), claims


def verify(token: str, key: Key, alg: str) -> dict[str, Any]:
    """The claims if ``key`` signed ``token`` with ``alg``; ``JwsFormatError`` otherwise.

    The registry allows ``alg`` only, and joserfc checks the key suits it (type, curve, a
    registered ``alg`` member), so an HS256 token keyed with the public key fails here.
    """
    registry = _REGISTRIES.get(alg)
    if registry is None:
        raise JwsFormatError(f"the algorithm {alg!r} is not accepted")
    try:
        return dict(jwt.decode(token, key, registry=registry).claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise JwsFormatError("the signature does not verify with the key") from exc
