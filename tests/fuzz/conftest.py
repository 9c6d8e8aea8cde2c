"""Hypothesis profiles for the fuzz suite: few examples in CI, many in `make soak`.

``HYPOTHESIS_PROFILE`` picks one (``ci``, ``dev``, ``soak``); with none set, CI runs ``ci`` and a
developer's machine ``dev``. No profile is derandomised: each run explores new inputs, and a
failure prints the shrunk example to replay it.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

# The parsers run against the real store and a real gateway, so examples are slower than pure
# functions; the deadline is what "fast" means for one refused input, with room for a loaded CI.
_COMMON = {
    "deadline": timedelta(seconds=3),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}
settings.register_profile("ci", max_examples=25, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=60, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("soak", max_examples=2_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
