"""The sizing of docs/deployment.md: worked out from a run's per-operation costs and stated
assumptions, preferring the cluster's figures where the run has them, and left alone when a
run lacks a figure it needs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks.sizing import TIMES, Assumptions, costs, markdown, need

MAIN = "1 worker, embedded Redis"
CLUSTER = "1 worker, Redis Cluster"


def _row(workload: str, cpu: float, config: str = MAIN, **extra: Any) -> dict[str, Any]:
    return {
        "workload": workload,
        "config": config,
        "ops_per_s": 100.0,
        "p99_ms": 10.0,
        "server_cpu_s_per_1000": cpu,
        "redis_cpu_s_per_1000": cpu / 10,
        "server_rss_mb": 150.0,
        "redis_bytes_per_item": None,
        **extra,
    }


def _report(*extra_rows: dict[str, Any], without: str = "") -> dict[str, Any]:
    rows = [
        _row("token-cc-secret", 0.2),
        _row("refresh", 0.5, redis_bytes_per_item=150.0),
        _row("login", 20.0, redis_bytes_per_item=2000.0),
        _row("submit", 2.0, redis_bytes_per_item=8000.0),
        _row("deliver", 3.5),
        _row("pay-create", 1.0, redis_bytes_per_item=2500.0),
        {"workload": "sessions", "config": MAIN, "redis_bytes_per_item": 800.0},
        *extra_rows,
    ]
    return {
        "date": "2026-11-28 05:00 UTC",
        "commit": "abc1234",
        "machine": {"nproc": 2},
        "load_average": [0.5, 0.7],
        "workloads": [r for r in rows if r["workload"] != without],
    }


def test_the_peak_load_and_the_cores_follow_from_the_costs_and_the_assumptions() -> None:
    found = costs(_report())
    assert found is not None
    council = need("a council", 100_000, found, Assumptions())
    # 100,000 * 5 % * 15 % / 3,600 * 3 = 0.625 sign-ins/s; at 20 ms each, 0.0125 cores.
    assert council.signins_per_s == pytest.approx(0.625)
    assert council.cores["sign-ins"] == pytest.approx(0.0125)
    assert council.token_calls_per_s == pytest.approx(6.25)
    # A submission is accepted (2 ms) and pushed (deliver less submit: 1.5 ms).
    assert council.submissions_per_s == pytest.approx(0.5)
    assert council.cores["submissions"] == pytest.approx(0.5 * 3.5 / 1000)
    # Far below a core: the floor of two processes, for availability.
    assert council.processes == 2
    # Submissions kept 90 days: 100,000 * 2 * 90 / 365 * 8,000 bytes.
    assert council.data_gb["submissions kept"] == pytest.approx(100_000 * 2 * 90 / 365 * 8e-6)
    assert council.masters == 3

    doubled = need("a council", 100_000, found, Assumptions(signin_day_share=0.1))
    assert doubled.signins_per_s == pytest.approx(1.25)
    england = need("England", 57_000_000, found, Assumptions())
    # Cores needed ÷ 50 % utilisation, rounded up: one process per core.
    assert england.processes == math.ceil(england.gateway_cores / 0.5)
    assert england.processes > 2


def test_a_large_store_is_spread_over_more_masters_none_above_the_largest_size() -> None:
    found = costs(_report())
    assert found is not None
    a = Assumptions(max_master_gb=16)
    england = need("England", 57_000_000, found, a)
    assert england.master_gb <= 16
    assert england.masters * england.master_gb >= england.redis_data_gb / 0.6


def test_costs_come_from_the_cluster_where_the_run_measured_the_operation_there() -> None:
    report = _report(
        _row("submit", 3.0, CLUSTER, redis_bytes_per_item=9000.0),
        _row("pay-create", 1.2, CLUSTER, redis_bytes_per_item=2600.0),
    )
    found = costs(report)
    assert found is not None
    assert (found.submission.measured, found.submission.cpu_ms) == (CLUSTER, 3.0)
    assert found.payment.bytes_kept == 2600.0
    # Only on the main configuration: sign-ins, and the push (deliver less submit on the same one).
    assert found.signin.measured == MAIN
    assert found.push.cpu_ms == pytest.approx(1.5)
    assert found.client_token.measured == MAIN
    assert f"| {CLUSTER} | 3 |" in (markdown(report) or "")


def test_a_run_without_a_figure_the_sizing_needs_leaves_the_section_alone() -> None:
    assert markdown(_report(without="login")) is None
    assert markdown(_report(without="sessions")) is None
    unavailable = _report(
        {"workload": "deliver", "config": MAIN, "available": False}, without="deliver"
    )
    assert markdown(unavailable) is None


def test_the_section_states_its_run_its_assumptions_and_each_population() -> None:
    text = markdown(_report())
    assert text is not None
    assert "2026-11-28 05:00 UTC" in text and "`abc1234`" in text
    assert "5% of the population signs in" in text
    assert f"population {TIMES} 6.25 {TIMES} 10⁻⁶" in text
    assert "a council (100,000 people)" in text and "England (57 million people)" in text
    header = next(line for line in text.splitlines() if line.startswith("| | a council"))
    assert header.count("|") == 5
