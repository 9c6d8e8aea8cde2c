"""Everything a gateway process builds once: the store connection and the services on it.

The HTTP app and the CLI both build a :class:`Runtime`, so an operator's command and an
admin API call run the same service code against the same store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from certs.authority import CertificateAuthority
from gateway.accounts.passwords import PasswordHasher
from gateway.accounts.services import AccountService
from gateway.accounts.store import AccountStore
from gateway.admin.services import AdminService
from gateway.admin.store import AdminStore
from gateway.clients.services import ClientService
from gateway.clients.store import ClientStore
from gateway.core.clock import Clock, SystemClock
from gateway.core.redis import (
    EmbeddedRedis,
    RedisClient,
    StoreKind,
    StoreTarget,
    connect,
    resolve_target,
)
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.evidence.services import EvidenceLog
from gateway.evidence.store import EvidenceStore
from gateway.notify.outbox import LocalOutbox
from gateway.notify.services import Notifier, build_notifier
from gateway.organisations.services import OrganisationService
from gateway.organisations.store import OrganisationStore
from gateway.sessions.services import SessionService
from gateway.sessions.store import SessionStore
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from gateway.system.services import SystemService
from gateway.system.store import SystemStore


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """What ``/readyz`` reports about the store."""

    kind: StoreKind
    url: str
    aof: str
    ping_ms: float


@dataclass(slots=True)
class Runtime:
    settings: Settings
    target: StoreTarget
    redis: RedisClient
    clock: Clock
    keys: KeyRing
    authority: CertificateAuthority
    evidence: EvidenceLog
    admin: AdminService
    organisations: OrganisationService
    clients: ClientService
    system: SystemService
    notifier: Notifier
    outbox: LocalOutbox | None
    accounts: AccountService
    sessions: SessionService
    hasher: PasswordHasher

    async def store_status(self) -> StoreStatus:
        started = time.perf_counter()
        await self.redis.ping()
        ping_ms = (time.perf_counter() - started) * 1000
        return StoreStatus(self.target.kind, self.target.redacted_url, await self._aof(), ping_ms)

    async def _aof(self) -> str:
        """``appendfsync`` policy, or ``off``; ``unknown`` where CONFIG is not permitted."""
        try:
            enabled = await self.redis.config_get("appendonly")
            if enabled.get("appendonly") != "yes":
                return "off"
            policy = await self.redis.config_get("appendfsync")
            return str(policy.get("appendfsync", "unknown"))
        except Exception:
            return "unknown"


def build(settings: Settings, redis: RedisClient, target: StoreTarget, clock: Clock) -> Runtime:
    evidence = EvidenceLog(EvidenceStore(redis), clock)
    authority = CertificateAuthority.load(settings.pki_dir)
    organisations = OrganisationService(
        OrganisationStore(redis),
        clock,
        evidence,
        authority,
        certificate_days=settings.org_certificate_days,
        crl_validity_hours=settings.crl_validity_hours,
    )
    notifier = build_notifier(settings, redis, clock)
    hasher = PasswordHasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    box = SecretBox.load(settings.pki_dir / DATA_KEY_FILE_NAME)
    return Runtime(
        settings=settings,
        target=target,
        redis=redis,
        clock=clock,
        keys=KeyRing(settings.pki_dir / KEY_FILE_NAME, clock, settings.max_token_lifetime_seconds),
        authority=authority,
        evidence=evidence,
        admin=AdminService(AdminStore(redis), clock, evidence),
        organisations=organisations,
        clients=ClientService(
            ClientStore(redis),
            clock,
            evidence,
            organisations,
            secrets_allowed=settings.client_secrets_allowed,
        ),
        system=SystemService(SystemStore(redis)),
        notifier=notifier,
        outbox=notifier if isinstance(notifier, LocalOutbox) else None,
        accounts=AccountService(
            AccountStore(redis), clock, hasher, notifier, evidence, box, settings=settings
        ),
        hasher=hasher,
        sessions=SessionService(
            SessionStore(redis),
            clock,
            idle_seconds=settings.session_idle_seconds,
            absolute_seconds=settings.session_absolute_seconds,
        ),
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    """Connect to the store (starting the embedded server if nobody runs it) and build.

    The embedded server is stopped on exit only if this call started it: a CLI command run
    beside ``govconnect serve`` uses the server's Redis and leaves it running.
    """
    embedded = None if settings.redis_url else EmbeddedRedis(settings.redis_dir)
    if embedded is not None:
        embedded.ensure_running()
    target = resolve_target(settings, embedded)
    redis = connect(target, settings)
    runtime: Runtime | None = None
    try:
        # Refuse a production start before any adapter is built from the settings.
        await SystemService(SystemStore(redis)).check_startup(settings)
        runtime = build(settings, redis, target, clock or SystemClock())
        yield runtime
    finally:
        if runtime is not None:
            runtime.hasher.close()
        await redis.aclose()
        if embedded is not None:
            embedded.stop()
