"""Reading the whole evidence log, for tests that check an action was recorded."""

from __future__ import annotations

from typing import Any

from gateway.evidence.services import EvidenceLog


async def recorded(log: EvidenceLog, action: str, subject: str) -> list[dict[str, Any]]:
    """Every entry with this action and subject, walking the log page by page."""
    found: list[dict[str, Any]] = []
    after = 0
    while page := await log.entries(after, 1000):
        found.extend(e for e in page if e["action"] == action and e["subject"] == subject)
        after = int(str(page[-1]["seq"]))
    return found
