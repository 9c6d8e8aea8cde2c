"""The GPG 45 identity-profile calculator ("How to prove and verify someone's identity").

GPG 45 scores the five parts of an identity check — each piece of evidence (strength and
validity, "Get evidence" and "Check the evidence is genuine or valid"), the activity history,
the identity fraud check and the verification ("Check the claimed identity belongs to the
person") — and names the combinations of scores, the *identity profiles* ("Identity profiles"
and "Scores needed for each profile"), that reach low, medium, high or very high confidence.

The profiles ship with the package (``gpg45_profiles.csv``, a verbatim copy of the shared
reference table). A profile is met when every required piece of evidence is matched by a
*distinct* recorded piece at least as strong and as valid, and the activity, fraud and
verification scores are each at least the profile's.

Very high confidence (profiles ``V…``) counts as high (``P3``): the vector of trust has no
level above ``P3`` (GOV.UK One Login reserves ``P4`` and does not issue it), and every very high
profile is at least as demanding as a high one, so a person meeting it is at least at high.
``Profile.very_high`` keeps the distinction for whoever needs it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from trust_levels.errors import InvalidScoreError, ProfileTableError
from trust_levels.models import IdentityConfidence

EVIDENCE_RANGE = range(1, 5)  # GPG 45 "Get evidence" / "Check the evidence": scores 1 to 4
CHECK_RANGE = range(5)  # activity history, identity fraud and verification: 0 to 4

_LEVELS = {
    "L": (IdentityConfidence.LOW, False),
    "M": (IdentityConfidence.MEDIUM, False),
    "H": (IdentityConfidence.HIGH, False),
    "V": (IdentityConfidence.HIGH, True),
}


def _check(name: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise InvalidScoreError(
            f"{name} score {value!r} is outside GPG 45's range {allowed.start} to "
            f"{allowed.stop - 1}"
        )


@dataclass(frozen=True, slots=True)
class EvidenceScore:
    """One piece of evidence: its strength and validity, each 1 to 4 (GPG 45)."""

    strength: int
    validity: int

    def __post_init__(self) -> None:
        _check("evidence strength", self.strength, EVIDENCE_RANGE)
        _check("evidence validity", self.validity, EVIDENCE_RANGE)

    def covers(self, required: EvidenceScore) -> bool:
        return self.strength >= required.strength and self.validity >= required.validity

    def __str__(self) -> str:
        return f"{self.strength}:{self.validity}"


@dataclass(frozen=True, slots=True)
class Scores:
    """What an identity check achieved: the evidence pieces and the three check scores."""

    evidence: tuple[EvidenceScore, ...]
    activity: int
    fraud: int
    verification: int

    def __post_init__(self) -> None:
        _check("activity history", self.activity, CHECK_RANGE)
        _check("identity fraud", self.fraud, CHECK_RANGE)
        _check("verification", self.verification, CHECK_RANGE)


@dataclass(frozen=True, slots=True)
class Profile:
    """A GPG 45 identity profile: the least scores that reach its level."""

    name: str
    level: IdentityConfidence
    evidence: tuple[EvidenceScore, ...]
    activity: int
    fraud: int
    verification: int
    very_high: bool = False

    def met_by(self, scores: Scores) -> bool:
        return (
            scores.activity >= self.activity
            and scores.fraud >= self.fraud
            and scores.verification >= self.verification
            and _assignable(self.evidence, scores.evidence)
        )


@dataclass(frozen=True, slots=True)
class Confidence:
    """The level reached and the best profile that reached it (``None`` at ``P0``)."""

    level: IdentityConfidence
    profile: Profile | None


def _assignable(required: tuple[EvidenceScore, ...], recorded: tuple[EvidenceScore, ...]) -> bool:
    """Whether each required piece gets its own recorded piece that covers it: a maximum
    bipartite matching (Kuhn's augmenting paths). First-fit is not enough: the scores are
    only partially ordered (4:2 and 3:3 are incomparable), so an early choice can take the
    one piece a later requirement needed."""
    owner: dict[int, int] = {}  # recorded index -> required index

    def place(need: int, seen: set[int]) -> bool:
        for have, piece in enumerate(recorded):
            if have in seen or not piece.covers(required[need]):
                continue
            seen.add(have)
            if have not in owner or place(owner[have], seen):
                owner[have] = need
                return True
        return False

    return all(place(need, set()) for need in range(len(required)))


def _profile(row: dict[str, str]) -> Profile:
    try:
        level, very_high = _LEVELS[row["level"]]
        evidence = tuple(
            EvidenceScore(*(int(n) for n in piece.split(":", 1)))
            for piece in row["evidence"].split()
        )
        return Profile(
            row["profile"],
            level,
            evidence,
            int(row["activity"]),
            int(row["fraud"]),
            int(row["verification"]),
            very_high,
        )
    except (KeyError, TypeError, ValueError, InvalidScoreError) as error:
        raise ProfileTableError(f"GPG 45 profile row {row!r} is malformed: {error}") from error


def load_profiles(path: Path | None = None) -> tuple[Profile, ...]:
    """The profiles in ``path``, by default the table shipped with this package. Lines
    starting with ``#`` are comments."""
    if path is None:
        text = resources.files("trust_levels").joinpath("gpg45_profiles.csv").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    profiles = tuple(_profile(row) for row in csv.DictReader(rows))
    if not profiles:
        raise ProfileTableError("the GPG 45 profile table holds no profiles")
    return profiles


def met_profiles(scores: Scores, profiles: Iterable[Profile]) -> tuple[Profile, ...]:
    """Every profile the scores meet, in table order."""
    return tuple(p for p in profiles if p.met_by(scores))


def confidence(scores: Scores, profiles: Iterable[Profile]) -> Confidence:
    """The highest confidence the scores reach (very high before high, then table order)."""
    met = met_profiles(scores, profiles)
    if not met:
        return Confidence(IdentityConfidence.NONE, None)
    best = max(met, key=lambda p: (p.level, p.very_high))
    return Confidence(best.level, best)
