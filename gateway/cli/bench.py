"""``govconnect bench``: run the benchmark suite (benchmarks/run.py) from a source checkout.

The suite lives beside the package, not in it: it starts gateways, wrk, an external
``redis-server`` and oidc-provider, and needs the ``bench`` extra (``make bench`` installs
it). Every option after ``bench`` goes to the suite unchanged; ``--help`` lists them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from gateway.cli.common import fail

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def bench(context: typer.Context) -> None:
    """Run the benchmark suite; options (e.g. --only submit --no-peer, --json) go to it."""
    if not SUITE.exists():
        fail(
            f"the benchmark suite is not at {SUITE}: run `govconnect bench` from a source "
            "checkout (it is not part of an installed package)"
        )
    # The suite's own options, passed on unchanged (a fixed program, the caller's arguments).
    done = subprocess.run([sys.executable, str(SUITE), *context.args], check=False)  # noqa: S603
    raise typer.Exit(done.returncode)


def register(app: typer.Typer) -> None:
    """Add ``bench`` to ``app``; click hands it every argument, ``--help`` included."""
    app.command(
        "bench",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(bench)
