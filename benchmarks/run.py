"""The benchmark suite (``make bench``): GovConnect per worker, and oidc-provider 9 beside it.

Workloads, each against ``govconnect serve`` (one worker, embedded Redis with AOF
``always``) in a temporary folder, loaded from separate processes on loopback:

* token-cc-secret: client_credentials with client_secret_basic, wrk at 32 connections;
* token-cc-jwt: client_credentials with private_key_jwt, one pre-signed ES256 assertion
  per request (unique jti, exp under five minutes ahead), walked through by wrk;
* peer: oidc-provider 9 (npm, into a temporary folder) issuing ES256 JWT access tokens for
  client_credentials with client_secret_basic, under the same wrk script and connections;
* auth-code: full authorization-code sign-ins (password, argon2id with the production
  parameters, then the code exchange) from an async Python client.

For each: throughput, p50/p95/p99 latency, errors, the server's CPU time per 1,000
operations (Redis's too) and resident memory, and the generator's own CPU per 1,000
operations. Prints a table, writes benchmarks/results/latest.json (no secrets) and refreshes
the figures in docs/performance.md. Run: ``make bench`` or ``.venv/bin/python
benchmarks/run.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import authcode  # noqa: E402
from gateway.core.settings import Settings  # noqa: E402
from gateway.runtime import open_runtime  # noqa: E402
from gateway.tokens.client_auth import ASSERTION_TYPE  # noqa: E402
from tests.gateway.clients.support import new_organisation  # noqa: E402
from tests.gateway.tokens.support import Kit, assertion, key_client, secret_client  # noqa: E402
from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli  # noqa: E402

BENCH = ROOT / "benchmarks"
LUA = BENCH / "wrk" / "token.lua"
PEER_SERVER = BENCH / "peer" / "oidc_provider_server.mjs"
RESULTS = BENCH / "results" / "latest.json"
DOC = ROOT / "docs" / "performance.md"
DOC_START, DOC_END = "<!-- bench:start -->", "<!-- bench:end -->"
FORM = {"grant_type": "client_credentials", "scope": "submissions"}


@dataclass
class Options:
    seconds: float
    warmup: float
    connections: int
    threads: int
    signin_seconds: float
    signin_concurrency: int


def tool(name: str) -> str:
    """The full path of a program on PATH."""
    path = shutil.which(name)
    if path is None:
        sys.exit(
            f"{name} is not on PATH (`make bench` installs wrk; node and npm come from Node.js)"
        )
    return path


# --- measuring -------------------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def redis_of(workdir: Path) -> psutil.Process | None:
    """The embedded redis-server whose data folder is under ``workdir``."""
    for process in psutil.process_iter(["name", "cwd", "cmdline"]):
        info = process.info
        text = " ".join([info.get("cwd") or "", *(info.get("cmdline") or [])])
        if "redis-server" in (info.get("name") or "") and str(workdir) in text:
            return process
    return None


def run_wrk(base_url: str, bodies: Path, authorization: str, seconds: float, o: Options) -> dict:
    """One wrk run; its JSON summary plus the CPU seconds wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [
            tool("wrk"),
            f"-t{o.threads}",
            f"-c{o.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            base_url,
            "--",
            str(bodies),
            str(o.threads),
            authorization,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRK_JSON "))
    summary: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    summary["generator_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    return summary


def measure_wrk(
    name: str,
    base_url: str,
    server: psutil.Process,
    redis: psutil.Process | None,
    bodies: tuple[Path, Path],
    authorization: str,
    o: Options,
) -> dict[str, Any]:
    """Warm up with ``bodies[0]``, then measure with ``bodies[1]``."""
    run_wrk(base_url, bodies[0], authorization, o.warmup, o)
    cpu, redis_cpu = cpu_seconds(server), cpu_seconds(redis) if redis else 0.0
    summary = run_wrk(base_url, bodies[1], authorization, o.seconds, o)
    cpu = cpu_seconds(server) - cpu
    redis_cpu = (cpu_seconds(redis) - redis_cpu) if redis else 0.0
    errors = summary["errors"]
    ok = summary["requests"] - errors["status"]
    seconds = summary["duration_us"] / 1e6
    per_k = 1000 / max(ok, 1)
    lat = summary["latency_us"]
    return {
        "workload": name,
        "generator": f"wrk -t{o.threads} -c{o.connections}",
        "connections": o.connections,
        "seconds": round(seconds, 2),
        "ops": ok,
        "ops_per_s": round(ok / seconds, 1),
        "p50_ms": round(lat["p50"] / 1000, 1),
        "p95_ms": round(lat["p95"] / 1000, 1),
        "p99_ms": round(lat["p99"] / 1000, 1),
        "max_ms": round(lat["max"] / 1000, 1),
        "errors": sum(errors.values()),
        "server_cpu_s_per_1000": round(cpu * per_k, 3),
        "redis_cpu_s_per_1000": round(redis_cpu * per_k, 3),
        "server_rss_mb": round(server.memory_info().rss / 2**20, 1),
        "generator_cpu_s_per_1000": round(summary["generator_cpu_s"] * per_k, 3),
    }


# --- GovConnect ------------------------------------------------------------------------


@contextmanager
def govconnect(workdir: Path) -> Iterator[GatewayProcess]:
    env = gateway_env(workdir)
    run_cli(env, workdir, "init")
    gateway = GatewayProcess(env, workdir, free_port())
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


async def register_token_clients(workdir: Path) -> tuple[Kit, Kit]:
    settings = Settings(data_dir=workdir / "var", pki_dir=workdir / "pki")
    grants = {"grant_types": ["client_credentials"], "redirect_uris": [], "scope": "submissions"}
    async with open_runtime(settings) as runtime:
        organisation = await new_organisation(runtime)
        secret = await secret_client(runtime, organisation, **grants)
        key = await key_client(runtime, organisation, **grants)
    return secret, key


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def write_assertions(path: Path, kit: Kit, count: int) -> Path:
    """``count`` request bodies, each with its own assertion (unique jti, exp in 290 s)."""
    audience = f"{Settings().issuer}/token"
    expires = int(time.time()) + 290
    with path.open("w") as out:
        for _ in range(count):
            signed = assertion(kit, audience, exp=expires)
            body = {**FORM, "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
            out.write(urlencode(body) + "\n")
    return path


def run_govconnect(folder: Path, o: Options) -> list[dict[str, Any]]:
    results = []
    workdir = folder / "govconnect"
    workdir.mkdir()
    with govconnect(workdir) as gateway:
        assert gateway.process is not None
        server = psutil.Process(gateway.process.pid)
        redis = redis_of(workdir)
        secret_kit, key_kit = asyncio.run(register_token_clients(workdir))
        assert secret_kit.secret is not None
        form = folder / "form.txt"
        form.write_text(urlencode(FORM) + "\n")
        authorization = basic(secret_kit.client_id, secret_kit.secret)
        secret_result = measure_wrk(
            "token-cc-secret", gateway.base_url, server, redis, (form, form), authorization, o
        )
        results.append(secret_result)
        print_row(secret_result)

        # Enough single-use assertions for the secret rate, with headroom.
        rate = max(secret_result["ops_per_s"], 200.0) * 1.5
        started = time.perf_counter()
        bodies = (
            write_assertions(folder / "warmup.txt", key_kit, int(rate * o.warmup) + 100),
            write_assertions(folder / "measured.txt", key_kit, int(rate * o.seconds) + 100),
        )
        print(f"  ({time.perf_counter() - started:.1f} s to sign the assertions)")
        jwt_result = measure_wrk("token-cc-jwt", gateway.base_url, server, redis, bodies, "", o)
        results.append(jwt_result)
        print_row(jwt_result)

        results.append(run_sign_ins(workdir, gateway.base_url, server, redis, o))
        print_row(results[-1])
    return results


def run_sign_ins(
    workdir: Path, base_url: str, server: psutil.Process, redis: psutil.Process | None, o: Options
) -> dict[str, Any]:
    setup = asyncio.run(authcode.prepare(workdir, accounts=64))
    asyncio.run(authcode.drive(base_url, setup, min(o.warmup, 3.0), o.signin_concurrency))
    cpu, redis_cpu = cpu_seconds(server), cpu_seconds(redis) if redis else 0.0
    own = time.process_time()
    started = time.perf_counter()
    latencies = asyncio.run(authcode.drive(base_url, setup, o.signin_seconds, o.signin_concurrency))
    elapsed = time.perf_counter() - started
    own = time.process_time() - own
    cpu = cpu_seconds(server) - cpu
    redis_cpu = (cpu_seconds(redis) - redis_cpu) if redis else 0.0
    latencies.sort()
    count = len(latencies)
    per_k = 1000 / max(count, 1)
    return {
        "workload": "auth-code-sign-in",
        "generator": f"httpx async, {o.signin_concurrency} browsers",
        "connections": o.signin_concurrency,
        "seconds": round(elapsed, 2),
        "ops": count,
        "ops_per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(count * 0.95)] * 1000, 1),
        "p99_ms": round(latencies[int(count * 0.99)] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "errors": 0,
        "server_cpu_s_per_1000": round(cpu * per_k, 3),
        "redis_cpu_s_per_1000": round(redis_cpu * per_k, 3),
        "server_rss_mb": round(server.memory_info().rss / 2**20, 1),
        "generator_cpu_s_per_1000": round(own * per_k, 3),
    }


# --- the peer: oidc-provider 9 ---------------------------------------------------------


def run_peer(folder: Path, o: Options) -> tuple[dict[str, Any], str]:
    """oidc-provider@9 from npm in ``folder/peer``, under the token-cc-secret wrk script."""
    peer = folder / "peer"
    peer.mkdir()
    (peer / "package.json").write_text('{"private": true, "type": "module"}\n')
    npm = [tool("npm"), "install", "--no-audit", "--no-fund", "--silent", "oidc-provider@9"]
    subprocess.run(npm, cwd=peer, check=True)  # noqa: S603 - fixed argument list
    version = json.loads((peer / "node_modules" / "oidc-provider" / "package.json").read_text())[
        "version"
    ]
    shutil.copy(PEER_SERVER, peer / "server.mjs")
    port = free_port()
    client_id, secret = "bench-peer", base64.urlsafe_b64encode(os.urandom(24)).decode()
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port)}
    env.update({"CLIENT_ID": client_id, "CLIENT_SECRET": secret})
    log = (peer / "server.log").open("wb")
    node = subprocess.Popen(  # noqa: S603 - fixed argument list
        [tool("node"), "server.mjs"], cwd=peer, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"{base_url}/token", data=FORM, auth=(client_id, secret))
                if answer.status_code == 200:
                    break
                raise RuntimeError(f"oidc-provider answered {answer.status_code}: {answer.text}")
            except httpx.TransportError:
                if time.monotonic() > deadline or node.poll() is not None:
                    raise
                time.sleep(0.2)
        form = folder / "peer-form.txt"
        form.write_text(urlencode(FORM) + "\n")
        result = measure_wrk(
            f"peer oidc-provider {version}",
            base_url,
            psutil.Process(node.pid),
            None,
            (form, form),
            basic(client_id, secret),
            o,
        )
    finally:
        node.terminate()
        node.wait(timeout=10)
        log.close()
    return result, version


# --- reporting -------------------------------------------------------------------------

HEADER = (
    f"{'workload':<26}{'ops/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    f"{'srv CPU s/1k':>14}{'redis s/1k':>12}{'RSS MB':>8}{'gen CPU s/1k':>14}"
)


def print_row(r: dict[str, Any]) -> None:
    print(
        f"{r['workload']:<26}{r['ops_per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}"
        f"{r['p99_ms']:>9.1f}{r['errors']:>8}{r['server_cpu_s_per_1000']:>14.3f}"
        f"{r['redis_cpu_s_per_1000']:>12.3f}{r['server_rss_mb']:>8.1f}"
        f"{r['generator_cpu_s_per_1000']:>14.3f}",
        flush=True,
    )


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    wrk = subprocess.run([tool("wrk"), "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    node = subprocess.run([tool("node"), "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "wrk": " ".join((wrk.stdout or wrk.stderr or "wrk ?").split()[:2]),
    }


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"Run of {report['date']} (commit `{report['commit']}`) on {m['nproc']} cores "
        f"({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}, Python "
        f"{m['python']}, Node.js {m['node']}, {m['wrk']}. GovConnect: one worker, embedded "
        "Redis with AOF `always`. Generator and servers share the machine; its one-minute "
        f"load average was {report['load_average'][0]} before the run and "
        f"{report['load_average'][1]} after (the run itself keeps about two processes busy).",
        "",
        "| workload | ops/s | p50 ms | p95 ms | p99 ms | errors | server CPU s per 1,000 "
        "| Redis CPU s per 1,000 | server RSS MB | generator CPU s per 1,000 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["workloads"]:
        lines.append(
            f"| {r['workload']} | {r['ops_per_s']} | {r['p50_ms']} | {r['p95_ms']} "
            f"| {r['p99_ms']} | {r['errors']} | {r['server_cpu_s_per_1000']} "
            f"| {r['redis_cpu_s_per_1000']} | {r['server_rss_mb']} "
            f"| {r['generator_cpu_s_per_1000']} |"
        )
    if report.get("peer_ratio") is not None:
        lines += [
            "",
            f"token-cc-secret ÷ oidc-provider {report['peer_version']}: "
            f"**{report['peer_ratio']}** (target ≥ 1.0); token-cc-secret p99 "
            f"{report['workloads'][0]['p99_ms']} ms (target < 50 ms).",
        ]
    return "\n".join(lines)


def update_doc(text: str) -> None:
    if not DOC.exists():
        return
    doc = DOC.read_text()
    start, end = doc.find(DOC_START), doc.find(DOC_END)
    if start < 0 or end < start:
        return
    DOC.write_text(doc[: start + len(DOC_START)] + "\n" + text + "\n" + doc[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured wrk run")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--signin-seconds", type=float, default=15.0)
    parser.add_argument("--signin-concurrency", type=int, default=8)
    parser.add_argument("--no-peer", action="store_true", help="skip oidc-provider")
    parser.add_argument("--no-write", action="store_true", help="leave results and docs alone")
    args = parser.parse_args()
    o = Options(
        args.seconds,
        args.warmup,
        args.connections,
        args.threads,
        args.signin_seconds,
        args.signin_concurrency,
    )
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH: run `make bench`, which installs it")
    print(HEADER)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="govconnect-bench-") as name:
        folder = Path(name)
        workloads = run_govconnect(folder, o)
        peer_version = None
        if not args.no_peer:
            peer, peer_version = run_peer(folder, o)
            workloads.append(peer)
            print_row(peer)
    ratio = None
    if peer_version is not None:
        ratio = round(workloads[0]["ops_per_s"] / workloads[-1]["ops_per_s"], 2)
        print(f"\ntoken-cc-secret ÷ oidc-provider {peer_version}: {ratio}")
    commit = subprocess.run(  # noqa: S603 - fixed argument list
        [tool("git"), "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "machine": machine(),
        # Other programs on the machine take cores from the servers and the generator; the
        # one-minute load average before and after says how far the figures can be trusted.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "options": vars(args),
        "workloads": workloads,
        "peer_version": peer_version,
        "peer_ratio": ratio,
    }
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        update_doc(markdown(report))
        print(f"wrote {RESULTS.relative_to(ROOT)} and refreshed {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
