"""Envelope encryption of message bodies and attachments (NIST SP 800-57 Part 1 §5.3.4 and
SP 800-38F's key wrapping, done with AES-GCM).

Every message gets a fresh 256-bit **data key**. Its body and each attachment are sealed with
AES-256-GCM (NIST SP 800-38D, random 96-bit nonce §8.2.2, 128-bit tag) under that key, with
associated data naming the message id and the part (``body``, ``attachment:<id>``), so a
ciphertext moved to another message — or to another part of the same message — fails to open.
The data key itself is stored only **wrapped** by a key-encryption key (KEK): AES-256-GCM with
the message id as associated data again. Destroying the wrapped data key makes the message
unrecoverable, from the live store and from every backup of it.

KEKs live in a key ring beside the other data keys (``<pki_dir>/message-keys.json``, 0600, in
the same document shape as :mod:`gateway.core.secretbox`'s ``data-keys.json``). The newest key
wraps; every older key stays so that what it wrapped still opens. ``govconnect keys
rotate-kek`` adds a key and re-wraps every stored data key under it, never touching a body.
Gateway processes notice a new key within a second (the file's modification time is checked
at most once a second), so a rotation needs no restart.

A wrapped key, before base64url (RFC 4648 §5, unpadded)::

    version (1 byte) ‖ KEK id (8 bytes) ‖ nonce (12 bytes) ‖ wrapped key (32) ‖ tag (16)

A sealed part::

    version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.core.secretbox import DataKey, UnsealError
from messaging.errors import MessageKeyError

KEK_FILE_NAME = "message-keys.json"
_FORMAT = "govconnect-message-keys/1"
_VERSION = 1
_KID_BYTES = 8
_NONCE_BYTES = 12
_KEY_BYTES = 32
_TAG_BYTES = 16
_WRAPPED_BYTES = 1 + _KID_BYTES + _NONCE_BYTES + _KEY_BYTES + _TAG_BYTES
_WRAP_LABEL = b"govconnect-message-key\x00"
_SEAL_LABEL = b"govconnect-message\x00"
_RELOAD_SECONDS = 1.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise UnsealError("the sealed value is not base64url") from None


@dataclass(frozen=True, slots=True)
class DataKeyMaterial:
    """A message's data key in the clear: lives only in memory for one operation."""

    key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> DataKeyMaterial:
        return cls(AESGCM.generate_key(bit_length=_KEY_BYTES * 8))


def wrapped_kid(wrapped: str) -> str:
    """The id (hex) of the KEK that wrapped ``wrapped``, read from its header."""
    raw = _unb64(wrapped)
    if len(raw) != _WRAPPED_BYTES or raw[0] != _VERSION:
        raise UnsealError("the wrapped data key is damaged or of an unknown version")
    return raw[1 : 1 + _KID_BYTES].hex()


def seal(key: DataKeyMaterial, plaintext: bytes, *, message_id: str, part: str) -> str:
    """Encrypt one part of a message under its data key, bound to the message and the part."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key.key).encrypt(nonce, plaintext, _part_aad(message_id, part))
    return _b64(bytes([_VERSION]) + nonce + sealed)


def open_sealed(key: DataKeyMaterial, token: str, *, message_id: str, part: str) -> bytes:
    """The plaintext of a part sealed for this message and part; :class:`UnsealError` for a
    part of any other message (or another part), or anything damaged."""
    raw = _unb64(token)
    if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES or raw[0] != _VERSION:
        raise UnsealError("the sealed message part is damaged or of an unknown version")
    nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key.key).decrypt(nonce, sealed, _part_aad(message_id, part))
    except InvalidTag:
        raise UnsealError(
            "the message part failed authentication: it was changed, or belongs to another message"
        ) from None


def _part_aad(message_id: str, part: str) -> bytes:
    return _SEAL_LABEL + message_id.encode() + b"\x00" + part.encode()


def _wrap_aad(kid: bytes, message_id: str) -> bytes:
    return _WRAP_LABEL + bytes([_VERSION]) + kid + message_id.encode()


class KekRing:
    """The key-encryption keys in ``path``: the newest wraps, any opens what it wrapped.

    The file is created with one key on first use if missing (``O_EXCL`` then a hard link, so
    two processes cannot both create it; mode 0600 in a 0700 folder), so a gateway set up
    before messaging existed needs no extra step.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._keys: dict[bytes, DataKey] = {}
        self._newest: DataKey | None = None
        self._mtime_ns = -1
        self._checked = 0.0

    def wrap(self, key: DataKeyMaterial, *, message_id: str) -> str:
        kek = self._current()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        wrapped = AESGCM(kek.key).encrypt(nonce, key.key, _wrap_aad(kek.kid, message_id))
        return _b64(bytes([_VERSION]) + kek.kid + nonce + wrapped)

    def unwrap(self, wrapped: str, *, message_id: str) -> DataKeyMaterial:
        """The data key of ``message_id``; :class:`UnsealError` when it was wrapped for
        another message, is damaged, or names a KEK this ring does not hold."""
        raw = _unb64(wrapped)
        if len(raw) != _WRAPPED_BYTES or raw[0] != _VERSION:
            raise UnsealError("the wrapped data key is damaged or of an unknown version")
        kid = raw[1 : 1 + _KID_BYTES]
        start = 1 + _KID_BYTES
        nonce, body = raw[start : start + _NONCE_BYTES], raw[start + _NONCE_BYTES :]
        kek = self._key(kid)
        try:
            return DataKeyMaterial(AESGCM(kek.key).decrypt(nonce, body, _wrap_aad(kid, message_id)))
        except InvalidTag:
            raise UnsealError(
                "the data key failed authentication: it was changed, or wrapped for another message"
            ) from None

    def current_kid(self) -> str:
        return self._current().kid.hex()

    def rotate(self) -> str:
        """Add a new KEK, which wraps from now on; its id (hex). Takes an exclusive lock on
        ``<file>.lock`` so two rotations at once cannot lose a key."""
        self._ensure_file()
        lock_path = self._path.with_name(self._path.name + ".lock")
        descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            keys = self._read()
            added = DataKey.generate()
            self._write([*keys, added])
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)
        with self._lock:
            self._checked = 0.0
        return added.kid.hex()

    # --- the file --------------------------------------------------------------------------

    def _current(self) -> DataKey:
        self._refresh()
        assert self._newest is not None
        return self._newest

    def _key(self, kid: bytes) -> DataKey:
        self._refresh()
        key = self._keys.get(kid)
        if key is None:
            self._refresh(force=True)
            key = self._keys.get(kid)
        if key is None:
            raise UnsealError(f"the data key names KEK {kid.hex()}, which is not in {self._path}")
        return key

    def _refresh(self, *, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and self._newest is not None and now - self._checked < _RELOAD_SECONDS:
                return
            self._checked = now
            self._ensure_file()
            mtime = self._path.stat().st_mtime_ns
            if mtime == self._mtime_ns and self._newest is not None:
                return
            keys = self._read()
            self._keys = {key.kid: key for key in keys}
            # The file lists keys in the order they were added; the last one wraps.
            self._newest = keys[-1]
            self._mtime_ns = mtime

    def _ensure_file(self) -> None:
        if self._path.exists():
            return
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._temporary()
        # NOTE: the KEKs sit in a 0600 file on the gateway's disk, as the other data keys do
        # (gateway.core.secretbox), so one command sets up a gateway; production should keep
        # the pki folder on an encrypted volume, or put the KEK in a KMS behind this class.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(_document([DataKey.generate()]))
                handle.flush()
                os.fsync(handle.fileno())
            # Another process may have made it first: then theirs is used.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, self._path)
        finally:
            temporary.unlink(missing_ok=True)

    def _write(self, keys: list[DataKey]) -> None:
        temporary = self._temporary()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(_document(keys))
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self._path)
        finally:
            temporary.unlink(missing_ok=True)

    def _temporary(self) -> Path:
        return self._path.with_name(f".{self._path.name}.{secrets.token_hex(8)}.tmp")

    def _read(self) -> list[DataKey]:
        try:
            document: dict[str, Any] = json.loads(self._path.read_bytes())
            if document.get("format") != _FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}")
            keys = [
                DataKey(bytes.fromhex(k["kid"]), str(k["created_at"]), _unb64(k["key"]))
                for k in document["keys"]
            ]
            if not keys or any(len(k.kid) != _KID_BYTES or len(k.key) != _KEY_BYTES for k in keys):
                raise ValueError("a key has the wrong length, or there are none")
        except OSError as exc:
            raise MessageKeyError(
                f"cannot read the message KEKs at {self._path}: {exc.strerror}"
            ) from exc
        except (AttributeError, KeyError, TypeError, ValueError, UnsealError) as exc:
            raise MessageKeyError(
                f"the message KEK file {self._path} is damaged ({exc}); restore it from a backup"
            ) from exc
        return keys


def _document(keys: list[DataKey]) -> bytes:
    return json.dumps({"format": _FORMAT, "keys": [k.to_json() for k in keys]}, indent=2).encode()
