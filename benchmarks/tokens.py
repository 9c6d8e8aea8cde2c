"""client_credentials tokens per second per worker, with client_secret_basic and with
private_key_jwt (a fresh ES256 assertion for every request), at 32 concurrent connections.

Starts ``govconnect serve`` (one worker, embedded Redis with AOF ``always``) in a temporary
folder, registers one client of each kind through the services, then loads ``POST /token``
from this separate process. The generator's own CPU time is printed beside the gateway's, so
the numbers are the gateway's, not the load generator's. Run:
``.venv/bin/python benchmarks/tokens.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.core.settings import Settings  # noqa: E402
from gateway.runtime import open_runtime  # noqa: E402
from tests.gateway.clients.support import new_organisation  # noqa: E402
from tests.gateway.tokens.support import Kit, auth, key_client, secret_client  # noqa: E402
from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli  # noqa: E402

FORM = {"grant_type": "client_credentials", "scope": "submissions"}


async def register(workdir: Path) -> dict[str, Kit]:
    settings = Settings(data_dir=workdir / "var", pki_dir=workdir / "pki")
    async with open_runtime(settings) as runtime:
        organisation = await new_organisation(runtime)
        grants = {
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "scope": "submissions",
        }
        return {
            "client_secret_basic": await secret_client(runtime, organisation, **grants),
            "private_key_jwt": await key_client(runtime, organisation, **grants),
        }


async def drive(
    base_url: str,
    request: Callable[[], tuple[dict[str, str], dict[str, str]]],
    seconds: float,
    connections: int,
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            form, headers = request()
            started = time.perf_counter()
            response = await client.post("/token", data={**FORM, **form}, headers=headers)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        await asyncio.gather(*(connection(client) for _ in range(connections)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = gateway_env(workdir)
        run_cli(env, workdir, "init")
        gateway = GatewayProcess(env, workdir, free_port())
        gateway.start()
        try:
            kits = asyncio.run(register(workdir))
            assert gateway.process is not None
            server = psutil.Process(gateway.process.pid)
            audience = f"{Settings().issuer}/token"
            print(
                f"client_credentials, 1 worker, {args.connections} connections, "
                "ES256 JWT access tokens"
            )
            for method, kit in kits.items():

                def request(kit: Kit = kit) -> tuple[dict[str, str], dict[str, str]]:
                    return auth(kit, audience)

                asyncio.run(drive(gateway.base_url, request, args.warmup, args.connections))
                cpu_before, own_before = sum(server.cpu_times()[:2]), time.process_time()
                started = time.perf_counter()
                latencies, errors = asyncio.run(
                    drive(gateway.base_url, request, args.seconds, args.connections)
                )
                elapsed = time.perf_counter() - started
                cpu = sum(server.cpu_times()[:2]) - cpu_before
                own = time.process_time() - own_before
                latencies.sort()
                count = len(latencies)
                print(
                    f"  {method:<20} {count / elapsed:7.1f} tokens/s  "
                    f"p50 {statistics.median(latencies) * 1000:5.1f} ms  "
                    f"p99 {latencies[int(count * 0.99)] * 1000:6.1f} ms  errors {errors}  "
                    f"gateway CPU {cpu / count * 1000:.2f} ms/token  "
                    f"generator CPU {own / count * 1000:.2f} ms/token"
                )
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
