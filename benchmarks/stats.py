"""The arithmetic of the benchmark suite: percentiles, per-operation costs, targets, ratios.

Kept apart from the code that starts servers and drives load so that it can be tested on its
own (tests/benchmarks/test_stats.py) and so every workload is summarised the same way,
whether its latencies come from wrk's histogram or from a Python driver's list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (the smallest sample with at least ``fraction`` of the
    samples at or below it), as wrk reports its own; 0.0 for no samples."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = math.ceil(fraction * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    """Latency figures in milliseconds."""

    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of_seconds(cls, samples: Sequence[float]) -> Latency:
        """From latencies measured in seconds."""
        ms = [s * 1000 for s in samples]
        return cls(
            p50=round(percentile(ms, 0.50), 1),
            p95=round(percentile(ms, 0.95), 1),
            p99=round(percentile(ms, 0.99), 1),
            max=round(max(ms, default=0.0), 1),
        )


def per_thousand(total: float, operations: int) -> float:
    """``total`` (CPU seconds, say) spent per 1,000 operations; 0.0 for no operations."""
    return round(total * 1000 / operations, 3) if operations > 0 else 0.0


def per_item(total_bytes: float, items: int) -> float | None:
    """Bytes per stored item, or None when nothing was stored."""
    return round(total_bytes / items, 1) if items > 0 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` to two places, or None when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


@dataclass(frozen=True)
class Target:
    """What a workload must reach: a floor on throughput, a ceiling on p99, both, or a
    ceiling on Redis bytes per stored item. ``text`` is how the issue states it."""

    text: str
    min_ops_per_s: float | None = None
    max_p99_ms: float | None = None
    max_bytes_per_item: float | None = None

    def met(
        self, ops_per_s: float | None, p99_ms: float | None, bytes_per_item: float | None
    ) -> bool | None:
        """True or False for a measured workload; None when nothing was measured."""
        checks: list[bool] = []
        for limit, value, floor in (
            (self.min_ops_per_s, ops_per_s, True),
            (self.max_p99_ms, p99_ms, False),
            (self.max_bytes_per_item, bytes_per_item, False),
        ):
            if limit is None:
                continue
            if value is None:
                return None
            checks.append(value >= limit if floor else value < limit)
        return all(checks) if checks else None
