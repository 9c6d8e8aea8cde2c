"""Supply chain: the dependency floors carry the fixes for the advisories that touch the
gateway's parsers of untrusted input, what is installed meets them, and `make audit` judges a
pip-audit report as it should (an unallowed vulnerability fails; an allow-list entry works only
while in date)."""

from __future__ import annotations

import datetime
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.resilience.pip_audit import ROOT, Allowed, allow_list, judge

# (package, first fixed version, the advisories that version closes)
ADVISORIES = [
    ("authlib", "1.3.1", "CVE-2024-37568 HMAC with an asymmetric public key"),
    ("authlib", "1.6.4", "CVE-2025-59420 unknown crit header accepted"),
    ("authlib", "1.6.5", "CVE-2025-61920 unbounded JWS segments; CVE-2025-62706 JWE zip bomb"),
    ("authlib", "1.6.9", "CVE-2026-27962 key taken from the JWS header (jwk)"),
    ("authlib", "1.8.0", "CVE-2026-96760 JWS JSON serialization accepted without a signature"),
    ("authlib", "1.9.5", "GHSA-8m4g-j4wp-wgcg empty HMAC key; GHSA-7vr2-2fgp-9w7p PEM/ssh key"),
    ("joserfc", "1.7.2", "CVE-2026-62995 padded JWT malleability; GHSA-gg9x-qcx2-xmrh empty key"),
    ("joserfc", "1.7.3", "CVE-2026-75509 list-valued iss/sub passes an equality check"),
    ("python-multipart", "0.0.18", "CVE-2024-53981 boundary logging DoS"),
    ("python-multipart", "0.0.22", "CVE-2026-24486 path traversal with UPLOAD_KEEP_FILENAME"),
    ("python-multipart", "0.0.30", "GHSA-vffw-93wf-4j4q filename*/name* smuggling (RFC 7578)"),
    ("python-multipart", "0.0.31", "CVE-2026-53540 negative Content-Length reads the whole body"),
]


def _floors() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                floors[requirement.name.lower()] = Version(spec.version)
    return floors


@pytest.mark.parametrize(("package", "fixed", "advisory"), ADVISORIES)
def test_dependency_floor_carries_the_fix(package: str, fixed: str, advisory: str) -> None:
    """A fresh install can never resolve to a version that still has the advisory."""
    assert _floors()[package] >= Version(fixed), f"{package} floor is below the fix: {advisory}"


@pytest.mark.parametrize("package", sorted({package for package, _, _ in ADVISORIES}))
def test_installed_version_meets_the_floor(package: str) -> None:
    assert Version(version(package)) >= _floors()[package]


def _report(*vulns: dict[str, Any]) -> dict[str, Any]:
    return {
        "dependencies": [
            {"name": "somepkg", "version": "1.0", "vulns": list(vulns)},
            {"name": "other", "skip_reason": "Dependency not found on PyPI"},
        ]
    }


TODAY = datetime.date(2026, 12, 1)
VULN: dict[str, Any] = {
    "id": "PYSEC-2026-1",
    "aliases": ["CVE-2026-1", "GHSA-aaaa-bbbb-cccc"],
    "fix_versions": ["2"],
}


def test_an_unallowed_vulnerability_fails_the_audit() -> None:
    verdict = judge(_report(VULN), [], TODAY)
    assert verdict.failed
    assert verdict.findings == ["somepkg 1.0: PYSEC-2026-1 (fixed in 2)"]
    assert (verdict.audited, verdict.skipped) == (1, 1)


def test_an_in_date_entry_allows_the_vulnerability_by_any_alias() -> None:
    allowed = [Allowed("GHSA-aaaa-bbbb-cccc", "not reachable", TODAY)]
    assert not judge(_report(VULN), allowed, TODAY).failed


def test_an_expired_entry_allows_nothing_and_fails_by_itself() -> None:
    allowed = [Allowed("CVE-2026-1", "not reachable", TODAY - datetime.timedelta(days=1))]
    verdict = judge(_report(VULN), allowed, TODAY)
    assert verdict.findings and verdict.expired
    assert judge(_report(), allowed, TODAY).failed


def test_an_undated_entry_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.govconnect.pip-audit]\nallow = [{id = "CVE-2026-1", reason = "because"}]\n'
    )
    with pytest.raises(ValueError, match="review_by"):
        allow_list(pyproject)


def test_the_project_allow_list_is_valid_and_in_date() -> None:
    assert all(entry.review_by >= datetime.date.today() for entry in allow_list())
