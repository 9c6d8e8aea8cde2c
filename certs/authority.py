"""STUB: replaced by the PKI implementation."""

from __future__ import annotations

from pathlib import Path


class CertificateAuthority:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        return cls(directory)
