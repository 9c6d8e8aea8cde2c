"""An account service on the real test store, with a collecting notifier, a data key in a
temporary folder and throttle delays scaled down to fractions of a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.accounts.passwords import PasswordHasher
from gateway.accounts.services import AccountService
from gateway.accounts.store import AccountStore
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.gateway.accounts.support import CollectingNotifier
from tests.support.clock import MovableClock

# Settings for these tests: the gateway's defaults for everything but the throttle delays.
SMALL_THROTTLE = {
    "signin_free_failures": 3,
    "signin_ip_free_failures": 3,
    "signin_base_delay_seconds": 0.05,
    "signin_account_max_delay_seconds": 0.5,
    "signin_ip_max_delay_seconds": 0.5,
}


@pytest.fixture(scope="session")
def box(tmp_path_factory: pytest.TempPathFactory) -> SecretBox:
    path = tmp_path_factory.mktemp("data-keys") / DATA_KEY_FILE_NAME
    SecretBox.initialise(path)
    return SecretBox.load(path)


@pytest.fixture(scope="session")
def hasher(settings: Settings) -> Iterator[PasswordHasher]:
    """Argon2id at the gateway's own (OWASP minimum) parameters."""
    built = PasswordHasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    yield built
    built.close()


@pytest.fixture
def account_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=SMALL_THROTTLE)


@pytest.fixture
def notifier() -> CollectingNotifier:
    return CollectingNotifier()


@pytest.fixture
def store(runtime: Runtime) -> AccountStore:
    return AccountStore(runtime.redis)


@pytest.fixture
def accounts(
    runtime: Runtime,
    store: AccountStore,
    hasher: PasswordHasher,
    notifier: CollectingNotifier,
    box: SecretBox,
    account_settings: Settings,
) -> AccountService:
    """On the system clock: what the gateway runs."""
    return AccountService(
        store, runtime.clock, hasher, notifier, runtime.evidence, box, settings=account_settings
    )


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


def timed_service(
    runtime: Runtime,
    clock: MovableClock,
    hasher: PasswordHasher,
    notifier: CollectingNotifier,
    box: SecretBox,
    settings: Settings,
) -> AccountService:
    return AccountService(
        AccountStore(runtime.redis),
        clock,
        hasher,
        notifier,
        runtime.evidence,
        box,
        settings=settings,
    )


@pytest.fixture
def timed(
    runtime: Runtime,
    clock: MovableClock,
    hasher: PasswordHasher,
    notifier: CollectingNotifier,
    box: SecretBox,
    account_settings: Settings,
) -> AccountService:
    """On a clock the test moves: expiry and time steps without sleeping."""
    return timed_service(runtime, clock, hasher, notifier, box, account_settings)
