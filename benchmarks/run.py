"""The benchmark suite (``make bench``, ``govconnect bench``): issue 9's workloads against
``govconnect serve``, and oidc-provider 9 beside the token workload.

Each gateway runs in a temporary folder, loaded from separate processes on loopback:

* 1 worker, embedded Redis (AOF ``always``): every workload (benchmarks/workloads.py);
* 2 workers, embedded Redis; 1 and 2 workers, an external ``redis-server`` with AOF
  ``always``; 1 and 2 workers on a local Redis Cluster (three masters, three replicas, AOF
  ``always``): token-cc-secret, submit and pay-create, for the 1 → 2 worker scaling ratio and
  the single server against the cluster;
* oidc-provider 9 (npm, into a temporary folder) under the token-cc-secret wrk script;
* py-spy on the gateway during a second run of the workload furthest below its target.

Prints a table (rich, with a progress bar), writes benchmarks/results/latest.json (no
secrets) and latest.png, and refreshes the figures in docs/performance.md and the sizing in
docs/deployment.md. Options:
``.venv/bin/python benchmarks/run.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import profile, report, sizing, workloads  # noqa: E402
from benchmarks.loadgen import WrkJob  # noqa: E402
from benchmarks.oidc_peer import oidc_provider  # noqa: E402
from benchmarks.servers import Config, Gateway, Store, gateway, tool  # noqa: E402
from benchmarks.stats import ratio  # noqa: E402
from benchmarks.workloads import Options  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"
DEPLOYMENT = ROOT / "docs" / "deployment.md"
ALL = tuple(report.WORK)
SCALED = report.SCALED
MACHINE_WIDE = report.MACHINE_WIDE


class Suite:
    """The state of one run: what is set up on the current gateway, and what was measured."""

    def __init__(self, folder: Path, o: Options, console: Console, *, profile: bool) -> None:
        self.folder = folder
        self.o = o
        self.console = console
        self.want_profile = profile
        self.rows: list[dict[str, Any]] = []
        self.peer: dict[str, Any] | None = None
        self.peer_jwt: dict[str, Any] | None = None
        self.profiled: dict[str, Any] | None = None
        self._setups: dict[str, Any] = {}

    def setup(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._setups:
            self._setups[name] = make()
        return self._setups[name]

    def run(self, name: str, gw: Gateway, config: Config) -> dict[str, Any]:
        """Measure workload ``name`` on ``gw``."""
        label, o, folder = config.label, self.o, self.folder

        def clients() -> workloads.TokenClients:
            made: workloads.TokenClients = self.setup(
                "clients", lambda: workloads.token_clients(gw)
            )
            return made

        def admin() -> str:
            return str(self.setup("admin", lambda: workloads.admin_token(gw)))

        if name == "token-cc-secret":
            return workloads.token_cc_secret(gw, label, clients(), folder, o)
        if name == "token-cc-jwt":
            secret = next((r for r in self.rows if r["workload"] == "token-cc-secret"), None)
            return workloads.token_cc_jwt(gw, label, clients(), folder, o, assertion_rate(secret))
        if name == "refresh":
            return workloads.refresh(gw, label, folder, o)
        if name == "login":
            return workloads.login(gw, label, o)
        if name == "submit":
            ex = self.setup("exchange", lambda: workloads.exchange(gw, admin()))
            return workloads.submit(gw, label, ex, folder, o)
        if name == "deliver":
            return workloads.deliver(gw, label, admin(), o)
        if name == "pay-create":
            return workloads.pay_create(gw, label, folder, o)
        if name == "sessions":
            return workloads.sessions(gw, label, o)
        if name in ("inbox-open", "inbox-list"):
            box = self.setup("inbox", lambda: workloads.inbox(gw))
            measure = workloads.inbox_open if name == "inbox-open" else workloads.inbox_list
            return measure(gw, label, box, folder, o)
        raise ValueError(name)

    def on_gateway(self, config: Config, names: list[str], advance: Callable[[str], None]) -> None:
        """Every workload of ``names`` on a fresh gateway run as ``config``."""
        self._setups.clear()
        folder = self.folder / f"gw-{config.workers}-{config.store.name.lower()}"
        with gateway(folder, config) as gw:
            for name in names:
                advance(f"{name}, {config.label}")
                result = self.run(name, gw, config)
                self.rows.append(result)
                self.console.print(line(result))
            if config == MAIN_CONFIG and self.want_profile:
                advance(f"profile, {config.label}")
                self.profiled = self.profile(gw, config)

    def slowest(self) -> tuple[str, str] | None:
        """The measured workload furthest below its throughput target, and why."""
        worst: tuple[float, str, str] | None = None
        for r in self.rows:
            if r["config"] != MAIN_CONFIG.label or r.get("available") is False:
                continue
            target = report.TARGETS.get(r["workload"])
            floor = target.min_ops_per_s if target else None
            peer = report.peer_for({"peer": self.peer, "peer_jwt": self.peer_jwt}, r["workload"])
            if peer is not None:
                floor = peer["ops_per_s"]
            share = ratio(r.get("ops_per_s"), floor)
            if share is not None and (worst is None or share < worst[0]):
                worst = (share, r["workload"], f"{share:.0%} of its throughput target")
        return (worst[1], worst[2]) if worst else None

    def profile(self, gw: Gateway, config: Config) -> dict[str, Any] | None:
        chosen = self.slowest()
        if chosen is None:
            return None
        name, why = chosen
        output = self.folder / "profile.txt"
        seconds = self.o.warmup + (self.o.login_seconds if name == "login" else self.o.seconds)
        spy = profile.record(gw.process.pid, seconds, output)
        time.sleep(1)  # py-spy attaches before the load starts
        self.run(name, gw, config)
        _, error = spy.communicate(timeout=120)
        if not output.exists():
            self.console.print(f"[yellow]py-spy wrote no profile: {error.decode()[-300:]}")
            return None
        found = profile.hotspots(output.read_text())
        return {
            "workload": name,
            "why": why,
            "seconds": seconds,
            "samples": found.samples,
            "waiting_samples": found.waiting,
            "hotspots": [vars(s) for s in found.hotspots],
        }

    def run_peer(self, advance: Callable[[str], None]) -> None:
        """oidc-provider as token-cc-secret, then as token-cc-jwt, measures the gateway."""
        advance("oidc-provider 9 (npm install, then token-cc-secret and token-cc-jwt)")
        form = workloads.CLIENT_CREDENTIALS
        with oidc_provider(self.folder / "peer", form) as peer:
            server = (peer.base_url, peer.process)
            body = self.folder / "peer-form.txt"
            body.write_text(urlencode(form) + "\n")
            auth = workloads.basic(peer.client_id, peer.secret)
            job = WrkJob("/token", workloads.FORM_TYPE, body, auth, "same")
            result = workloads.measure_wrk(
                "peer", server, "Node.js", (job, job), self.o, stores=False
            )
            self.peer = {**result, "version": peer.version}
            self.console.print(line(report.peer_row(self.peer)))
            jobs = workloads.assertion_jobs(
                self.folder, "peer-jwt", peer.assertion, assertion_rate(self.peer), self.o
            )
            result = workloads.measure_wrk("peer", server, "Node.js", jobs, self.o, stores=False)
            self.peer_jwt = {**result, "version": peer.version, "auth": report.JWT_AUTH}
            self.console.print(line(report.peer_row(self.peer_jwt)))


MAIN_CONFIG = Config(workers=1, store=Store.EMBEDDED)


def assertion_rate(secret: dict[str, Any] | None) -> float:
    """How many single-use assertions a second to prepare: half as many again as the same
    server's client_secret_basic rate (at least 1,500/s), which private_key_jwt never beats."""
    return max(secret["ops_per_s"] if secret else 0.0, 1500.0) * 1.5


def line(r: dict[str, Any]) -> str:
    if r.get("available") is False:
        return f"  {r['workload']:<16} {r['config']:<28} {r['note']}"
    if r["workload"] == "sessions":
        return f"  {'sessions':<16} {r['config']:<28} {report.summary(r)}"
    return (
        f"  {r['workload']:<16} {r['config']:<28} {r['ops_per_s']:>8,.1f}/s "
        f"p99 {r['p99_ms']:>6} ms, {r['errors']} errors, CPU {r['server_cpu_s_per_1000']} s/1k"
    )


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)

    def version(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        return (done.stdout or done.stderr).strip()

    redis_version = re.search(r"v=(\S+)", version(tool("redis-server"), "--version"))
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": version(tool("node"), "--version"),
        "wrk": " ".join(version(tool("wrk"), "-v").split()[:2]),
        "redis": redis_version.group(1) if redis_version else "?",
    }


def plan(args: argparse.Namespace) -> list[tuple[Config, list[str]]]:
    only = set(args.only.split(",")) if args.only else set(ALL)
    unknown = only - set(ALL)
    if unknown:
        sys.exit(f"unknown workload(s): {', '.join(sorted(unknown))}; choose from {', '.join(ALL)}")
    steps = [(MAIN_CONFIG, [n for n in ALL if n in only])]
    scaled = [n for n in SCALED if n in only]
    if scaled:
        stores = [Store.EMBEDDED]
        stores += [] if args.no_external else [Store.EXTERNAL]
        stores += [] if args.no_cluster else [Store.CLUSTER]
        for store in stores:
            for workers in (1, 2):
                config = Config(workers, store)
                if config != MAIN_CONFIG and (workers == 1 or not args.no_scaling):
                    steps.append((config, scaled))
    machine = [n for n in MACHINE_WIDE if n in only]
    if machine and not args.no_scaling:
        both = Config(2, Store.EMBEDDED)
        steps = [
            (c, names + [n for n in machine if n not in names] if c == both else names)
            for c, names in steps
        ]
        if all(c != both for c, _ in steps):
            steps.append((both, machine))
    return [(c, names) for c, names in steps if names]


def write(
    result: dict[str, Any],
    console: Console,
    results: Path = RESULTS,
    doc: Path = DOC,
    deployment: Path = DEPLOYMENT,
) -> None:
    """The run's JSON and chart into ``results``; its figures into ``doc`` and its sizing
    into ``deployment``, each between their markers."""
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    report.chart(result, results / "latest.png")
    report.update_doc(doc, report.markdown(result))
    console.print(f"wrote {results}/latest.json and latest.png, refreshed {doc}")
    sized = sizing.markdown(result)
    if sized is not None and report.update_doc(deployment, sized):
        console.print(f"refreshed the sizing in {deployment}")
    else:
        console.print(
            f"[yellow]left the sizing in {deployment} alone: this run lacks a figure it needs "
            "(login, refresh, submit, deliver, pay-create, sessions)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each measured wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="each warm-up")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--login-seconds", type=float, default=10.0)
    parser.add_argument("--login-concurrency", type=int, default=8)
    parser.add_argument("--deliver-rate", type=float, default=report.DELIVER_RATE)
    parser.add_argument("--deliver-seconds", type=float, default=8.0)
    parser.add_argument("--sessions", type=int, default=100_000, help="idle sessions to store")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--no-peer", action="store_true", help="skip oidc-provider")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 2-worker runs")
    parser.add_argument("--no-external", action="store_true", help="skip external redis-server")
    parser.add_argument("--no-cluster", action="store_true", help="skip the Redis Cluster runs")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--no-write", action="store_true", help="leave results and docs alone")
    parser.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    args = parser.parse_args()
    o = Options(
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        login_seconds=args.login_seconds,
        login_concurrency=args.login_concurrency,
        deliver_rate=args.deliver_rate,
        deliver_seconds=args.deliver_seconds,
        sessions=args.sessions,
    )
    steps = plan(args)
    programs = ("wrk", "redis-server") + (() if args.no_cluster else ("redis-cli",))
    for program in programs + (() if args.no_peer else ("node", "npm")):
        tool(program)
    console = Console(stderr=args.json)
    if not console.is_terminal:
        # A log file or a pipe: wide enough for the table rather than 80 columns.
        console = Console(stderr=args.json, width=200)
    total = sum(len(names) for _, names in steps) + (0 if args.no_peer else 1)
    total += 0 if args.no_profile else 1
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="govconnect-bench-") as name:
        suite = Suite(Path(name), o, console, profile=not args.no_profile)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("starting", total=total)
            count = 0

            def advance(what: str) -> None:
                nonlocal count
                if count:
                    progress.advance(task)
                count += 1
                progress.update(task, description=what)

            if not args.no_peer:
                suite.run_peer(advance)
            for config, names in steps:
                suite.on_gateway(config, names, advance)
            progress.advance(task)
    commit = subprocess.run(  # noqa: S603 - fixed argument list
        [tool("git"), "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "machine": machine(),
        # Other programs on the machine take cores from the servers and the generator; the
        # one-minute load average before and after says how far the figures can be trusted.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "duration_s": round(time.perf_counter() - started, 1),
        "options": vars(args),
        "workloads": suite.rows,
        "peer": suite.peer,
        "peer_jwt": suite.peer_jwt,
        "profile": suite.profiled,
    }
    result["verdicts"] = report.verdicts(result)
    console.print(report.table(suite.rows + report.peer_rows(result)))
    console.print(report.verdict_table(result))
    scale_out = report.scale_out_table(suite.rows)
    if scale_out is not None:
        console.print(scale_out)
    if not args.no_write:
        write(result, console)
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
