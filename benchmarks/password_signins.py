"""Password sign-ins per second per worker, with the production argon2id parameters.

Starts ``govconnect serve`` (one worker, embedded Redis with AOF ``always``) in a temporary
folder, creates accounts through the service layer, then drives full sign-ins over HTTP from
this separate process: GET the sign-in page for its CSRF token, POST email and password, and
count the 303 to the account page. Prints throughput, latency percentiles and the gateway's
CPU seconds per sign-in. Run: ``.venv/bin/python benchmarks/password_signins.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.admin.models import Actor  # noqa: E402
from gateway.core.settings import Settings  # noqa: E402
from gateway.runtime import open_runtime  # noqa: E402
from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "benchmark passphrase 2026"  # noqa: S105 - a throwaway account in a temp store


async def create_accounts(workdir: Path, count: int) -> list[str]:
    settings = Settings(data_dir=workdir / "var", pki_dir=workdir / "pki")
    emails = [f"bench-{i}@example.org" for i in range(count)]
    async with open_runtime(settings) as runtime:
        for email in emails:
            await runtime.accounts.create(
                email, PASSWORD, verified=True, totp_secret=None, actor=Actor("cli", "bench")
            )
    return emails


async def one_sign_in(client: httpx.AsyncClient, email: str) -> float:
    started = time.perf_counter()
    client.cookies.clear()
    page = await client.get("/sign-in")
    token = CSRF.search(page.text)
    assert token is not None
    response = await client.post(
        "/sign-in", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in answered {response.status_code}")
    return time.perf_counter() - started


async def drive(base_url: str, emails: list[str], seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            n = index
            while time.perf_counter() < deadline:
                latencies.append(await one_sign_in(client, emails[n % len(emails)]))
                n += concurrency

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = gateway_env(workdir)
        run_cli(env, workdir, "init")
        gateway = GatewayProcess(env, workdir, free_port())
        gateway.start()
        try:
            emails = asyncio.run(create_accounts(workdir, 64))
            asyncio.run(drive(gateway.base_url, emails, args.warmup, args.concurrency))
            assert gateway.process is not None
            server = psutil.Process(gateway.process.pid)
            cpu_before = sum(server.cpu_times()[:2])
            started = time.perf_counter()
            latencies = asyncio.run(drive(gateway.base_url, emails, args.seconds, args.concurrency))
            elapsed = time.perf_counter() - started
            cpu = sum(server.cpu_times()[:2]) - cpu_before
        finally:
            gateway.stop()
    latencies.sort()
    count = len(latencies)
    print("password sign-ins, 1 worker, argon2id m=19 MiB t=2 p=1, embedded Redis (AOF always)")
    print(f"  sign-ins:        {count} in {elapsed:.1f} s at concurrency {args.concurrency}")
    print(f"  throughput:      {count / elapsed:.1f} sign-ins/s per worker")
    print(
        f"  latency p50/p95/p99: {statistics.median(latencies) * 1000:.0f} / "
        f"{latencies[int(count * 0.95)] * 1000:.0f} / {latencies[int(count * 0.99)] * 1000:.0f} ms"
    )
    print(f"  gateway CPU:     {cpu / count * 1000:.1f} ms per sign-in")


if __name__ == "__main__":
    main()
