"""The key file: one JSON document, private halves only for live keys, damage detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.core.errors import ConfigurationError
from gateway.signing.services import KeyRing
from tests.gateway.signing.conftest import GRACE_SECONDS
from tests.support.clock import MovableClock


def test_archived_keys_keep_no_private_half_in_the_file(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    """Archiving destroys the private key: only live keys carry ``d`` in the file."""
    ring.rotate()
    clock.advance(seconds=GRACE_SECONDS + 1)
    ring.rotate()
    document = json.loads(key_file.read_text())
    assert len(document["archive"]) == 2
    assert all("d" not in record["jwk"] for record in document["archive"])
    assert all("d" in record["jwk"] for record in document["keys"])
    assert {r["state"] for r in document["keys"]} == {"current", "next", "retiring"}


def test_writes_leave_no_temporary_files_behind(ring: KeyRing, key_file: Path) -> None:
    """Each write renames its temporary file over the old one; nothing else stays."""
    ring.rotate()
    ring.rotate()
    assert sorted(p.name for p in key_file.parent.iterdir()) == [
        key_file.name,
        key_file.name + ".lock",
    ]


def test_a_key_swapped_under_another_kid_is_refused(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    """The kid is the key's RFC 7638 thumbprint, so a swapped key cannot keep its name."""
    document = json.loads(key_file.read_text())
    document["keys"][0]["kid"], document["keys"][1]["kid"] = (
        document["keys"][1]["kid"],
        document["keys"][0]["kid"],
    )
    key_file.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="damaged"):
        KeyRing(key_file, clock, GRACE_SECONDS).current()


def test_a_file_without_a_current_key_is_refused(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    document = json.loads(key_file.read_text())
    for record in document["keys"]:
        if record["state"] == "current":
            record["state"] = "retiring"
            record["retired_at"] = record["created_at"]
    key_file.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="exactly one current"):
        KeyRing(key_file, clock, GRACE_SECONDS).current()


def test_a_truncated_file_is_refused_with_advice(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    key_file.write_bytes(key_file.read_bytes()[:100])
    with pytest.raises(ConfigurationError, match="restore it from a backup"):
        KeyRing(key_file, clock, GRACE_SECONDS).current()
