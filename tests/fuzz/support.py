"""What every fuzzed parser must do with hostile input: answer, or refuse with a domain error
the problem handler maps to a 4xx, quickly and without holding much memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.core.errors import Category, GovConnectError

# A refused input may be a megabyte (the request body limit); parsing it must not cost many
# times that.
MAX_PEAK_BYTES = 48 * 1024 * 1024
MAX_SECONDS = 2.0


async def refused_or_accepted(call: Callable[[], Awaitable[Any]]) -> GovConnectError | None:
    """Run ``call``: it returns (``None``) or raises a 4xx-category domain error (returned).
    Any other exception propagates and fails the example; so do a 5xx category, more than
    :data:`MAX_SECONDS` or a memory peak over :data:`MAX_PEAK_BYTES`."""
    tracemalloc.start()
    started = time.perf_counter()
    refused: GovConnectError | None = None
    try:
        await call()
    except GovConnectError as exc:
        refused = exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < MAX_SECONDS, f"took {elapsed:.2f}s"
    assert peak < MAX_PEAK_BYTES, f"peaked at {peak / 1e6:.1f} MB"
    if refused is not None:
        assert refused.category not in (Category.INTERNAL, Category.UNAVAILABLE), refused
    return refused
