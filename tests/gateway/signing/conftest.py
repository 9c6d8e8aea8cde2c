"""A fresh key ring in a temporary folder, on a clock the test moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from tests.support.clock import MovableClock

GRACE_SECONDS = 3600


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "pki" / KEY_FILE_NAME


@pytest.fixture
def ring(key_file: Path, clock: MovableClock) -> KeyRing:
    built = KeyRing(key_file, clock, GRACE_SECONDS)
    built.initialise()
    return built
