"""The level table: lookups, the acr scheme, and docs/levels.md showing the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust_levels.models import CredentialStrength, IdentityConfidence, Vector
from trust_levels.table import (
    acr,
    credential_level,
    documented_table,
    identity_level,
    render_markdown,
)

DOC = Path(__file__).parents[2] / "docs" / "levels.md"


@pytest.mark.parametrize(
    ("strength", "gpg", "eidas", "nist"),
    [
        (CredentialStrength.LOW, "GPG 44 low", "http://eidas.europa.eu/LoA/low", "AAL1"),
        (
            CredentialStrength.MEDIUM,
            "GPG 44 medium",
            "http://eidas.europa.eu/LoA/substantial",
            "AAL2",
        ),
        (CredentialStrength.HIGH, "GPG 44 high", "http://eidas.europa.eu/LoA/high", "AAL3"),
    ],
)
def test_credential_levels(strength: CredentialStrength, gpg: str, eidas: str, nist: str) -> None:
    level = credential_level(strength)
    assert (level.component, level.gpg, level.eidas, level.nist) == (
        ".".join(strength.components),
        gpg,
        eidas,
        nist,
    )


@pytest.mark.parametrize(
    ("confidence", "gpg", "eidas", "nist"),
    [
        (IdentityConfidence.NONE, "GPG 45 none", None, "IAL1"),
        (IdentityConfidence.LOW, "GPG 45 low", "http://eidas.europa.eu/LoA/low", "IAL1"),
        (
            IdentityConfidence.MEDIUM,
            "GPG 45 medium",
            "http://eidas.europa.eu/LoA/substantial",
            "IAL2",
        ),
        (IdentityConfidence.HIGH, "GPG 45 high", "http://eidas.europa.eu/LoA/high", "IAL2"),
    ],
)
def test_identity_levels(
    confidence: IdentityConfidence, gpg: str, eidas: str | None, nist: str
) -> None:
    level = identity_level(confidence)
    assert (level.component, level.gpg, level.eidas, level.nist) == (
        f"P{int(confidence)}",
        gpg,
        eidas,
        nist,
    )


@pytest.mark.parametrize("text", ["Cl", "Cl.Cm", "Cl.Cm.P2", "Cl.Cm.Ch.P3", "Cl.P1"])
def test_acr_is_the_canonical_vector_and_parses_back(text: str) -> None:
    assert acr(Vector.parse(text)) == text
    assert Vector.parse(acr(Vector.parse(text))) == Vector.parse(text)


def test_docs_levels_md_shows_the_table_in_the_code() -> None:
    assert documented_table(DOC.read_text("utf-8")) == render_markdown()


def test_a_document_without_the_markers_holds_no_table() -> None:
    assert documented_table(render_markdown()) == ""
