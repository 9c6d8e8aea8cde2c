"""Fixtures of the scale-out tests: two gateway processes on the suite's store, and a private
local Redis Cluster for the tests that break one (the failover) or probe the slot rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.settings import Settings
from tests.support.cluster import ClusterUnavailableError, LocalCluster, local_cluster
from tests.support.servers import GatewayProcess, free_port, gateway_env


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[LocalCluster]:
    """A cluster of this module's own: three masters, three replicas. Never skipped: without
    redis-server the tests fail with the command that installs it."""
    try:
        with local_cluster() as cluster:
            yield cluster
    except ClusterUnavailableError as exc:
        pytest.fail(f"{exc}; `make redis-server` installs it", pytrace=False)


@pytest.fixture(scope="module")
def two_gateways(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two ``govconnect serve`` processes on different ports, each with a data folder of its
    own, sharing only the suite's store and keys (the cluster in ``make test-cluster``), as
    two machines behind a load balancer do. Both believe X-Forwarded-For from loopback (the
    balancer), and the sign-in throttle waits long enough that no wait ends mid-test."""
    store = {
        "GOVCONNECT_REDIS_URL": str(settings.redis_url),
        "GOVCONNECT_REDIS_CLUSTER": "1" if settings.redis_cluster else "0",
        "GOVCONNECT_PKI_DIR": str(settings.pki_dir),
        "GOVCONNECT_ISSUER": settings.issuer,
        "GOVCONNECT_TRUSTED_PROXIES": "127.0.0.1/32",
        "GOVCONNECT_SIGNIN_BASE_DELAY_SECONDS": "30",
    }
    processes: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            workdir: Path = tmp_path_factory.mktemp(f"gateway-{name}")
            env = gateway_env(workdir, store)
            process = GatewayProcess(env, workdir, free_port())
            processes.append(process)
            process.start()
        yield processes[0], processes[1]
    finally:
        for process in processes:
            process.stop()
