"""How many cores and how much memory a deployment needs, worked out from a run's figures
(benchmarks/results/latest.json) and stated assumptions; the section of docs/deployment.md
between its markers.

Every figure of the arithmetic is either measured by the run (CPU per operation, Redis bytes
per item kept, a worker's resident memory) or an assumption of :class:`Assumptions`, printed
with the table so a reader can redo it with their own numbers. Costs are taken from the
cluster runs where the suite measured the operation on a cluster (the store a large
deployment uses), from the main configuration otherwise, and the table says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SECONDS_PER_HOUR = 3600
DAYS_PER_YEAR = 365
GB = 1e9
MAIN = "1 worker, embedded Redis"
CLUSTER = "1 worker, Redis Cluster"
TIMES, MINUS = "\u00d7", "\u2212"  # the multiplication and minus signs of the tables


@dataclass(frozen=True)
class Assumptions:
    """The load nobody publishes: a busy day for a council's services, replaceable."""

    # Sign-ins: this share of the population signs in on the busiest day (council tax
    # bills, school admissions); each sign-in brings this many token, refresh or userinfo
    # calls (costed as refreshes).
    signin_day_share: float = 0.05
    token_calls_per_signin: int = 10
    # Submissions and payments per person per year, and the share of a year's on its
    # busiest day.
    submissions_per_person_year: float = 2.0
    payments_per_person_year: float = 1.0
    busiest_day_share_of_year: float = 0.02
    # The shape of a busy day: its busiest hour carries this share, and its busiest minute
    # this many times the hour's average.
    peak_hour_share: float = 0.15
    peak_minute_factor: float = 3.0
    # What stays in Redis: every account (this share of the population, this many bytes
    # with its indexes: no workload measures an account), every sign-in of the busiest day
    # (a session lives up to 12 hours), submissions and payments for their retention.
    account_share: float = 0.6
    account_bytes: int = 2000
    submission_retention_days: int = 90
    payment_retention_days: int = 365
    # Head-room: gateway cores planned at this utilisation (a lost machine, argon2id's
    # bursts); Redis data at this share of `maxmemory` (the AOF rewrite's copy-on-write,
    # growth); never fewer than two gateway processes or three masters (availability),
    # and no master above this many GB (a replica's full resync and a failover stay short).
    gateway_utilisation: float = 0.5
    redis_memory_utilisation: float = 0.6
    min_processes: int = 2
    min_masters: int = 3
    max_master_gb: int = 64

    @property
    def busiest_second(self) -> float:
        """The share of a busy day's traffic in one second of its busiest minute."""
        return self.peak_hour_share / SECONDS_PER_HOUR * self.peak_minute_factor


POPULATIONS: tuple[tuple[str, int], ...] = (
    ("a council", 100_000),
    ("a region", 5_000_000),
    ("England", 57_000_000),
)


@dataclass(frozen=True)
class Cost:
    """What one operation cost in the run, and on which configuration it was measured."""

    operation: str
    measured: str
    cpu_ms: float
    redis_cpu_ms: float
    bytes_kept: float | None


@dataclass(frozen=True)
class Costs:
    signin: Cost
    token_call: Cost
    client_token: Cost
    submission: Cost
    push: Cost
    payment: Cost
    idle_session: Cost
    worker_rss_mb: float

    def table(self) -> tuple[Cost, ...]:
        return (
            self.signin,
            self.token_call,
            self.client_token,
            self.submission,
            self.push,
            self.payment,
            self.idle_session,
        )


@dataclass(frozen=True)
class Need:
    """One population's peak load and what it takes."""

    name: str
    people: int
    signins_per_s: float
    token_calls_per_s: float
    submissions_per_s: float
    payments_per_s: float
    cores: dict[str, float]
    processes: int
    gateway_memory_gb: float
    redis_cores: float
    data_gb: dict[str, float]
    masters: int
    master_gb: int

    @property
    def gateway_cores(self) -> float:
        return sum(self.cores.values())

    @property
    def redis_data_gb(self) -> float:
        return sum(self.data_gb.values())


def _row(rows: list[dict[str, Any]], workload: str, *configs: str) -> dict[str, Any] | None:
    """The first measured row of ``workload`` among ``configs``, in their order."""
    for config in configs:
        for r in rows:
            if (
                r["workload"] == workload
                and r["config"] == config
                and r.get("available") is not False
                and r.get("server_cpu_s_per_1000")
            ):
                return r
    return None


def _cost(operation: str, r: dict[str, Any]) -> Cost:
    return Cost(
        operation,
        r["config"],
        float(r["server_cpu_s_per_1000"]),
        float(r.get("redis_cpu_s_per_1000") or 0.0),
        r.get("redis_bytes_per_item"),
    )


def costs(report: dict[str, Any]) -> Costs | None:
    """The per-operation costs of the run, or None when it lacks one the arithmetic needs
    (a run of a subset: ``--only``)."""
    rows: list[dict[str, Any]] = report["workloads"]
    found = {
        name: _row(rows, name, CLUSTER, MAIN)
        for name in ("token-cc-secret", "submit", "pay-create")
    }
    for name in ("login", "refresh", "deliver"):
        found[name] = _row(rows, name, MAIN)
    sessions = next(
        (r for r in rows if r["workload"] == "sessions" and r.get("redis_bytes_per_item")), None
    )
    plain_submit = _row(rows, "submit", MAIN)
    measured = {name: r for name, r in found.items() if r is not None}
    if len(measured) < len(found) or sessions is None or plain_submit is None:
        return None
    deliver = measured["deliver"]
    # deliver is submit's work plus the push worker's, on the same configuration.
    push = Cost(
        f"submission pushed to the recipient (deliver {MINUS} submit)",
        deliver["config"],
        max(deliver["server_cpu_s_per_1000"] - plain_submit["server_cpu_s_per_1000"], 0.0),
        max(
            (deliver.get("redis_cpu_s_per_1000") or 0.0)
            - (plain_submit.get("redis_cpu_s_per_1000") or 0.0),
            0.0,
        ),
        None,
    )
    single = [
        r["server_rss_mb"]
        for r in rows
        if r["config"].startswith("1 worker,") and r.get("server_rss_mb") is not None
    ]
    return Costs(
        signin=_cost(
            "sign-in (authorize, sign-in page, argon2id, code exchange)",
            measured["login"],
        ),
        token_call=_cost("token call after a sign-in (a refresh)", measured["refresh"]),
        client_token=_cost("client-credentials token", measured["token-cc-secret"]),
        submission=_cost("submission accepted (validated, signed, stored)", measured["submit"]),
        push=push,
        payment=_cost("payment created", measured["pay-create"]),
        idle_session=Cost(
            "idle browser session", sessions["config"], 0.0, 0.0, sessions["redis_bytes_per_item"]
        ),
        worker_rss_mb=max(single, default=0.0),
    )


def need(name: str, people: int, c: Costs, a: Assumptions) -> Need:
    """The peak of ``people`` and the cores and memory it takes."""
    busy_second = a.busiest_second
    signins = people * a.signin_day_share * busy_second
    token_calls = signins * a.token_calls_per_signin
    submissions = people * a.submissions_per_person_year * a.busiest_day_share_of_year * busy_second
    payments = people * a.payments_per_person_year * a.busiest_day_share_of_year * busy_second
    cores = {
        "sign-ins": signins * c.signin.cpu_ms / 1000,
        "token calls": token_calls * c.token_call.cpu_ms / 1000,
        "submissions": submissions * (c.submission.cpu_ms + c.push.cpu_ms) / 1000,
        "payments": payments * c.payment.cpu_ms / 1000,
    }
    processes = max(a.min_processes, math.ceil(sum(cores.values()) / a.gateway_utilisation))
    redis_cores = (
        signins * c.signin.redis_cpu_ms
        + token_calls * c.token_call.redis_cpu_ms
        + submissions * (c.submission.redis_cpu_ms + c.push.redis_cpu_ms)
        + payments * c.payment.redis_cpu_ms
    ) / 1000
    data = {
        "accounts": people * a.account_share * a.account_bytes / GB,
        "sign-ins of the busiest day": people
        * a.signin_day_share
        * (c.signin.bytes_kept or 0.0)
        / GB,
        "submissions kept": people
        * a.submissions_per_person_year
        * a.submission_retention_days
        / DAYS_PER_YEAR
        * (c.submission.bytes_kept or 0.0)
        / GB,
        "payments kept": people
        * a.payments_per_person_year
        * a.payment_retention_days
        / DAYS_PER_YEAR
        * (c.payment.bytes_kept or 0.0)
        / GB,
    }
    maxmemory = sum(data.values()) / a.redis_memory_utilisation
    masters = max(a.min_masters, math.ceil(maxmemory / a.max_master_gb))
    return Need(
        name=name,
        people=people,
        signins_per_s=signins,
        token_calls_per_s=token_calls,
        submissions_per_s=submissions,
        payments_per_s=payments,
        cores=cores,
        processes=processes,
        gateway_memory_gb=processes * c.worker_rss_mb / 1024,
        redis_cores=redis_cores,
        data_gb=data,
        masters=masters,
        master_gb=max(1, math.ceil(maxmemory / masters)),
    )


def _n(value: float) -> str:
    """A figure to the precision it deserves: three significant digits, separators."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _factor(value: float) -> str:
    """A small factor in scientific notation, as the assumptions print it: 6.25 x 10^-6."""
    exponent = math.floor(math.log10(value))
    superscript = str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value / 10**exponent:.3g} {TIMES} 10{superscript}"


def _people(people: int) -> str:
    return f"{people / 1e6:g} million" if people >= 1_000_000 else f"{people:,}"


def assumption_lines(a: Assumptions) -> list[str]:
    busy_second = a.busiest_second
    return [
        f"- **Sign-ins**: {a.signin_day_share:.0%} of the population signs in on the busiest "
        f"day; its busiest hour carries {a.peak_hour_share:.0%} of the day and its busiest "
        f"minute {a.peak_minute_factor:g} times the hour's average, so peak sign-ins per "
        f"second = population {TIMES} {a.signin_day_share:g} {TIMES} {a.peak_hour_share:g} ÷ "
        f"3,600 {TIMES} {a.peak_minute_factor:g} = **population {TIMES} "
        f"{_factor(a.signin_day_share * busy_second)}**. "
        f"Each brings {a.token_calls_per_signin} token, refresh or userinfo calls, costed as "
        "refreshes.",
        f"- **Submissions**: {a.submissions_per_person_year:g} per person per year, "
        f"{a.busiest_day_share_of_year:.0%} of the year's on the busiest day, the same hour and "
        f"minute shape: peak per second = population {TIMES} "
        f"{_factor(a.submissions_per_person_year * a.busiest_day_share_of_year * busy_second)}; "
        f"each accepted once and pushed once, kept {a.submission_retention_days} days.",
        f"- **Payments**: {a.payments_per_person_year:g} per person per year, the same shape: "
        f"population {TIMES} "
        f"{_factor(a.payments_per_person_year * a.busiest_day_share_of_year * busy_second)} per "
        f"second, kept {a.payment_retention_days} days.",
        f"- **Redis data**: accounts for {a.account_share:.0%} of the population at "
        f"{a.account_bytes:,} bytes each with their indexes (assumed: no workload measures an "
        "account); what every sign-in of the busiest day leaves (its session, refresh-token "
        "family and grant: the sign-in's bytes kept above; a session lives up to 12 hours); "
        "the submissions and payments kept.",
        f"- **Head-room**: gateway cores planned at {a.gateway_utilisation:.0%} utilisation "
        "(room for a lost machine and for argon2id's bursts), one worker per core, never fewer "
        f"than {a.min_processes} processes; Redis data at {a.redis_memory_utilisation:.0%} of "
        "`maxmemory` (the AOF rewrite's copy-on-write, growth), at least "
        f"{a.min_masters} masters, none above {a.max_master_gb} GB, each with one replica.",
    ]


def markdown(report: dict[str, Any], a: Assumptions | None = None) -> str | None:
    """The sizing section for docs/deployment.md, or None when the run lacks a figure it
    needs (the section is then left as it is)."""
    a = a or Assumptions()
    c = costs(report)
    if c is None:
        return None
    m = report["machine"]
    lines = [
        f"Worked out by `make bench` (benchmarks/sizing.py) from its run of {report['date']} "
        f"(commit `{report['commit']}`, {m['nproc']} cores, load average "
        f"{report['load_average'][0]} before and {report['load_average'][1]} after; "
        "docs/performance.md has every figure). CPU time per operation is the steadiest "
        "figure of a run: throughput moves with the machine's other load.",
        "",
        "#### What one operation costs",
        "",
        "| operation | measured on | gateway CPU ms | per core at 100% | Redis CPU ms "
        "| Redis bytes kept |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for cost in c.table():
        per_core = f"{1000 / cost.cpu_ms:,.0f}/s" if cost.cpu_ms else "—"
        kept = f"{cost.bytes_kept:,.0f}" if cost.bytes_kept else "—"
        cpu = _n(cost.cpu_ms) if cost.cpu_ms else "—"
        redis_cpu = _n(cost.redis_cpu_ms) if cost.cpu_ms else "—"
        lines.append(
            f"| {cost.operation} | {cost.measured} | {cpu} | {per_core} | {redis_cpu} | {kept} |"
        )
    on_cluster = any(cost.measured == CLUSTER for cost in c.table())
    lines += [
        "",
        f"A gateway worker's resident memory: up to {c.worker_rss_mb:,.0f} MB."
        + (
            " Redis CPU on the cluster counts all six servers, the replicas' work included."
            if on_cluster
            else ""
        ),
        "",
        "#### Assumptions",
        "",
        *assumption_lines(a),
        "",
        "#### The arithmetic",
        "",
    ]
    needs = [need(name, people, c, a) for name, people in POPULATIONS]
    lines += [
        "| | " + " | ".join(f"{n.name} ({_people(n.people)} people)" for n in needs) + " |",
        "|---|" + "--:|" * len(needs),
    ]

    def add(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    add("peak sign-ins/s", [_n(n.signins_per_s) for n in needs])
    add("peak token calls/s", [_n(n.token_calls_per_s) for n in needs])
    add("peak submissions/s", [_n(n.submissions_per_s) for n in needs])
    add("peak payments/s", [_n(n.payments_per_s) for n in needs])
    per_op = {
        "sign-ins": c.signin.cpu_ms,
        "token calls": c.token_call.cpu_ms,
        "submissions": c.submission.cpu_ms + c.push.cpu_ms,
        "payments": c.payment.cpu_ms,
    }
    for what, ms in per_op.items():
        add(f"cores for {what} ({TIMES} {_n(ms / 1000)} CPU s)", [_n(n.cores[what]) for n in needs])
    add("**gateway cores needed**", [f"**{_n(n.gateway_cores)}**" for n in needs])
    add(
        f"**gateway processes** (one core each, at {a.gateway_utilisation:.0%})",
        [f"**{n.processes}**" for n in needs],
    )
    add(
        f"gateway memory ({c.worker_rss_mb:,.0f} MB per process)",
        [f"{_n(n.gateway_memory_gb)} GB" for n in needs],
    )
    add("Redis CPU at the peak", [f"{_n(n.redis_cores)} cores" for n in needs])
    for what in needs[0].data_gb:
        add(f"Redis: {what}", [f"{_n(n.data_gb[what])} GB" for n in needs])
    add("**Redis data**", [f"**{_n(n.redis_data_gb)} GB**" for n in needs])
    add(
        f"**Redis Cluster** (masters {TIMES} `maxmemory`, each with a replica)",
        [f"**{n.masters} {TIMES} {n.master_gb} GB**" for n in needs],
    )
    lines += ["", *(_reading(n) for n in needs)]
    return "\n".join(lines)


def _reading(n: Need) -> str:
    """Where one population's resources go."""
    biggest = max(n.cores, key=lambda k: n.cores[k])
    share = n.cores[biggest] / n.gateway_cores if n.gateway_cores else 0.0
    data = max(n.data_gb, key=lambda k: n.data_gb[k])
    return (
        f"- **{n.name.capitalize()}**: {_n(n.gateway_cores)} cores of load at the peak minute "
        f"({biggest} {share:.0%} of it) on {n.processes} processes; "
        f"{_n(n.redis_data_gb)} GB in Redis, most of it {data} "
        f"({n.data_gb[data] / n.redis_data_gb:.0%})."
    )
