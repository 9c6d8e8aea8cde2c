"""Hypothesis profiles for the fuzz suite: few examples in CI, many in `make soak`.

``HYPOTHESIS_PROFILE`` picks one (``ci``, ``dev``, ``soak``); with none set, CI runs ``ci`` and a
developer's machine ``dev``. No profile is derandomised: each run explores new inputs, and a
failure prints the shrunk example to replay it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# No deadline: the parsers run against the real store and a real gateway on a shared machine,
# and how fast they refuse is measured by the benchmark suite, not asserted by a test.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}
settings.register_profile("ci", max_examples=25, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=60, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("soak", max_examples=2_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
