"""The signed envelope, the sender's receipt and the recipient's acknowledgement (JOSE).

- **Envelope**: a JWS in the general JSON serialization (RFC 7515 §7.2.1). Its payload is the
  canonical JSON (sorted keys, no spaces, UTF-8) of what the sender sends: the issuer it
  sends to, sender, recipient, service and version, reference, body and the attachments'
  SHA-256 digests, all of which a sender knows before it submits, so a sender that holds a
  registered key signs the very same payload bytes (:func:`verify_sender_signature`). The
  gateway's signature is one member of ``signatures``, ``alg`` ES256, the ``kid`` of its key
  in the published JWKS and ``typ`` :data:`ENVELOPE_TYPE`; what only the gateway knows (the
  submission id, the time of acceptance, the citizen's pairwise subject, level and acting
  agent, and the sender's key that verified) is in that signature's protected header under
  ``submission``, so the gateway's signature covers it (RFC 7515 §5.1: the signing input is
  the protected header and the payload).
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
from joserfc.registry import HeaderParameter

from gateway.delivery.errors import (
    EnvelopeVerificationError,
    InvalidAcknowledgementError,
    SenderSignatureError,
)
from gateway.evidence.models import canonical_json
from gateway.signing.models import SigningKey

ENVELOPE_TYPE = "submission+jws"
RECEIPT_TYPE = "receipt+jwt"
ACKNOWLEDGEMENT_TYPE = "ack+jwt"
RESPONSE_TYPE = "response+jwt"
GATEWAY_ALGORITHMS = ("ES256",)
# What a sender or recipient may sign with: the algorithms of private_key_jwt.
CLIENT_ALGORITHMS = ("ES256", "PS256", "RS256", "EdDSA")
ACKNOWLEDGEMENT_SKEW_SECONDS = 300
MAX_TOKEN_BYTES = 8192
_KEY_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c"})
# joserfc refuses a protected header over 512 bytes and a payload over 128,000 bytes by
# default; the gateway's header holds its facts (a citizen's subject with an acting agent,
# the sender's key) and a payload a body of up to 900,000 bytes, so both limits are raised
# (docs/receiving-submissions.md tells recipients to do the same).
MAX_HEADER_BYTES = 4096
MAX_PAYLOAD_BYTES = 2 * 1024 * 1024


def _limits(registry: JWSRegistry) -> JWSRegistry:
    registry.max_header_length = MAX_HEADER_BYTES
    registry.max_payload_length = MAX_PAYLOAD_BYTES
    return registry


_REGISTRIES = {
    alg: _limits(JWSRegistry(algorithms=[alg], strict_check_header=False))
    for alg in CLIENT_ALGORITHMS
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


FACTS = "submission"  # the gateway's protected header member holding its facts


def _is_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")


# RFC 7515 §4.3 lets a signer define header parameters; joserfc checks them against a registry.
ENVELOPE_REGISTRY = _limits(
    JWSRegistry(
        header_registry={FACTS: HeaderParameter("the gateway's facts of a submission", _is_object)},
        algorithms=GATEWAY_ALGORITHMS,
    )
)


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


def seal_envelope(
    content: Mapping[str, Any],
    facts: Mapping[str, Any],
    key: SigningKey,
    sender_member: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The envelope: ``content`` as the payload, signed by the gateway's current ES256 key
    with ``facts`` in its protected header (RFC 7515 §7.2.1), beside the sender's own
    signature member when there is one."""
    header = {"alg": "ES256", "kid": key.kid, "typ": ENVELOPE_TYPE, FACTS: dict(facts)}
    signed = jws.serialize_json(
        [{"protected": header}],
        payload_bytes(content),
        key.key,
        registry=ENVELOPE_REGISTRY,
    )
    signatures = [*signed["signatures"], *([dict(sender_member)] if sender_member else [])]
    return {"payload": signed["payload"], "signatures": signatures}


def sealed_facts(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The facts :func:`seal_envelope` put in the gateway's own signature header, read back
    without verifying: only for an envelope the gateway sealed and kept in its own store."""
    facts = _header(envelope["signatures"][0]["protected"]).get(FACTS)
    return dict(facts) if isinstance(facts, dict) else {}


@dataclass(frozen=True, slots=True)
class OpenedEnvelope:
    """An envelope whose signatures verified: the payload (the sender's content), the
    gateway's facts, the payload's digest, whether the sender signed it too, and the kids of
    the signatures that verified."""

    content: dict[str, Any]
    facts: dict[str, Any]
    payload_sha256: str
    sender_signed: bool
    verified_kids: tuple[str, ...]

    @property
    def submission(self) -> dict[str, Any]:
        """The whole submission: the payload with the gateway's facts (the sender's key
        left out)."""
        return {**self.content, **{k: v for k, v in self.facts.items() if k != "sender_key"}}


def _header(protected: object) -> dict[str, Any]:
    """A protected header, refused when malformed or carrying its own key."""
    if not isinstance(protected, str):
        raise EnvelopeVerificationError("Each signature needs a protected header.")
    try:
        header = json.loads(unb64url(protected))
    except (ValueError, TypeError):
        raise EnvelopeVerificationError("A protected header is not base64url JSON.") from None
    if not isinstance(header, dict) or _KEY_HEADERS & header.keys():
        raise EnvelopeVerificationError(
            "A signature header carries its own key; envelopes are verified only with keys "
            "named by kid: the gateway's published keys, and the sender's key the gateway's "
            "signature vouches for."
        )
    return header


def _check_member(payload: str, member: Mapping[str, Any], key: Any, registry: JWSRegistry) -> bool:
    flattened: FlattenedJSONSerialization = {
        "payload": payload,
        "protected": str(member.get("protected", "")),
        "signature": str(member.get("signature", "")),
    }
    try:
        jws.deserialize_json(flattened, key, registry=registry)
    except (JoseError, ValueError, TypeError):
        return False
    return True


def open_envelope(envelope: Any, jwks: Mapping[str, Any]) -> OpenedEnvelope:
    """Verify an envelope against the gateway's JWK Set (``/.well-known/jwks.json``, with the
    archive of retired keys for old envelopes): exactly one signature is the gateway's and
    verifies; any other must be the sender's, by the key the gateway's signature names
    (``sender_key``), and verify too; a ``sender_key`` without a matching signature fails.
    Raises :class:`EnvelopeVerificationError`."""
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
    members = [m for m in envelope["signatures"] if isinstance(m, Mapping)]
    if len(members) != len(envelope["signatures"]):
        raise EnvelopeVerificationError("Each signature is a JSON object.")
    headers = [_header(m.get("protected")) for m in members]
    gateway = [
        (member, header)
        for member, header in zip(members, headers, strict=True)
        if _key_by_kid(jwks, header.get("kid")) is not None
    ]
    if len(gateway) != 1:
        raise EnvelopeVerificationError(
            "Exactly one signature of the envelope must be by a key in the JWK Set given; "
            f"found {len(gateway)}. Fetch the gateway's /.well-known/jwks.json (and "
            "/pki/signing-keys-archive.json)."
        )
    member, header = gateway[0]
    facts = header.get(FACTS)
    if (
        header.get("alg") not in GATEWAY_ALGORITHMS
        or header.get("typ") != ENVELOPE_TYPE
        or not isinstance(facts, dict)
    ):
        raise EnvelopeVerificationError(
            f"The gateway's signature must be ES256 with typ {ENVELOPE_TYPE} and its facts "
            f"under {FACTS!r}."
        )
    payload = envelope["payload"]
    if not _check_member(payload, member, _key_by_kid(jwks, header["kid"]), ENVELOPE_REGISTRY):
        raise EnvelopeVerificationError(
            f"The signature by key {header['kid']} does not match the payload: the "
            "envelope was changed after it was signed."
        )
    verified = [str(header["kid"])]
    others = [(m, h) for m, h in zip(members, headers, strict=True) if m is not member]
    sender_key = facts.get("sender_key")
    if others or sender_key is not None:
        verified.append(_check_sender(payload, others, sender_key))
    raw = unb64url(payload)
    try:
        content = json.loads(raw)
    except ValueError:
        raise EnvelopeVerificationError("The payload is not JSON.") from None
    if not isinstance(content, dict):
        raise EnvelopeVerificationError("The payload is not a JSON object.")
    return OpenedEnvelope(content, facts, sha256_hex(raw), len(verified) == 2, tuple(verified))


def _check_sender(
    payload: str, others: list[tuple[Mapping[str, Any], dict[str, Any]]], sender_key: Any
) -> str:
    """The kid of the sender's signature, verified with the key the gateway vouched for."""
    if not isinstance(sender_key, dict) or len(others) != 1:
        raise EnvelopeVerificationError(
            "Besides the gateway's, an envelope holds one signature: the sender's, by the "
            "sender_key the gateway's signature names; this one does not."
        )
    member, header = others[0]
    # NOTE: this key is trusted because the gateway's verified signature covers it (it is
    # the key registered for the sending client that the gateway checked the signature
    # with); a key in the sender's own header would prove nothing and is refused above.
    key = _key_by_kid({"keys": [sender_key]}, header.get("kid"), sole_key=True)
    alg = header.get("alg")
    if (
        key is None
        or alg not in CLIENT_ALGORITHMS
        or header.get("typ") != ENVELOPE_TYPE
        or not _check_member(payload, member, key, _REGISTRIES[str(alg)])
    ):
        raise EnvelopeVerificationError(
            "The sender's signature does not verify over the payload with the sender's key "
            "the gateway names: the envelope was changed after it was signed."
        )
    return str(header.get("kid", sender_key.get("kid", "")))


def verify_sender_signature(detached: str, payload: bytes, keys: KeySet) -> dict[str, Any]:
    """Check a sender's detached JWS (RFC 7515 Appendix F: ``<protected>..<signature>``)
    over the envelope ``payload`` with its client's registered ``keys`` (``typ``
    :data:`ENVELOPE_TYPE`, one of :data:`CLIENT_ALGORITHMS`, the key named by ``kid``, or the
    only key of a set without kids). Returns the signature member and the public key that
    verified it; raises :class:`SenderSignatureError`."""
    parts = detached.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SenderSignatureError(
            "sender_signature is a detached JWS: '<protected header>..<signature>' (RFC 7515 "
            "Appendix F), with an empty payload part."
        )
    try:
        header = _header(parts[0])
    except EnvelopeVerificationError as exc:
        raise SenderSignatureError(f"sender_signature: {exc.detail}") from None
    alg = header.get("alg")
    if alg not in CLIENT_ALGORITHMS or header.get("typ") != ENVELOPE_TYPE:
        raise SenderSignatureError(
            f"sender_signature must use one of {', '.join(CLIENT_ALGORITHMS)} and typ "
            f"{ENVELOPE_TYPE}."
        )
    jwks = keys.as_dict(private=False)
    key = _key_by_kid(jwks, header.get("kid"), sole_key=True)
    member = {"protected": parts[0], "signature": parts[2]}
    if key is None or not _check_member(b64url(payload), member, key, _REGISTRIES[str(alg)]):
        raise SenderSignatureError(
            "sender_signature does not verify over the payload with a key registered for "
            "your client: sign the canonical JSON of the payload exactly as "
            "docs/receiving-submissions.md spells it."
        )
    public = dict(key.as_dict(private=False))
    if isinstance(header.get("kid"), str):
        public["kid"] = header["kid"]
    return {"member": member, "key": public}


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
            algorithms=CLIENT_ALGORITHMS,
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
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
            raise EnvelopeVerificationError("The file is neither JSON nor a compact JWS.") from None
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            document = document["data"]
        elif isinstance(document, dict) and isinstance(document.get("receipt"), str):
            document = document["receipt"]
    if isinstance(document, dict):
        opened = open_envelope(document, jwks)
        return VerifiedDocument("envelope", opened.submission, opened.payload_sha256)
    try:
        header = json.loads(unb64url(str(document).split(".")[0]))
    except (ValueError, TypeError, RecursionError):
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
