"""``govconnect bench`` hands its arguments to the benchmark suite unchanged, ``--help``
included, and passes back the suite's exit status."""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import ROOT


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_is_the_suites_own_with_every_workload_option() -> None:
    result = _bench("--help")
    assert result.returncode == 0, result.stderr
    for option in ("--only", "--no-peer", "--no-scaling", "--no-external", "--json"):
        assert option in result.stdout


def test_an_unknown_workload_is_refused_before_anything_starts() -> None:
    result = _bench("--only", "token-cc-nothing", "--no-peer")
    assert result.returncode != 0
    assert "unknown workload(s): token-cc-nothing" in result.stderr
