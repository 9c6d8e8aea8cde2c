"""The "no cross-slot command" guard: a test fails when any Redis command would touch two slots.

DESIGN.md §1.3: every multi-key operation keeps its keys in one hash slot. On Redis Cluster a
command that breaks the rule fails, either in redis-py before it is sent (a multi-key command
or an ``EVAL`` whose keys map to different slots, a ``MULTI`` transaction across slots) or in
the server (``CROSSSLOT``; a Lua script reaching a key it did not declare). Code that catches
errors broadly (a queue worker retrying a job, a readiness probe) could turn such a failure
into a retry or a log line and let the test pass. So the guard records every such error *when
it is created*, wherever it is caught later, and fails the test it happened in.

It instruments redis-py's two exception roots (their ``__init__``); commands still run against
the real server. Register once, in ``tests/conftest.py``::

    pytest_plugins = ["tests.support.slots"]

On a single server the errors cannot happen, so the guard only has work to do in the cluster
run (``make test-cluster``).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from redis.exceptions import (
    ClusterCrossSlotError,
    CrossSlotTransactionError,
    RedisClusterException,
    RedisError,
)

# The wording redis-py and Redis (6.2 and 7) use for a command across slots.
CROSS_SLOT_WORDING = (
    "same key slot",
    "same slot",
    "different slots",
    "non local key",
    "don't hash to the same slot",
    "crossslot",
)

_lock = threading.Lock()
_seen: list[str] = []


def is_cross_slot(error: BaseException) -> bool:
    """Whether ``error`` says a command touched keys in more than one slot."""
    if isinstance(error, ClusterCrossSlotError | CrossSlotTransactionError):
        return True
    text = str(error).lower()
    return isinstance(error, RedisError | RedisClusterException) and any(
        words in text for words in CROSS_SLOT_WORDING
    )


def _recording(original: Any) -> Any:
    def record(self: BaseException, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if is_cross_slot(self):
            where = "".join(traceback.format_stack(limit=12)[:-1])
            with _lock:
                _seen.append(f"{type(self).__name__}: {self}\n{where}")

    return record


def install() -> None:
    """Record every cross-slot error from now on (idempotent)."""
    for cls in (RedisError, RedisClusterException):
        if not getattr(cls.__init__, "_gc_recording", False):
            recorder = _recording(cls.__init__)
            recorder._gc_recording = True
            cls.__init__ = recorder  # type: ignore[method-assign]


def take() -> list[str]:
    """The cross-slot errors recorded since the last call, forgetting them."""
    with _lock:
        taken = list(_seen)
        _seen.clear()
    return taken


@pytest.fixture(autouse=True)
def no_cross_slot_commands() -> Iterator[None]:
    """Fails the test if a command during it touched two slots, even if the code caught it."""
    install()
    take()
    yield
    seen = take()
    if seen:
        pytest.fail(
            f"{len(seen)} Redis command(s) touched more than one hash slot (DESIGN.md §1.3); "
            "the first was:\n" + seen[0],
            pytrace=False,
        )
