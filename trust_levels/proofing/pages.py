"""What the citizen's and the staff's identity pages share: a person's evidence and
confidence in plain words, with the organisations' names looked up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.organisations.errors import OrganisationNotFoundError
from gateway.runtime import Runtime
from gateway.web.messages import message
from trust_levels.models import IdentityConfidence
from trust_levels.proofing.models import EvidenceRecord, RecorderKind
from trust_levels.proofing.services import COUNCIL_CHECK_SOURCE, Standing


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One record as a page lists it."""

    id: str
    kind: str
    recorded_by: str
    recorded_at: datetime
    expires_at: datetime
    status: str  # live | expired | withdrawn
    status_text: str
    scores: str  # GPG 45 scores, for staff: "evidence 3:2 · activity 0 · fraud 1 · …"
    withdrawal_reason: str | None


@dataclass(frozen=True, slots=True)
class Summary:
    """The confidence reached, in words, and the records behind it."""

    level: IdentityConfidence
    level_text: str
    profile_text: str | None
    rows: tuple[RecordRow, ...]


async def summarise(runtime: Runtime, standing: Standing) -> Summary:
    names: dict[str, str] = {}
    rows = []
    for record in reversed(standing.records):  # newest first
        status = record.status(standing.now)
        rows.append(
            RecordRow(
                id=record.id,
                kind=message(f"proofing.kind.{record.kind.value}"),
                recorded_by=await _recorder(runtime, record, names),
                recorded_at=record.recorded_at,
                expires_at=record.expires_at,
                status=status,
                status_text=message(f"proofing.status.{status}"),
                scores=_scores(record),
                withdrawal_reason=record.withdrawal.reason if record.withdrawal else None,
            )
        )
    confidence = standing.confidence
    return Summary(
        level=confidence.level,
        level_text=message(f"proofing.level.{int(confidence.level)}"),
        profile_text=(
            message("proofing.level.profile", profile=confidence.profile)
            if confidence.profile
            else None
        ),
        rows=tuple(rows),
    )


async def _recorder(runtime: Runtime, record: EvidenceRecord, names: dict[str, str]) -> str:
    by = record.recorded_by
    if by.organisation_id is None:
        return message("proofing.recorder.provider")
    if by.organisation_id not in names:
        try:
            names[by.organisation_id] = (await runtime.organisations.get(by.organisation_id)).name
        except OrganisationNotFoundError:
            names[by.organisation_id] = message("proofing.recorder.unknown_organisation")
    organisation = names[by.organisation_id]
    if by.kind is RecorderKind.OFFICER:
        return message("proofing.recorder.officer", organisation=organisation)
    if by.name == COUNCIL_CHECK_SOURCE:
        return message("proofing.recorder.council", organisation=organisation)
    return message("proofing.recorder.provider")


def _scores(record: EvidenceRecord) -> str:
    scores = record.scores
    pieces = " ".join(str(piece) for piece in scores.evidence) or "none"
    return (
        f"evidence {pieces} · activity {scores.activity} · fraud {scores.fraud} · "
        f"verification {scores.verification}"
    )
