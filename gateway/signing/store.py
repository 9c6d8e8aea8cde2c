"""The key ring's file: one JSON document, written atomically, changed under a lock.

The signing keys live in a file rather than Redis so that a gateway can sign before its store
is reachable and ``govconnect keys`` works without one. The file holds the live keys (with
their private halves, as RFC 7517 JWKs) and the archive of retired public keys::

    {"format": "govconnect-signing-keys/1",
     "keys":    [{"kid", "family", "state", "created_at", "retired_at", "jwk": {private JWK}}],
     "archive": [{"kid", "family", "created_at", "retired_at", "jwk": {public JWK}}]}

Writers replace the whole file (temporary file, fsync, rename), so a reader or a crash never
sees half a document; writers take an exclusive ``flock`` on a sibling lock file so two
rotations cannot both start from the same state and lose one another's keys.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from gateway.core.errors import ConfigurationError
from gateway.signing.models import AsymmetricKey, KeyFamily, KeyState, SigningKey

KEY_FILE_NAME = "signing-keys.json"
_FORMAT = "govconnect-signing-keys/1"
_KEY_CLASSES: dict[KeyFamily, type[ECKey] | type[RSAKey]] = {
    KeyFamily.EC_P256: ECKey,
    KeyFamily.RSA_2048: RSAKey,
}


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Identifies one version of the file: every atomic write makes a new inode."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileStamp:
        return cls(status.st_ino, status.st_size, status.st_mtime_ns)


class KeyFile:
    """Reads and writes the key ring's file; knows its format and nothing of rotation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    def stamp(self) -> FileStamp | None:
        """The current version of the file, or None when there is none; one ``stat`` call."""
        try:
            return FileStamp.of(self.path.stat())
        except FileNotFoundError:
            return None

    def load(self) -> tuple[tuple[SigningKey, ...], FileStamp] | None:
        """Every key in the file and the version read, or None when there is no file."""
        try:
            with self.path.open("rb") as handle:
                # fstat on the open file, so the stamp names exactly the bytes read.
                stamp = FileStamp.of(os.fstat(handle.fileno()))
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the signing keys at {self.path}: {exc.strerror}"
            ) from exc
        return self._parse(raw), stamp

    def save(self, keys: Iterable[SigningKey]) -> FileStamp:
        """Replace the file atomically with ``keys``; returns the version written.

        Call inside :meth:`locked`, having loaded the keys there, or a concurrent writer's
        change is lost.
        """
        live: list[dict[str, Any]] = []
        archive: list[dict[str, Any]] = []
        for key in keys:
            if key.state is KeyState.ARCHIVED:
                archive.append(_record(key, private=False))
            else:
                live.append({**_record(key, private=True), "state": key.state.value})
        document = {"format": _FORMAT, "keys": live, "archive": archive}
        data = json.dumps(document, indent=2).encode()
        folder = self.path.parent
        temporary = folder / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        # NOTE: private keys sit in a 0600 file on the gateway's disk rather than in a KMS or
        # HSM, so one command sets up a development gateway. A production deployment should
        # put the pki folder on an encrypted volume readable only by the gateway's user.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                stamp = FileStamp.of(os.fstat(handle.fileno()))
            temporary.replace(self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_folder(folder)
        return stamp

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock for a read-modify-write; creates the folder (0700) if need be.

        ``flock`` is released by the kernel when the descriptor closes, so a writer killed
        mid-rotation never leaves the ring locked.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _parse(self, raw: bytes) -> tuple[SigningKey, ...]:
        try:
            document = json.loads(raw)
            if document.get("format") != _FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}")
            keys = [_key(record, KeyState(record["state"])) for record in document["keys"]]
            keys.extend(_key(record, KeyState.ARCHIVED) for record in document["archive"])
        except (AttributeError, KeyError, TypeError, ValueError, JoseError) as exc:
            raise ConfigurationError(
                f"the signing key file {self.path} is damaged ({exc}); restore it from a backup"
            ) from exc
        for family in KeyFamily:
            for state in (KeyState.CURRENT, KeyState.NEXT):
                if sum(1 for k in keys if k.family is family and k.state is state) != 1:
                    raise ConfigurationError(
                        f"the signing key file {self.path} must hold exactly one {state.value} "
                        f"{family.value} key; restore it from a backup"
                    )
        return tuple(keys)


def _record(key: SigningKey, *, private: bool) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "family": key.family.value,
        "created_at": key.created_at.isoformat(),
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
        "jwk": key.key.as_dict(private=private),
    }


def _key(record: dict[str, Any], state: KeyState) -> SigningKey:
    family = KeyFamily(record["family"])
    jwk: AsymmetricKey = _KEY_CLASSES[family].import_key(record["jwk"])
    kid = record["kid"]
    # The kid is the RFC 7638 thumbprint; recomputing it catches a key swapped under its name.
    if jwk.thumbprint() != kid:
        raise ValueError(f"key {kid} does not match its thumbprint")
    if jwk.is_private == (state is KeyState.ARCHIVED):
        raise ValueError(f"key {kid} should {'not ' if jwk.is_private else ''}be private")
    retired_at = record["retired_at"]
    return SigningKey(
        kid=kid,
        family=family,
        state=state,
        created_at=datetime.fromisoformat(record["created_at"]),
        retired_at=datetime.fromisoformat(retired_at) if retired_at else None,
        key=jwk,
    )


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable: without it a power cut can bring back the old file."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
