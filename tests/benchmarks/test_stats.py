"""The benchmark suite's arithmetic: nearest-rank percentiles as wrk reports them, costs per
operation and per stored item, and targets judged from what was measured."""

from __future__ import annotations

import pytest

from benchmarks.stats import Latency, Target, per_item, per_thousand, percentile, ratio


def test_percentiles_are_nearest_rank_samples_not_interpolations() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1 … 100, shuffled below
    shuffled = samples[::2] + samples[1::2]
    assert percentile(shuffled, 0.50) == 50.0
    assert percentile(shuffled, 0.95) == 95.0
    assert percentile(shuffled, 0.99) == 99.0
    assert percentile(shuffled, 1.0) == 100.0
    assert percentile([7.0, 1.0, 3.0], 0.5) == 3.0


def test_a_single_sample_is_every_percentile_and_no_samples_give_zero() -> None:
    assert percentile([4.2], 0.01) == percentile([4.2], 0.99) == 4.2
    assert percentile([], 0.99) == 0.0


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.01])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], fraction)


def test_latency_from_seconds_is_in_milliseconds_to_a_tenth() -> None:
    latency = Latency.of_seconds([0.001, 0.002, 0.010, 0.2504])
    assert latency == Latency(p50=2.0, p95=250.4, p99=250.4, max=250.4)


def test_costs_per_operation_and_per_item_survive_an_empty_run() -> None:
    assert per_thousand(2.5, 10_000) == 0.25
    assert per_thousand(1.0, 0) == 0.0
    assert per_item(153_600, 100) == 1536.0
    assert per_item(1000, 0) is None
    assert ratio(4044, 5528) == 0.73
    assert ratio(None, 5528) is None and ratio(10, 0) is None


def test_a_target_is_met_only_when_every_limit_it_states_is_met() -> None:
    submit = Target("≥ 1,000/s, p99 < 50 ms", min_ops_per_s=1000, max_p99_ms=50)
    assert submit.met(1200, 30, None) is True
    assert submit.met(1200, 50, None) is False  # "under 50 ms": 50 itself misses
    assert submit.met(999, 10, None) is False
    assert submit.met(None, 10, None) is None  # not measured is not a miss
    sessions = Target("< 1 KB", max_bytes_per_item=1024)
    assert sessions.met(None, None, 700.0) is True
    assert sessions.met(None, None, 1500.0) is False
    assert Target("none stated").met(1, 1, 1) is None
