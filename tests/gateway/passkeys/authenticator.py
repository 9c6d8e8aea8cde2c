"""A passkey authenticator in software, making genuine WebAuthn responses for the tests.

py_webauthn verifies responses but cannot make them. This one holds real EC P-256 keys and
builds what a browser would send (W3C Web Authentication Level 3): ``clientDataJSON``
(§5.8.1), authenticator data (§6.1), a ``"none"`` attestation object (§6.5.4, §8.7) and an
ES256 assertion signature over ``authenticatorData ‖ SHA-256(clientDataJSON)`` (§6.3.3).
Every field a test attacks can be overridden.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.passkeys.models import b64url, from_b64url

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes.fromhex("00112233445566778899aabbccddeeff")


@dataclass
class Credential:
    """One discoverable credential the authenticator holds."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    sign_count: int = 0

    @property
    def id_text(self) -> str:
        return b64url(self.id)


def _cose_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    """RFC 9053 §7.1.1 EC2 key: kty 2, alg -7 (ES256), crv 1 (P-256), x, y."""
    numbers = key.public_key().public_numbers()
    return cbor2.dumps(
        {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    )


@dataclass
class SoftAuthenticator:
    """Answers ``navigator.credentials.create()`` and ``.get()`` options (as JSON dicts) for
    ``origin``, like a platform authenticator with user verification."""

    origin: str
    rp_id: str
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV | BE | BS | AT,
        reuse: Credential | None = None,
    ) -> str:
        """A registration response (§5.1.3) for creation options, as the page would post it:
        a new credential, or ``reuse`` (an authenticator ignoring ``excludeCredentials``)."""
        credential = reuse or Credential(
            secrets.token_bytes(16),
            ec.generate_private_key(ec.SECP256R1()),
            from_b64url(options["user"]["id"]),
        )
        self.credentials[credential.id] = credential
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (
            self._rp_hash(rp_id)
            + bytes([flags])
            + struct.pack(">I", credential.sign_count)
            + AAGUID
            + struct.pack(">H", len(credential.id))
            + credential.id
            + _cose_key(credential.key)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": credential.id_text,
                "rawId": credential.id_text,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
            }
        )

    def get(
        self,
        options: dict[str, Any],
        credential: Credential | None = None,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV | BE | BS,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        tamper: bool = False,
    ) -> str:
        """An assertion (§5.1.4) with ``credential`` (else the only one held); the counter
        goes up by one unless ``sign_count`` says otherwise."""
        chosen = credential or next(iter(self.credentials.values()))
        chosen.sign_count = chosen.sign_count + 1 if sign_count is None else sign_count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._rp_hash(rp_id) + bytes([flags]) + struct.pack(">I", chosen.sign_count)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = chosen.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        if tamper:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        return json.dumps(
            {
                "id": chosen.id_text,
                "rawId": chosen.id_text,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(user_handle or chosen.user_handle),
                },
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _rp_hash(self, rp_id: str | None) -> bytes:
        return hashlib.sha256((rp_id or self.rp_id).encode()).digest()
