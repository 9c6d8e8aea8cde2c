"""Recorded identity evidence, identity officers, council facts and provider outcomes.

An :class:`EvidenceRecord` is one identity check as GPG 45 ("How to prove and verify someone's
identity") scores it: the pieces of evidence it saw (strength and validity, "Get evidence" and
"Check the evidence is genuine or valid"), and what it showed of the activity history, the
identity fraud check and the verification ("Check the claimed identity belongs to the person").
A check need not score every part: the person's identity confidence comes from all their live
records together (:meth:`trust_levels.proofing.services.IdentityEvidence.confidence`).

Records are never deleted: a withdrawn or expired record stops counting and stays on show, so
what was believed when stays auditable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trust_levels.gpg45 import EvidenceScore, Scores

EVIDENCE_PREFIX = "evd"
MAX_PIECES = 4  # no GPG 45 profile needs more than three pieces; one spare for a spoilt one
MAX_REASON = 500
MAX_REFERENCE = 120


class Method(StrEnum):
    """How the evidence was gathered (GPG 45 lets each part be done in person or remotely)."""

    IN_PERSON = "in_person"  # an identity officer saw the person and the document
    KNOWLEDGE_CHECK = "knowledge_check"  # facts only the person should know, against a record
    PROVIDER = "provider"  # an identity-proving provider checked the person remotely


class EvidenceKind(StrEnum):
    """What was checked. Documents are shown to an officer; the last two are remote checks."""

    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    NATIONAL_IDENTITY_CARD = "national_identity_card"
    BIOMETRIC_RESIDENCE_PERMIT = "biometric_residence_permit"
    BIRTH_CERTIFICATE = "birth_certificate"
    COUNCIL_RECORD = "council_record"
    PROVIDER_CHECK = "provider_check"

    @property
    def document(self) -> bool:
        """A physical document an officer can examine in person."""
        return self not in {EvidenceKind.COUNCIL_RECORD, EvidenceKind.PROVIDER_CHECK}


class RecorderKind(StrEnum):
    OFFICER = "officer"  # an identity officer of an organisation, signed in
    SOURCE = "source"  # an automated source: a council's records, a provider


@dataclass(frozen=True, slots=True)
class Recorder:
    """Who recorded (or withdrew) evidence: an officer's account and organisation, or the name
    of a source and the organisation whose data it used."""

    kind: RecorderKind
    name: str  # the officer's account id, or the source's name
    organisation_id: str | None = None

    @classmethod
    def officer(cls, account_id: str, organisation_id: str) -> Recorder:
        return cls(RecorderKind.OFFICER, account_id, organisation_id)

    @classmethod
    def source(cls, name: str, organisation_id: str | None = None) -> Recorder:
        return cls(RecorderKind.SOURCE, name, organisation_id)

    def __str__(self) -> str:
        """The actor written to the evidence log: ``officer:acc_…@org_…``."""
        where = f"@{self.organisation_id}" if self.organisation_id else ""
        return f"{self.kind.value}:{self.name}{where}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "organisation_id": self.organisation_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recorder:
        return cls(RecorderKind(data["kind"]), data["name"], data.get("organisation_id"))


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An officer's withdrawal of a mistaken record: who, when and why."""

    by: Recorder
    at: datetime
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by.to_json(), "at": self.at.isoformat(), "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Withdrawal:
        return cls(
            Recorder.from_json(data["by"]), datetime.fromisoformat(data["at"]), data["reason"]
        )


def scores_to_json(scores: Scores) -> dict[str, Any]:
    return {
        "evidence": [{"strength": e.strength, "validity": e.validity} for e in scores.evidence],
        "activity": scores.activity,
        "fraud": scores.fraud,
        "verification": scores.verification,
    }


def scores_from_json(data: dict[str, Any]) -> Scores:
    """The scores of a JSON document; out-of-range values raise ``InvalidScoreError``."""
    return Scores(
        tuple(EvidenceScore(int(e["strength"]), int(e["validity"])) for e in data["evidence"]),
        int(data["activity"]),
        int(data["fraud"]),
        int(data["verification"]),
    )


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One identity check of one person, as GPG 45 scores it."""

    id: str
    account_id: str
    kind: EvidenceKind
    method: Method
    scores: Scores
    recorded_by: Recorder
    recorded_at: datetime
    expires_at: datetime
    reference: str | None = None  # the source's own reference (a provider's check id…)
    withdrawal: Withdrawal | None = None

    def live(self, now: datetime) -> bool:
        """Whether the record counts now: not withdrawn and not expired."""
        return self.withdrawal is None and now < self.expires_at

    def status(self, now: datetime) -> str:
        if self.withdrawal is not None:
            return "withdrawn"
        return "live" if now < self.expires_at else "expired"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "kind": self.kind.value,
            "method": self.method.value,
            "scores": scores_to_json(self.scores),
            "recorded_by": self.recorded_by.to_json(),
            "recorded_at": self.recorded_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "reference": self.reference,
            "withdrawal": self.withdrawal.to_json() if self.withdrawal else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvidenceRecord:
        withdrawal = data.get("withdrawal")
        return cls(
            id=data["id"],
            account_id=data["account_id"],
            kind=EvidenceKind(data["kind"]),
            method=Method(data["method"]),
            scores=scores_from_json(data["scores"]),
            recorded_by=Recorder.from_json(data["recorded_by"]),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            reference=data.get("reference"),
            withdrawal=Withdrawal.from_json(withdrawal) if withdrawal else None,
        )


@dataclass(frozen=True, slots=True)
class Officer:
    """An account an administrator made an identity officer of one organisation."""

    account_id: str
    organisation_id: str
    added_at: datetime
    added_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "organisation_id": self.organisation_id,
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Officer:
        return cls(
            data["account_id"],
            data["organisation_id"],
            datetime.fromisoformat(data["added_at"]),
            data["added_by"],
        )

    @property
    def recorder(self) -> Recorder:
        return Recorder.officer(self.account_id, self.organisation_id)


# --- Input ---------------------------------------------------------------------------------


class PieceInput(BaseModel):
    """One piece of evidence as a caller sends it; ranges are GPG 45's, checked by ``gpg45``
    (so the API and the pages refuse the same things with the same words)."""

    model_config = ConfigDict(extra="forbid")

    strength: int
    validity: int


class EvidenceInput(BaseModel):
    """What an officer records after seeing a person and a document in person."""

    model_config = ConfigDict(extra="forbid")

    kind: EvidenceKind
    evidence: list[PieceInput] = Field(min_length=1, max_length=MAX_PIECES)
    activity: int = 0
    fraud: int = 0
    verification: int = 0
    expires_on: date | None = Field(
        default=None, description="The document's expiry date; the record expires no later."
    )

    def scores(self) -> Scores:
        """The GPG 45 scores; ``InvalidScoreError`` names the first one out of range."""
        return Scores(
            tuple(EvidenceScore(p.strength, p.validity) for p in self.evidence),
            self.activity,
            self.fraud,
            self.verification,
        )


# --- Council records -----------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
# The shape of a UK postcode once spaces are removed (BS 7666): outward code, inward code.
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
_ACCOUNT_NUMBER = re.compile(r"[A-Z0-9]{4,20}")


def normalise_postcode(value: str) -> str:
    """``sw1a 1aa`` → ``SW1A1AA``: case and spaces as people type them do not count."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", value).upper())


def normalise_account_number(value: str) -> str:
    """A council tax account number without the spaces and hyphens printed on bills."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", value).upper())


@dataclass(frozen=True, slots=True)
class CouncilFacts:
    """What a person tells us to be matched against a council's record of them."""

    council_id: str
    account_number: str
    postcode: str
    date_of_birth: date

    @classmethod
    def build(
        cls, council_id: str, account_number: str, postcode: str, date_of_birth: date
    ) -> CouncilFacts:
        return cls(
            council_id,
            normalise_account_number(account_number),
            normalise_postcode(postcode),
            date_of_birth,
        )

    @property
    def well_formed(self) -> bool:
        """Whether the facts could be on a record at all (junk never reaches the store)."""
        return bool(
            _ACCOUNT_NUMBER.fullmatch(self.account_number) and _POSTCODE.fullmatch(self.postcode)
        )


@dataclass(frozen=True, slots=True)
class CouncilRecord:
    """A council's record of a council tax payer, as the local implementation keeps it."""

    account_number: str
    postcode: str
    date_of_birth: date

    def to_json(self) -> dict[str, Any]:
        return {
            "account_number": self.account_number,
            "postcode": self.postcode,
            "date_of_birth": self.date_of_birth.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CouncilRecord:
        return cls(
            data["account_number"], data["postcode"], date.fromisoformat(data["date_of_birth"])
        )


@dataclass(frozen=True, slots=True)
class CouncilMatch:
    """A council record the facts matched; ``reference`` names it without its contents."""

    council_id: str
    reference: str


# --- Identity providers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderOutcome:
    """What a provider's verified result says: the transaction it answers, the scores of its
    check (``None``: the person could not be verified) and the provider's own reference."""

    transaction: str
    scores: Scores | None
    reference: str
