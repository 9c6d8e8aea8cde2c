"""Settings of the example website, read from ``COUNCIL_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Config:
    """Where GovConnect is, where this site is, and who it is to GovConnect.

    ``client_id`` unset means "the demo client": the site takes its id and the demo admin
    token from ``demo_credentials`` (written by ``govconnect init --demo``) and registers its
    own key on that client through the admin API (see :mod:`.registration`).

    Sending citizens' forms (:mod:`.submissions`) needs the site's ``organisation_id`` (the
    demo client's is read from GovConnect), the back office's organisation to send them to
    (``recipient``; unset, the application page says applying online is not set up) and the
    service and version registered for the form with a routing rule allowing it.
    """

    govconnect_url: str = "http://127.0.0.1:8000"
    base_url: str = "http://127.0.0.1:8001"
    client_id: str | None = None
    key_file: Path = Path("var/council-website/client-key.json")
    demo_credentials: Path = Path("var/demo-credentials.json")
    scope: str = "openid email profile"
    # Vectors of Trust (RFC 8485) to ask for, One Login style, e.g. '["Cl.Cm"]'; none by default.
    acr_values: str | None = None
    organisation_id: str | None = None
    recipient: str | None = None
    service: str = "parking-permit"
    service_version: str = "1"
    # Refresh the access token before a call when it has less than this left.
    refresh_margin_seconds: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        def get(name: str, default: str) -> str:
            return environ.get(f"COUNCIL_{name}", default).strip() or default

        defaults = cls()
        return cls(
            govconnect_url=get("GOVCONNECT_URL", defaults.govconnect_url).rstrip("/"),
            base_url=get("BASE_URL", defaults.base_url).rstrip("/"),
            client_id=environ.get("COUNCIL_CLIENT_ID") or None,
            key_file=Path(get("KEY_FILE", str(defaults.key_file))),
            demo_credentials=Path(get("DEMO_CREDENTIALS", str(defaults.demo_credentials))),
            scope=get("SCOPE", defaults.scope),
            acr_values=environ.get("COUNCIL_ACR_VALUES") or None,
            organisation_id=environ.get("COUNCIL_ORGANISATION_ID") or None,
            recipient=environ.get("COUNCIL_RECIPIENT") or None,
            service=get("SERVICE", defaults.service),
            service_version=get("SERVICE_VERSION", defaults.service_version),
            refresh_margin_seconds=int(
                get("REFRESH_MARGIN_SECONDS", str(defaults.refresh_margin_seconds))
            ),
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"
