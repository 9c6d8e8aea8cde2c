"""A master of the cluster dies under load; its replica takes over and the same gateway process
serves again within seconds, with no restart: during the gap it answers 503 (retry), never
500, and afterwards every request succeeds (redis-py refreshes the slot map on the errors)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.core.keyspace import tagged
from gateway.core.settings import Settings
from gateway.runtime import open_runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.tokens.support import Kit, auth, dpop_proof, new_ec_key, secret_client
from tests.support.cluster import LocalCluster
from tests.support.servers import threaded_gateway

# The cluster's node timeout is 2 s (tests/support/cluster.py): detection, election and the
# client's next refresh of the slot map fit well inside this.
RECOVERY_SECONDS = 15.0


@dataclass
class Load:
    """Tokens asked for back to back, each with a fresh DPoP proof (a write: its ``jti``)."""

    base_url: str
    issuer: str
    kit: Kit
    results: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        key = new_ec_key()
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self.stop.is_set():
                form, headers = auth(self.kit, self.issuer + "/token")
                headers["DPoP"] = dpop_proof(key, "POST", self.issuer + "/token")
                try:
                    status = client.post(
                        "/token", data={"grant_type": "client_credentials", **form}, headers=headers
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                self.results.append((time.monotonic(), status))

    def since(self, moment: float) -> list[int]:
        return [status for at, status in self.results if at >= moment]


async def _api_client(settings: Settings) -> Kit:
    async with open_runtime(settings) as runtime:
        return await secret_client(
            runtime,
            await new_organisation(runtime),
            grant_types=["client_credentials"],
            redirect_uris=[],
            scope="permits",
        )


def test_the_gateway_recovers_by_itself_when_a_master_fails_over(
    private_cluster: LocalCluster, settings: Settings, tmp_path: Path
) -> None:
    on_cluster = settings.model_copy(
        update={"redis_url": private_cluster.url, "redis_cluster": True, "data_dir": tmp_path}
    )
    kit = asyncio.run(_api_client(on_cluster))
    # Every token request reads the client from this slot's master.
    victim = private_cluster.master_of(tagged("clients"))

    with threaded_gateway(on_cluster) as base_url:
        load = Load(base_url, on_cluster.issuer, kit)
        worker = threading.Thread(target=load.run, daemon=True)
        worker.start()
        try:
            time.sleep(1.0)
            assert load.results and {status for _, status in load.results} == {200}
            killed_at = time.monotonic()
            victim.kill()
            private_cluster.wait_until_healthy(timeout=RECOVERY_SECONDS)
            time.sleep(3.0)  # serve on the new topology for a while
        finally:
            load.stop.set()
            worker.join(timeout=15)

    after = load.since(killed_at)
    assert set(after) <= {200, 503}, f"only success or 'retry' during a failover: {set(after)}"
    last_failure = max((at for at, status in load.results if status != 200), default=killed_at)
    print(  # the figure docs/deployment.md quotes
        f"failover: {len(after) - after.count(200)} of {len(after)} requests answered 503 "
        f"over {last_failure - killed_at:.1f} s after the master was killed"
    )
    assert last_failure - killed_at < RECOVERY_SECONDS
    assert after[-20:] == [200] * 20, "serving again on the promoted replica"
    promoted = private_cluster.master_of(tagged("clients"))
    assert promoted is not victim and victim not in private_cluster.masters()
