"""The signed envelope, the sender's receipt and the recipient's acknowledgement (JOSE).

- **Envelope**: a JWS in the general JSON serialization (RFC 7515 §7.2.1) whose payload is the
  canonical JSON (sorted keys, no spaces, UTF-8) of the submission: id, issuer, sender,
  recipient, service and version, time, the citizen's pairwise subject, level and acting
  agent where there is one, the body and the attachments' SHA-256 digests. The gateway's
  signature is one member of ``signatures``, with ``alg`` ES256, the ``kid`` of its key in the
  published JWKS and ``typ`` :data:`ENVELOPE_TYPE` in the protected header; the JSON
  serialization leaves room for a sender's signature over the same payload beside it.
- **Receipt**: a compact JWS (RFC 7515 §7.1) of JWT claims (RFC 7519) signed by the gateway,
  ``typ`` :data:`RECEIPT_TYPE`, naming the submission (its id is the correlation id) and the
  SHA-256 of the exact payload bytes accepted.
- **Acknowledgement**: a compact JWS the recipient signs with a key registered for its client,
  ``typ`` :data:`ACKNOWLEDGEMENT_TYPE``, naming the submission and the payload digest.

Every verification has an explicit algorithm allow-list (RFC 8725 §3.1) and picks the key by
``kid`` from a known set only, never from a key carried in the header (RFC 8725 §3.10).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet
from joserfc.jws import FlattenedJSONSerialization, JWSRegistry

from gateway.delivery.errors import EnvelopeVerificationError, InvalidAcknowledgementError
from gateway.evidence.models import canonical_json
from gateway.signing.models import SigningKey

ENVELOPE_TYPE = "submission+jws"
RECEIPT_TYPE = "receipt+jwt"
ACKNOWLEDGEMENT_TYPE = "ack+jwt"
RESPONSE_TYPE = "response+jwt"
GATEWAY_ALGORITHMS = ("ES256",)
# What a recipient may sign its acknowledgement with: the algorithms of private_key_jwt.
ACKNOWLEDGEMENT_ALGORITHMS = ("ES256", "PS256", "RS256", "EdDSA")
ACKNOWLEDGEMENT_SKEW_SECONDS = 300
MAX_TOKEN_BYTES = 8192
_KEY_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c"})
_REGISTRIES = {
    alg: JWSRegistry(algorithms=[alg], strict_check_header=False)
    for alg in ACKNOWLEDGEMENT_ALGORITHMS
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed: the canonical JSON of the payload."""
    return canonical_json(dict(payload))


def seal_envelope(payload: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """The envelope: ``payload`` signed by the gateway's current ES256 key (RFC 7515 §7.2.1)."""
    header = {"alg": "ES256", "kid": key.kid, "typ": ENVELOPE_TYPE}
    signed = jws.serialize_json(
        [{"protected": header}],
        payload_bytes(payload),
        key.key,
        algorithms=GATEWAY_ALGORITHMS,
    )
    return dict(signed)


@dataclass(frozen=True, slots=True)
class OpenedEnvelope:
    """An envelope whose gateway signature verified: the payload, its digest, and the kids of
    the signatures that verified."""

    payload: dict[str, Any]
    payload_sha256: str
    verified_kids: tuple[str, ...]


def _key_by_kid(jwks: Mapping[str, Any], kid: object, *, sole_key: bool = False) -> Any:
    """The key ``kid`` names in ``jwks``; with ``sole_key``, a header without ``kid`` may
    use a set's only key (a client may register one key without a kid)."""
    members = [m for m in jwks.get("keys", ()) if isinstance(m, Mapping)]
    if isinstance(kid, str):
        chosen = [m for m in members if m.get("kid") == kid]
    else:
        chosen = members if kid is None and sole_key and len(members) == 1 else []
    if len(chosen) != 1:
        return None
    try:
        return JWKRegistry.import_key(dict(chosen[0]))
    except (JoseError, ValueError, TypeError):
        return None


def open_envelope(envelope: Any, jwks: Mapping[str, Any]) -> OpenedEnvelope:
    """Verify an envelope against the gateway's JWK Set (``/.well-known/jwks.json``, with the
    archive of retired keys for old envelopes): every signature whose ``kid`` the set names
    must verify, and at least one must. A signature by a key the set does not hold (a
    sender's) is left to the caller. Raises :class:`EnvelopeVerificationError`."""
    if (
        not isinstance(envelope, Mapping)
        or not isinstance(envelope.get("payload"), str)
        or not isinstance(envelope.get("signatures"), list)
        or not envelope["signatures"]
    ):
        raise EnvelopeVerificationError(
            "Not a JWS in the general JSON serialization (RFC 7515 §7.2.1): it needs payload "
            "and a non-empty signatures array."
        )
    verified: list[str] = []
    for member in envelope["signatures"]:
        if not isinstance(member, Mapping) or not isinstance(member.get("protected"), str):
            raise EnvelopeVerificationError("Each signature needs a protected header.")
        try:
            header = json.loads(unb64url(member["protected"]))
        except (ValueError, TypeError):
            raise EnvelopeVerificationError("A protected header is not base64url JSON.") from None
        if not isinstance(header, dict) or _KEY_HEADERS & header.keys():
            raise EnvelopeVerificationError(
                "A signature header carries its own key; envelopes are verified only with the "
                "gateway's published keys, named by kid."
            )
        key = _key_by_kid(jwks, header.get("kid"))
        if key is None:
            continue
        if header.get("alg") not in GATEWAY_ALGORITHMS or header.get("typ") != ENVELOPE_TYPE:
            raise EnvelopeVerificationError(
                f"The gateway's signature must be ES256 with typ {ENVELOPE_TYPE}."
            )
        flattened: FlattenedJSONSerialization = {
            "payload": envelope["payload"],
            "protected": member["protected"],
            "signature": str(member.get("signature", "")),
        }
        try:
            jws.deserialize_json(flattened, key, algorithms=GATEWAY_ALGORITHMS)
        except (JoseError, ValueError, TypeError):
            raise EnvelopeVerificationError(
                f"The signature by key {header['kid']} does not match the payload: the "
                "envelope was changed after it was signed."
            ) from None
        verified.append(str(header["kid"]))
    if not verified:
        raise EnvelopeVerificationError(
            "No signature of the envelope is by a key in the JWK Set given; fetch the "
            "gateway's /.well-known/jwks.json (and /pki/signing-keys-archive.json)."
        )
    raw = unb64url(envelope["payload"])
    try:
        payload = json.loads(raw)
    except ValueError:
        raise EnvelopeVerificationError("The payload is not JSON.") from None
    return OpenedEnvelope(payload, sha256_hex(raw), tuple(verified))


def verify_compact(
    token: str,
    jwks: Mapping[str, Any],
    *,
    typ: str,
    algorithms: Collection[str],
    sole_key: bool = False,
) -> dict[str, Any]:
    """The claims of a compact JWS (``typ`` explicit, RFC 8725 §3.11) signed by a key of
    ``jwks``, named by ``kid``; raises :class:`EnvelopeVerificationError`."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise EnvelopeVerificationError("Not a JWS in compact serialization (RFC 7515 §7.1).")
    try:
        header = json.loads(unb64url(token.split(".")[0]))
    except (ValueError, TypeError):
        raise EnvelopeVerificationError("The JWS header is not base64url JSON.") from None
    if not isinstance(header, dict) or _KEY_HEADERS & header.keys():
        raise EnvelopeVerificationError("The JWS header carries its own key; it is not trusted.")
    alg = header.get("alg")
    if alg not in algorithms or alg not in _REGISTRIES:
        raise EnvelopeVerificationError(f"{alg!r} is not accepted here.")
    if header.get("typ") != typ:
        raise EnvelopeVerificationError(f"Expected typ {typ}, found {header.get('typ')!r}.")
    key = _key_by_kid(jwks, header.get("kid"), sole_key=sole_key)
    if key is None:
        raise EnvelopeVerificationError("The JWS's kid names no key in the JWK Set given.")
    try:
        decoded = jwt.decode(token, key, registry=_REGISTRIES[alg])
    except (JoseError, ValueError, TypeError):
        raise EnvelopeVerificationError(
            "The signature does not match the content: it was changed after signing."
        ) from None
    return dict(decoded.claims)


def verify_acknowledgement(
    token: str,
    keys: KeySet,
    *,
    client_id: str,
    audience: str,
    submission_id: str,
    payload_sha256: str,
    now: int,
) -> dict[str, Any]:
    """Check a recipient's acknowledgement: signed by one of its client's registered keys
    (``keys``), ``iss`` the client, ``aud`` the gateway, ``submission`` and
    ``payload_sha256`` naming exactly what was delivered, ``iat`` not in the future. Raises
    :class:`InvalidAcknowledgementError` naming what is wrong."""
    jwks = keys.as_dict(private=False)
    try:
        claims = verify_compact(
            token,
            jwks,
            typ=ACKNOWLEDGEMENT_TYPE,
            algorithms=ACKNOWLEDGEMENT_ALGORITHMS,
            sole_key=True,
        )
    except EnvelopeVerificationError as exc:
        raise InvalidAcknowledgementError(
            f"The acknowledgement is not signed by a key registered for client {client_id}: "
            f"{exc.detail}"
        ) from None
    expected = {
        "iss": client_id,
        "aud": audience,
        "submission": submission_id,
        "payload_sha256": payload_sha256,
    }
    wrong = sorted(name for name, value in expected.items() if claims.get(name) != value)
    if wrong:
        raise InvalidAcknowledgementError(
            f"The acknowledgement's {', '.join(wrong)} do not match this submission "
            "(iss: your client id; aud: the gateway's issuer; submission and payload_sha256: "
            "those of the envelope you received).",
            claims=wrong,
        )
    issued = claims.get("iat")
    if not isinstance(issued, int) or issued > now + ACKNOWLEDGEMENT_SKEW_SECONDS:
        raise InvalidAcknowledgementError("The acknowledgement needs an iat that is not ahead.")
    return claims


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    """What :func:`verify_document` found: ``envelope``, ``receipt`` or ``response``, and
    its verified content (the envelope's payload, or the JWT claims)."""

    kind: str
    content: dict[str, Any]
    payload_sha256: str | None


_COMPACT_KINDS = {RECEIPT_TYPE: "receipt", RESPONSE_TYPE: "response"}


def verify_document(text: str, jwks: Mapping[str, Any]) -> VerifiedDocument:
    """Verify, offline against ``jwks``, what a sender or recipient holds: an envelope (the
    JWS JSON alone, or the pushed ``{"type", "timestamp", "data"}`` body), a receipt or
    signed response (compact JWS), or the submit answer holding ``receipt``."""
    stripped = text.strip()
    document: Any = stripped
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            raise EnvelopeVerificationError("The file is neither JSON nor a compact JWS.") from None
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            document = document["data"]
        elif isinstance(document, dict) and isinstance(document.get("receipt"), str):
            document = document["receipt"]
    if isinstance(document, dict):
        opened = open_envelope(document, jwks)
        return VerifiedDocument("envelope", opened.payload, opened.payload_sha256)
    try:
        header = json.loads(unb64url(str(document).split(".")[0]))
    except (ValueError, TypeError):
        raise EnvelopeVerificationError("The file is neither JSON nor a compact JWS.") from None
    typ = header.get("typ") if isinstance(header, dict) else None
    if typ not in _COMPACT_KINDS:
        raise EnvelopeVerificationError(
            f"A compact JWS of typ {typ!r} is not a receipt ({RECEIPT_TYPE}) or a response "
            f"({RESPONSE_TYPE})."
        )
    claims = verify_compact(str(document), jwks, typ=str(typ), algorithms=GATEWAY_ALGORITHMS)
    digest = claims.get("payload_sha256")
    return VerifiedDocument(
        _COMPACT_KINDS[str(typ)], claims, digest if isinstance(digest, str) else None
    )
