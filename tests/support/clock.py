"""A clock tests can move, so time-dependent rules are checked without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """Implements :class:`gateway.core.clock.Clock`; starts at a fixed instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
