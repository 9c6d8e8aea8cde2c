"""What every fuzzed parser must do with hostile input: answer, or refuse with a domain error
the problem handler maps to a 4xx, without holding much memory. (How fast is the benchmark
suite's business, not a test's: tests check behaviour only.)"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.core.errors import Category, GovConnectError

# A refused input may be a megabyte (the request body limit); parsing it must not cost many
# times that.
MAX_PEAK_BYTES = 48 * 1024 * 1024


async def refused_or_accepted(call: Callable[[], Awaitable[Any]]) -> GovConnectError | None:
    """Run ``call``: it returns (``None``) or raises a 4xx-category domain error (returned).
    Any other exception propagates and fails the example; so do a 5xx category or a memory
    peak over :data:`MAX_PEAK_BYTES`."""
    tracemalloc.start()
    refused: GovConnectError | None = None
    try:
        await call()
    except GovConnectError as exc:
        refused = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"peaked at {peak / 1e6:.1f} MB"
    if refused is not None:
        assert refused.category not in (Category.INTERNAL, Category.UNAVAILABLE), refused
    return refused
