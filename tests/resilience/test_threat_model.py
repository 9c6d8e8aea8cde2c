"""docs/threat-model.md keeps its promise: every row names a test, and every test it names
exists (a renamed or deleted test would otherwise leave a defence unproven without anyone
noticing)."""

from __future__ import annotations

import re

from tests.support.servers import ROOT

DOC = ROOT / "docs" / "threat-model.md"
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
STRIDE = set("STRIDE")


def _rows() -> list[list[str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in {"STRIDE", ""} and set(cells[0]) != {"-"}:
            rows.append(cells)
    return rows


def test_the_threat_model_has_rows_for_every_component() -> None:
    text = DOC.read_text(encoding="utf-8")
    for component in ("Sign-in", "OIDC endpoints", "Delivery", "Inboxes", "Payments", "Admin"):
        assert f"## {component}" in text
    assert "## The store" in text
    assert len(_rows()) >= 40


def test_every_row_names_a_stride_category_and_a_test() -> None:
    for row in _rows():
        assert len(row) == 4, row
        assert set(row[0]) <= STRIDE, row
        assert TEST_REFERENCE.fullmatch(row[3]), f"no test named: {row}"


def test_every_named_test_exists() -> None:
    missing = []
    for row in _rows():
        match = TEST_REFERENCE.fullmatch(row[3])
        assert match is not None
        path, name = match.groups()
        source = ROOT / path
        if not source.exists() or not re.search(
            rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{path}::{name}")
    assert missing == []
