"""Small secrets at rest (TOTP seeds, device tokens), sealed with AES-256-GCM.

A :class:`SecretBox` seals a few bytes under a data key from a key file beside the signing
keys (``<pki_dir>/data-keys.json``) and returns base64url text that Redis can hold. The
token is, before base64url (RFC 4648 §5, no padding)::

    version (1 byte) ‖ key id (8 bytes) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)

AES-GCM is NIST SP 800-38D with a random 96-bit nonce (§8.2.2) and a 128-bit tag. The
associated data binds the version, the key id and a caller's ``context`` (an account id, a
purpose), so a token copied to another account, or to another use, fails to open: the store
cannot be used to move a secret from one person to another.

Rotation: the file is a key ring. Every key that ever sealed stays in it so old tokens open;
the newest key seals. ``initialise`` writes one key; adding a key later needs no change to any
token already stored. The file format::

    {"format": "govconnect-data-keys/1",
     "keys": [{"kid": "<16 hex>", "created_at": "<ISO 8601>", "key": "<base64url 32 bytes>"}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.core.errors import ConfigurationError, GovConnectError

DATA_KEY_FILE_NAME = "data-keys.json"
_FORMAT = "govconnect-data-keys/1"
_VERSION = 1
_KID_BYTES = 8
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_BYTES = 32
_HEADER = 1 + _KID_BYTES
_AAD_LABEL = b"govconnect-secretbox\x00"


class UnsealError(GovConnectError):
    """A sealed token cannot be opened: damaged, tampered with, sealed for another context
    or under a key this gateway does not hold. Nothing about the plaintext is revealed."""

    slug = "sealed-data-unreadable"
    title = "Sealed data unreadable"


@dataclass(frozen=True, slots=True)
class DataKey:
    kid: bytes
    created_at: str
    key: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"kid": self.kid.hex(), "created_at": self.created_at, "key": _b64(self.key)}

    @classmethod
    def generate(cls) -> DataKey:
        return cls(
            kid=secrets.token_bytes(_KID_BYTES),
            created_at=datetime.now(UTC).isoformat(),
            key=AESGCM.generate_key(bit_length=_KEY_BYTES * 8),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(header: bytes, context: str) -> bytes:
    return _AAD_LABEL + header + context.encode("utf-8")


class SecretBox:
    """Seals and opens small secrets with the newest data key in ``path``.

    Nothing touches the disk until the first seal or open (the gateway builds its services
    before ``govconnect init`` may have run); then the ring is cached in memory. A token
    naming a key this process has not seen makes it read the file again once, so a key added
    by another process is picked up without a restart.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._keys: dict[bytes, DataKey] | None = None
        self._newest: DataKey | None = None

    @classmethod
    def load(cls, path: Path) -> SecretBox:
        """A box over the key file at ``path``; read lazily, on first use."""
        return cls(path)

    @staticmethod
    def initialise(path: Path) -> bool:
        """Create the key file with one data key unless it exists; True if this call did.

        The folder is made 0700 and the file 0600. The document is written to a temporary
        file opened with ``O_EXCL`` and then hard-linked into place, which fails if the file
        exists: two ``init`` runs at once cannot both create a key, and no reader ever sees a
        half-written file. Safe to run again.
        """
        if path.exists():
            return False
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = {"format": _FORMAT, "keys": [DataKey.generate().to_json()]}
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        # NOTE: the data key sits in a 0600 file on the gateway's disk rather than in a KMS,
        # so one command sets up a gateway (as for the signing keys). A production deployment
        # should put the pki folder on an encrypted volume readable only by the gateway's user.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(json.dumps(document, indent=2).encode())
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        finally:
            temporary.unlink(missing_ok=True)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return True

    def seal(self, plaintext: bytes, *, context: str) -> str:
        """Encrypt and authenticate ``plaintext`` for ``context``; base64url text."""
        key = self._newest_key()
        header = bytes([_VERSION]) + key.kid
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(key.key).encrypt(nonce, plaintext, _aad(header, context))
        return _b64(header + nonce + sealed)

    def open(self, token: str, *, context: str) -> bytes:
        """The plaintext of a token sealed for the same ``context``; :class:`UnsealError`
        for anything else."""
        try:
            raw = _unb64(token)
        except (binascii.Error, ValueError):
            raise UnsealError("the sealed value is not base64url") from None
        if len(raw) < _HEADER + _NONCE_BYTES + _TAG_BYTES or raw[0] != _VERSION:
            raise UnsealError("the sealed value is damaged or of an unknown version")
        header, kid = raw[:_HEADER], raw[1:_HEADER]
        nonce, sealed = raw[_HEADER : _HEADER + _NONCE_BYTES], raw[_HEADER + _NONCE_BYTES :]
        key = self._key(kid)
        try:
            return AESGCM(key.key).decrypt(nonce, sealed, _aad(header, context))
        except InvalidTag:
            raise UnsealError(
                "the sealed value failed authentication: it was changed, or sealed for "
                "another context"
            ) from None

    def _newest_key(self) -> DataKey:
        self._ring()
        assert self._newest is not None
        return self._newest

    def _key(self, kid: bytes) -> DataKey:
        key = self._ring().get(kid)
        if key is None:
            key = self._ring(reload=True).get(kid)
        if key is None:
            raise UnsealError(
                f"the sealed value names data key {kid.hex()}, which is not in {self._path}"
            )
        return key

    def _ring(self, *, reload: bool = False) -> dict[bytes, DataKey]:
        with self._lock:
            if self._keys is None or reload:
                keys = self._read()
                self._keys = {key.kid: key for key in keys}
                self._newest = max(keys, key=lambda k: k.created_at)
            return self._keys

    def _read(self) -> list[DataKey]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(
                f"no data keys at {self._path}; run 'govconnect init'"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the data keys at {self._path}: {exc.strerror}"
            ) from exc
        try:
            document: dict[str, Any] = json.loads(raw)
            if document.get("format") != _FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}")
            keys = [
                DataKey(bytes.fromhex(k["kid"]), str(k["created_at"]), _unb64(k["key"]))
                for k in document["keys"]
            ]
            if not keys or any(len(k.kid) != _KID_BYTES or len(k.key) != _KEY_BYTES for k in keys):
                raise ValueError("a key has the wrong length, or there are none")
        except (AttributeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ConfigurationError(
                f"the data key file {self._path} is damaged ({exc}); restore it from a backup"
            ) from exc
        return keys
