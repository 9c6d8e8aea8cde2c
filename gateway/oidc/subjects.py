"""Pairwise subject identifiers (OIDC Core §8.1): each sector sees a different ``sub``.

``sub = base64url(HMAC-SHA256(secret, sector ‖ 0x00 ‖ account id))``: stable for one person
at one sector, unlinkable across sectors without the secret, and never the internal id. The
secret lives in ``<pki_dir>/pairwise.key`` (0600), made once by ``govconnect init``; losing
or changing it changes every subject every relying party holds, so it is never rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from gateway.core.errors import ConfigurationError

PAIRWISE_KEY_FILE_NAME = "pairwise.key"


class PairwiseSubjects:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._secret: bytes | None = None

    @staticmethod
    def initialise(path: Path) -> bool:
        """Create the secret if it is missing (mode 0600); True when this call created it."""
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        return True

    def subject(self, sector: str, account_id: str) -> str:
        message = sector.encode() + b"\x00" + account_id.encode()
        digest = hmac.new(self._key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _key(self) -> bytes:
        if self._secret is None:
            try:
                self._secret = base64.urlsafe_b64decode(self._path.read_text(encoding="ascii"))
            except FileNotFoundError as exc:
                raise ConfigurationError(
                    f"no pairwise subject secret at {self._path}; run 'govconnect init'"
                ) from exc
        return self._secret
