"""Which configurations the suite runs each workload on: every workload on one worker and
the embedded Redis; the scaled ones on one and two workers of every store; the whole-machine
ones on two workers of the embedded Redis too (once), and nowhere else."""

from __future__ import annotations

import argparse

from benchmarks.report import MACHINE_WIDE, SCALED
from benchmarks.run import ALL, MAIN_CONFIG, plan
from benchmarks.servers import Config, Store


def _args(**overrides: object) -> argparse.Namespace:
    options: dict[str, object] = {
        "only": "",
        "no_external": False,
        "no_cluster": False,
        "no_scaling": False,
    }
    return argparse.Namespace(**{**options, **overrides})


def test_every_workload_runs_on_the_main_configuration_and_the_rest_where_they_belong() -> None:
    steps = dict(plan(_args()))
    assert steps[MAIN_CONFIG] == list(ALL)
    machine = Config(2, Store.EMBEDDED)
    assert steps[machine] == [*SCALED, *(n for n in MACHINE_WIDE if n not in SCALED)]
    assert set(MACHINE_WIDE) <= set(steps[machine])
    for config, names in steps.items():
        if config not in (MAIN_CONFIG, machine):
            assert names == list(SCALED), config
    assert len(steps) == 6


def test_the_whole_machine_run_stands_alone_when_nothing_scaled_is_asked_for() -> None:
    steps = plan(_args(only="inbox-open"))
    assert steps == [(MAIN_CONFIG, ["inbox-open"]), (Config(2, Store.EMBEDDED), ["inbox-open"])]
    assert plan(_args(only="inbox-open", no_scaling=True)) == [(MAIN_CONFIG, ["inbox-open"])]
