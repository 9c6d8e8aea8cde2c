"""Settings of the example back office, read from ``BACK_OFFICE_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Config:
    """Where GovConnect is, who this back office is to it, and where it keeps things.

    ``webhook_secret`` is the ``whsec_`` secret ``govconnect recipients set --push`` printed
    (push only). ``answer`` off makes the back office store and acknowledge nothing more than
    it must (a receiver under test); on, it acknowledges and answers every submission with a
    case reference.
    """

    govconnect_url: str = "http://127.0.0.1:8000"
    base_url: str = "http://127.0.0.1:8002"
    client_id: str = ""
    key_file: Path = Path("var/back-office/client-key.json")
    database: Path = Path("var/back-office/submissions.sqlite3")
    webhook_secret: str | None = None
    answer: bool = True
    case_prefix: str = "ABO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        def get(name: str, default: str) -> str:
            return environ.get(f"BACK_OFFICE_{name}", default).strip() or default

        defaults = cls()
        return cls(
            govconnect_url=get("GOVCONNECT_URL", defaults.govconnect_url).rstrip("/"),
            base_url=get("BASE_URL", defaults.base_url).rstrip("/"),
            client_id=get("CLIENT_ID", ""),
            key_file=Path(get("KEY_FILE", str(defaults.key_file))),
            database=Path(get("DATABASE", str(defaults.database))),
            webhook_secret=environ.get("BACK_OFFICE_WEBHOOK_SECRET") or None,
            answer=get("ANSWER", "yes") != "no",
            case_prefix=get("CASE_PREFIX", defaults.case_prefix),
        )

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/govconnect/submissions"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 8002
