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
from gateway.authorize.affiliations import BusinessAffiliations
from gateway.authorize.levels import LevelService, freshness_of
from gateway.authorize.services import AuthorizationServices, build_authorization
from gateway.clients.services import ClientService
from gateway.clients.store import ClientStore
from gateway.core.clock import Clock, SystemClock
from gateway.core.redis import (
    EmbeddedRedis,
    RedisClient,
    StoreKind,
    StoreTarget,
    open_client,
    resolve_target,
)
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.delivery.services import Delivery, build_delivery
from gateway.evidence.services import EvidenceLog
from gateway.evidence.store import EvidenceStore
from gateway.logout.services import BackchannelNotifier, LogoutService
from gateway.logout.store import LogoutQueueStore
from gateway.moves.services import MoveService, build_moves
from gateway.notify.outbox import LocalOutbox
from gateway.notify.queue import consumer_name
from gateway.notify.services import Notifications, Notifier, build_notifications
from gateway.notify.worker import NotificationWorker
from gateway.oidc.store import CodeStore
from gateway.oidc.subjects import PAIRWISE_KEY_FILE_NAME, PairwiseSubjects
from gateway.organisations.client_cert import ClientCertificates
from gateway.organisations.services import OrganisationService
from gateway.organisations.store import OrganisationStore
from gateway.passkeys.services import PasskeyService, build_passkeys
from gateway.sessions.services import SessionService
from gateway.sessions.store import SessionStore
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from gateway.system.services import SystemService
from gateway.system.store import SystemStore
from gateway.tokens.client_auth import ClientAuthenticator, ClientKeys
from gateway.tokens.models import TOKEN_PATH
from gateway.tokens.services import TokenService
from gateway.tokens.store import TokenStore
from messaging.services import Messaging, build_messaging
from payments.services import Payments, build_payments
from trust_levels.agents.services import AgentService, build_agents
from trust_levels.businesses.services import BusinessService
from trust_levels.businesses.store import BusinessStore
from trust_levels.proofing.services import Proofing, build_proofing


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
    notifications: Notifications
    accounts: AccountService
    sessions: SessionService
    hasher: PasswordHasher
    subjects: PairwiseSubjects
    codes: CodeStore
    client_keys: ClientKeys
    client_auth: ClientAuthenticator
    tokens: TokenService
    logout: LogoutService
    authorization: AuthorizationServices
    levels: LevelService
    businesses: BusinessService
    agents: AgentService
    proofing: Proofing
    passkeys: PasskeyService
    delivery: Delivery
    payments: Payments
    messaging: Messaging
    moves: MoveService

    def notification_worker(self) -> NotificationWorker | None:
        """A worker delivering the queued notifications under a consumer name of its own;
        ``None`` where callers deliver directly (the local outbox)."""
        queue, delivery = self.notifications.queue, self.notifications.delivery
        if queue is None or delivery is None:
            return None
        return NotificationWorker(
            queue,
            delivery,
            self.clock,
            consumer=consumer_name(),
            # XREADGROUP's BLOCK must end before the connection's socket timeout.
            block_seconds=min(1.0, self.settings.redis_timeout_seconds / 2),
        )

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
    keys = KeyRing(settings.pki_dir / KEY_FILE_NAME, clock, settings.max_token_lifetime_seconds)
    evidence = EvidenceLog(
        EvidenceStore(redis),
        clock,
        keys=keys,
        checkpoint_every=settings.evidence_checkpoint_every,
        issuer=settings.issuer,
    )
    authority = CertificateAuthority.load(settings.pki_dir)
    organisations = OrganisationService(
        OrganisationStore(redis),
        clock,
        evidence,
        authority,
        certificate_days=settings.org_certificate_days,
        crl_validity_hours=settings.crl_validity_hours,
    )
    notifications = build_notifications(settings, redis, clock)
    notifier = notifications.notifier
    hasher = PasswordHasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    box = SecretBox.load(settings.pki_dir / DATA_KEY_FILE_NAME)
    clients = ClientService(
        ClientStore(redis),
        clock,
        evidence,
        organisations,
        secrets_allowed=settings.client_secrets_allowed,
    )
    subjects = PairwiseSubjects(settings.pki_dir / PAIRWISE_KEY_FILE_NAME)
    accounts = AccountService(
        AccountStore(redis), clock, hasher, notifier, evidence, box, settings=settings
    )
    codes = CodeStore(redis)
    client_keys = ClientKeys()
    businesses = BusinessService(
        BusinessStore(redis), clock, evidence, accounts, notifier, issuer=settings.issuer
    )
    agents = build_agents(
        settings,
        redis,
        clock,
        evidence,
        businesses=businesses,
        notifier=notifier,
        subjects=subjects,
    )
    tokens = TokenService(
        TokenStore(redis),
        clock,
        keys=keys,
        codes=codes,
        subjects=subjects,
        accounts=accounts,
        settings=settings,
        delegations=agents,
    )
    sessions = SessionService(
        SessionStore(redis),
        clock,
        idle_seconds=settings.session_idle_seconds,
        absolute_seconds=settings.session_absolute_seconds,
        on_end=(
            BackchannelNotifier(LogoutQueueStore(redis, issuer=settings.issuer), clock),
            tokens,
        ),
    )
    proofing = build_proofing(
        settings, redis, clock, evidence, accounts=accounts, organisations=organisations
    )
    levels = LevelService(
        freshness_of(
            settings.level_freshness_low_seconds,
            settings.level_freshness_medium_seconds,
            settings.level_freshness_high_seconds,
        ),
        proofing.evidence,
        clock,
        service_levels=settings.service_levels,
    )
    client_auth = ClientAuthenticator(
        clients,
        client_keys,
        redis,
        clock,
        issuer=settings.issuer,
        token_endpoint=settings.issuer + TOKEN_PATH,
        certificates=ClientCertificates(authority, OrganisationStore(redis), clock),
    )
    messaging = build_messaging(
        settings,
        redis,
        clock,
        evidence,
        accounts=accounts,
        businesses=businesses,
        agents=agents,
        organisations=organisations,
        clients=clients,
        subjects=subjects,
        notifier=notifier,
    )
    delivery = build_delivery(
        settings,
        redis,
        clock,
        evidence,
        keys=keys,
        organisations=organisations,
        clients=clients,
        subjects=subjects,
        client_keys=client_keys,
    )
    return Runtime(
        settings=settings,
        target=target,
        redis=redis,
        clock=clock,
        keys=keys,
        authority=authority,
        evidence=evidence,
        admin=AdminService(AdminStore(redis), clock, evidence),
        organisations=organisations,
        clients=clients,
        system=SystemService(SystemStore(redis)),
        notifier=notifier,
        outbox=notifications.outbox,
        notifications=notifications,
        accounts=accounts,
        hasher=hasher,
        sessions=sessions,
        subjects=subjects,
        codes=codes,
        client_keys=client_keys,
        client_auth=client_auth,
        tokens=tokens,
        logout=LogoutService(clients, keys, subjects, issuer=settings.issuer),
        authorization=build_authorization(
            settings,
            redis,
            clock,
            evidence,
            clients=clients,
            keys=keys,
            codes=codes,
            subjects=subjects,
            sessions=sessions,
            client_keys=client_keys,
            client_auth=client_auth,
            levels=levels,
            affiliations=BusinessAffiliations(businesses),
            observers=(messaging,),
        ),
        levels=levels,
        proofing=proofing,
        businesses=businesses,
        agents=agents,
        passkeys=build_passkeys(settings, redis, clock, evidence, accounts),
        delivery=delivery,
        payments=build_payments(
            settings, redis, clock, evidence, organisations, receipts=messaging
        ),
        messaging=messaging,
        moves=build_moves(
            settings,
            redis,
            clock,
            evidence,
            delivery=delivery,
            organisations=organisations,
            clients=clients,
            accounts=accounts,
            messaging=messaging,
            subjects=subjects,
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
    redis = await open_client(target, settings)
    runtime: Runtime | None = None
    try:
        # Refuse a production start before any adapter is built from the settings.
        await SystemService(SystemStore(redis)).check_startup(settings)
        runtime = build(settings, redis, target, clock or SystemClock())
        await runtime.clients.check_startup()
        yield runtime
    finally:
        if runtime is not None:
            runtime.hasher.close()
            await runtime.clients.aclose()
        await redis.aclose()
        if embedded is not None:
            embedded.stop()
