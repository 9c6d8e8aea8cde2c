"""`make audit`: pip-audit over the installed dependencies, with the dated allow-list kept in
``pyproject.toml`` (``[tool.govconnect.pip-audit] allow``).

Run as ``python -m tests.resilience.pip_audit``. Exit status 1 when any installed package has a
known vulnerability that no in-date allow-list entry covers, or when an allow-list entry is
malformed or past its review date. The project itself (installed editable) is skipped: it is
not on PyPI.

When the vulnerability service answers for none of the packages (a mirror that serves
packages but not PyPI's JSON API, or no network), nothing was audited: that is printed as a
warning naming the count, never reported as "no known vulnerabilities".
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Allowed:
    """One allow-list entry: an advisory that does not affect GovConnect, until a date."""

    id: str
    reason: str
    review_by: datetime.date


def allow_list(pyproject: Path = ROOT / "pyproject.toml") -> list[Allowed]:
    """The allow-list; raises ``ValueError`` for an entry without id, reason or date."""
    table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    entries = table.get("tool", {}).get("govconnect", {}).get("pip-audit", {}).get("allow", [])
    allowed = []
    for entry in entries:
        if not (entry.get("id") and entry.get("reason") and entry.get("review_by")):
            raise ValueError(f"allow-list entry needs id, reason and review_by: {entry}")
        review_by = entry["review_by"]
        if not isinstance(review_by, datetime.date):
            review_by = datetime.date.fromisoformat(str(review_by))
        allowed.append(Allowed(str(entry["id"]), str(entry["reason"]), review_by))
    return allowed


@dataclass(frozen=True)
class Verdict:
    audited: int
    skipped: int
    findings: list[str]
    expired: list[str]

    @property
    def failed(self) -> bool:
        return bool(self.findings or self.expired)


def judge(report: dict[str, Any], allowed: list[Allowed], today: datetime.date) -> Verdict:
    """Findings are vulnerabilities no in-date entry covers (by id or any alias)."""
    in_date = {entry.id for entry in allowed if entry.review_by >= today}
    expired = [
        f"{entry.id}: review date {entry.review_by} has passed ({entry.reason})"
        for entry in allowed
        if entry.review_by < today
    ]
    findings = []
    audited = skipped = 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped += 1
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            names = {vuln["id"], *vuln.get("aliases", [])}
            if names & in_date:
                continue
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            findings.append(
                f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})"
            )
    return Verdict(audited, skipped, findings, expired)


def main() -> int:
    allowed = allow_list()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--skip-editable",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(done.stderr or done.stdout, file=sys.stderr)
        print("pip-audit did not produce a report", file=sys.stderr)
        return 1
    verdict = judge(report, allowed, datetime.date.today())
    for line in verdict.findings:
        print(f"VULNERABLE {line}")
    for line in verdict.expired:
        print(f"EXPIRED ALLOW-LIST ENTRY {line}")
    print(
        f"pip-audit: {verdict.audited} packages audited, {verdict.skipped} not found by the "
        f"vulnerability service, {len(verdict.findings)} unallowed vulnerabilities"
    )
    if verdict.audited == 0:
        print(
            "WARNING: the vulnerability service answered for no package: nothing was audited "
            "(is PyPI's JSON API reachable from here?)"
        )
    return 1 if verdict.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
