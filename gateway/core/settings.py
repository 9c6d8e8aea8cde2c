"""Settings read from the environment with the ``GOVCONNECT_`` prefix.

Development shortcuts are explicit settings. :meth:`Settings.check_production` refuses to
start a production gateway that still has one switched on.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.core.errors import ConfigurationError
from trust_levels.errors import InvalidVectorError
from trust_levels.models import Vector

STRIPE_API_BASE = "https://api.stripe.com"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything an operator can set. Each field maps to ``GOVCONNECT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GOVCONNECT_", frozen=True, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    issuer: str = "http://127.0.0.1:8000"
    # OIDC Discovery §3 ``service_documentation``: where council developers read how to
    # connect; left out of the discovery document when unset.
    service_documentation_url: str | None = None

    # The store. No URL: an embedded Redis server with its data in ``data_dir/redis``.
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_timeout_seconds: float = 2.0
    # Connections per process (per node on a cluster). Every request in flight holds one
    # while it talks to the store, and each background worker holds one in a blocking read;
    # a request that finds none free gets a 503 with Retry-After.
    redis_max_connections: int = Field(default=256, ge=8, le=10_000)
    # Writes that must not be lost (acknowledged submissions, payments) wait until this many
    # replicas have them (Redis WAIT), at most ``redis_wait_timeout_ms``; 0 trusts the master
    # alone (asynchronous replication: see docs/deployment.md).
    redis_wait_replicas: int = Field(default=0, ge=0, le=5)
    redis_wait_timeout_ms: int = Field(default=1_000, ge=1, le=10_000)

    data_dir: Path = Path("var")
    pki_dir: Path = Path("certs/generated")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    # Trusted reverse proxies (CIDRs) whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The TLS client certificate the trusted proxies verified, forwarded in ``Client-Cert``
    # (RFC 9440): organisation certificates authenticate back-office systems (RFC 8705).
    client_cert_header: bool = False

    max_request_bytes: int = 1_048_576
    log_level: str = "INFO"

    # Keys: a retiring signing key stays published until every token it signed has expired.
    max_token_lifetime_seconds: int = 86_400
    org_certificate_days: int = 365
    crl_validity_hours: int = 24

    # Tokens (gateway.tokens). Access and ID tokens are short-lived JWTs (RFC 9068, OIDC Core
    # §2); a refresh-token family lives at most ``refresh_token_lifetime_seconds`` from the
    # sign-in, rotating on every use (RFC 9700 §4.14.2).
    access_token_lifetime_seconds: int = Field(default=300, ge=60, le=3_600)
    id_token_lifetime_seconds: int = Field(default=300, ge=60, le=3_600)
    refresh_token_lifetime_seconds: int = Field(default=86_400, ge=300, le=2_592_000)
    # RFC 8707 resource indicators a client may ask tokens for, each mapped to the client id
    # of the resource server allowed to introspect them; JSON in the environment, e.g.
    # GOVCONNECT_RESOURCE_SERVERS='{"https://api.dept.example": "cli_…"}'.
    resource_servers: dict[str, str] = Field(default_factory=dict)

    # Levels of assurance (trust_levels, DESIGN.md §2). A credential level counts for this
    # long after it was reached (GPG 44: the service decides how often a factor is proven
    # again); a stronger level is asked for again sooner.
    level_freshness_low_seconds: int = Field(default=43_200, ge=60)
    level_freshness_medium_seconds: int = Field(default=14_400, ge=60)
    level_freshness_high_seconds: int = Field(default=3_600, ge=60)
    # The least vector of trust each service (a scope) demands, whoever the client, e.g.
    # GOVCONNECT_SERVICE_LEVELS='{"council-tax": "Cl.Cm", "blue-badge": "Cl.Cm.P2"}'.
    service_levels: dict[str, str] = Field(default_factory=dict)
    # Agents acting for clients (trust_levels.agents): each service a client can give an agent
    # organisation authority in, with the level the client must be signed in at to give it;
    # how long an invitation waits for an answer; how many wrong known-fact answers it takes;
    # how many actors an exchanged token may chain (RFC 8693 §4.1 nested ``act``).
    agent_services: dict[str, str] = Field(default_factory=lambda: {"self-assessment": "Cl.Cm"})
    agent_invitation_days: int = Field(default=21, ge=1, le=90)
    agent_known_fact_attempts: int = Field(default=5, ge=1, le=20)
    max_delegation_depth: int = Field(default=1, ge=1, le=5)

    # Passwords: argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = Field(default=19_456, ge=19_456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

    # Browser sessions.
    session_idle_seconds: int = Field(default=3_600, ge=60)
    session_absolute_seconds: int = Field(default=43_200, ge=300)

    # Sign-in throttling: after the free attempts the wait doubles from
    # ``signin_base_delay_seconds`` up to the caps (per account, per client address). A client
    # address gets more free attempts: an office or a mobile network puts many people, signing
    # in at the same moment, behind one address.
    signin_free_failures: int = Field(default=3, ge=1)
    signin_ip_free_failures: int = Field(default=20, ge=1)
    signin_base_delay_seconds: float = Field(default=1.0, gt=0)
    signin_account_max_delay_seconds: float = Field(default=60.0, gt=0)
    signin_ip_max_delay_seconds: float = Field(default=300.0, gt=0)

    # One-time codes sent by email or text message.
    code_ttl_seconds: int = Field(default=600, ge=60, le=600)
    code_max_attempts: int = Field(default=5, ge=1)
    code_send_limit: int = Field(default=5, ge=1)
    code_send_window_seconds: int = Field(default=900, ge=60)

    # GOV.UK Notify. Without an API key, messages go to the local outbox (development only).
    notify_api_key: SecretStr | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_templates: dict[str, str] = Field(default_factory=dict)

    # Submission pushes (gateway/delivery/worker.py): the longest back-off between attempts,
    # and how long a stopped worker's push waits before another worker takes it over.
    delivery_retry_max_seconds: float = Field(default=600.0, gt=0)
    delivery_claim_idle_seconds: float = Field(default=600.0, gt=0)
    # The evidence log is signed (a checkpoint) every this many entries; 0: on demand only.
    evidence_checkpoint_every: int = Field(default=1000, ge=0)

    # Payments: requests a second per API key before 429 P0900 (payments/keys.py).
    payments_rate_limit_per_second: int = Field(default=2_000, ge=1)
    # Payments: the card provider of live API keys (docs/payments.md, "Card providers"); test
    # keys always use the sandbox. Unset: the sandbox in development, none in production.
    # "stripe" needs the secret key; the API base is Stripe's unless pointed at a stand-in.
    stripe_secret_key: SecretStr | None = None
    stripe_api_base: str = STRIPE_API_BASE
    payments_live_provider: Literal["sandbox", "stripe"] | None = None

    # Secure messaging (messaging/, docs/messaging.md): attachments (checked by content) up
    # to this size and count; new-message notifications batched per person for this long and
    # sent again if still unread after the reminder time; the level staff must be signed in
    # at to open a team's messages; how often each process sweeps notifications and retention.
    messaging_attachment_max_bytes: int = Field(default=700_000, ge=1_000, le=50_000_000)
    messaging_attachments_per_message: int = Field(default=5, ge=0, le=20)
    messaging_notify_batch_seconds: int = Field(default=300, ge=0)
    messaging_notify_reminder_seconds: int = Field(default=259_200, ge=60)
    messaging_staff_level: str = "Cl.Cm"
    messaging_sweep_seconds: float = Field(default=5.0, gt=0)
    # Live updates of open inbox pages (server-sent events, messaging/live.py): how long one
    # stream lasts before the browser reconnects, how often it sends a heartbeat (and checks
    # the session is still live), and how many streams one session may hold open at once.
    messaging_live_seconds: float = Field(default=300.0, gt=0, le=3600)
    messaging_live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=60)
    messaging_live_streams_per_session: int = Field(default=4, ge=1, le=50)

    # Tell Us Once (gateway/moves/, docs/tell-us-once.md): the level a person reports a move
    # at; the OS Places API key (unset: the sample gazetteer shipped for development), its
    # URL, and the map of OS local custodian codes to council GSS codes.
    moves_level: str = "Cl.Cm"
    moves_os_places_key: SecretStr | None = None
    moves_os_places_url: str = "https://api.os.uk/search/places/v1"
    moves_custodian_codes: dict[str, str] = Field(default_factory=dict)

    # Development shortcuts: each must be off in production.
    allow_client_secrets: bool | None = None
    demo: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted proxy {network!r} is not an IP network") from exc
        return value

    @field_validator("client_cert_header")
    @classmethod
    def _cert_header_needs_proxies(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("trusted_proxies"):
            raise ValueError(
                "client_cert_header needs GOVCONNECT_TRUSTED_PROXIES: the Client-Cert header "
                "is believed only from the load balancers listed there"
            )
        return value

    @field_validator("service_levels", "agent_services")
    @classmethod
    def _valid_service_levels(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for service, level in value.items():
            try:
                Vector.parse(level)
            except InvalidVectorError as exc:
                raise ValueError(f"{info.field_name}[{service!r}]: {exc.detail}") from None
        return value

    @field_validator("issuer")
    @classmethod
    def _valid_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("issuer must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (OIDC Discovery §3)")
        return value.rstrip("/")

    @field_validator("stripe_api_base")
    @classmethod
    def _valid_stripe_api_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise ValueError("stripe_api_base must be an absolute http(s) URL without a query")
        return value.rstrip("/")

    @field_validator("payments_live_provider")
    @classmethod
    def _live_provider_configured(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "stripe" and info.data.get("stripe_secret_key") is None:
            raise ValueError("payments_live_provider 'stripe' needs GOVCONNECT_STRIPE_SECRET_KEY")
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def client_secrets_allowed(self) -> bool:
        """Shared secrets for new clients: on by default in development only."""
        if self.allow_client_secrets is None:
            return not self.is_production
        return self.allow_client_secrets

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @cached_property
    def trusted_proxy_networks(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)

    def development_shortcuts(self) -> list[str]:
        """The development shortcuts that are switched on, in words an operator can act on."""
        found: list[str] = []
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" and not is_loopback_host(parts.hostname):
            found.append(
                f"GOVCONNECT_ISSUER={self.issuer} is plain http on a non-loopback host; "
                "serve over https"
            )
        if self.allow_client_secrets:
            found.append(
                "GOVCONNECT_ALLOW_CLIENT_SECRETS is on; production clients authenticate "
                "with private_key_jwt"
            )
        if self.demo:
            found.append("GOVCONNECT_DEMO is on; demo data must not reach production")
        if self.payments_live_provider == "sandbox":
            found.append(
                "GOVCONNECT_PAYMENTS_LIVE_PROVIDER=sandbox takes live payments with test cards; "
                "use stripe"
            )
        if urlsplit(self.stripe_api_base).scheme != "https":
            found.append(
                f"GOVCONNECT_STRIPE_API_BASE={self.stripe_api_base} is plain http; card details "
                "would cross the network unencrypted"
            )
        if self.payments_live_provider == "stripe" and not (
            self.stripe_secret_key is None
            or self.stripe_secret_key.get_secret_value().startswith(("sk_live_", "rk_live_"))
        ):
            found.append(
                "GOVCONNECT_STRIPE_SECRET_KEY is not a live-mode key (sk_live_…), so live "
                "payments would take no money"
            )
        if self.notify_api_key is None:
            found.append(
                "GOVCONNECT_NOTIFY_API_KEY is not set, so email and text messages would go to "
                "the local development outbox; set a GOV.UK Notify API key"
            )
        return found

    def check_production(self) -> None:
        """Refuse to run in production with any development shortcut switched on."""
        if not self.is_production:
            return
        shortcuts = self.development_shortcuts()
        if shortcuts:
            raise ConfigurationError("refusing to start in production: " + "; ".join(shortcuts))
