"""The GPG 45 calculator against every profile in the shipped table."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import permutations
from pathlib import Path

import pytest

from trust_levels.errors import InvalidScoreError, ProfileTableError, TrustLevelError
from trust_levels.gpg45 import (
    EvidenceScore,
    Profile,
    Scores,
    confidence,
    load_profiles,
    met_profiles,
)
from trust_levels.models import IdentityConfidence

PROFILES = load_profiles()
BY_NAME = {p.name: p for p in PROFILES}


def exactly(profile: Profile) -> Scores:
    return Scores(profile.evidence, profile.activity, profile.fraud, profile.verification)


def pieces(text: str) -> tuple[EvidenceScore, ...]:
    return tuple(EvidenceScore(int(s), int(v)) for s, v in (p.split(":") for p in text.split()))


def lowered_by_one(profile: Profile) -> list[tuple[str, Scores]]:
    """Scores exactly meeting ``profile`` except one score one lower. A piece whose strength
    or validity would fall to 0 cannot be recorded at all, so it is left out."""
    base = exactly(profile)
    cases = []
    for index, piece in enumerate(profile.evidence):
        for field in ("strength", "validity"):
            value = getattr(piece, field) - 1
            evidence = list(profile.evidence)
            if value:
                evidence[index] = replace(piece, **{field: value})
            else:
                del evidence[index]
            cases.append((f"evidence[{index}].{field}", replace(base, evidence=tuple(evidence))))
    for field in ("activity", "fraud", "verification"):
        if getattr(base, field):
            cases.append((field, replace(base, **{field: getattr(base, field) - 1})))
    return cases


LOWERED = [(p, what, scores) for p in PROFILES for what, scores in lowered_by_one(p)]


def test_the_shipped_table_holds_every_profile() -> None:
    assert len(PROFILES) == 32
    assert [p.name for p in PROFILES][:3] == ["L1A", "L1B", "L1C"]
    assert BY_NAME["H2B"].evidence == pieces("4:2 3:2")
    assert BY_NAME["V1A"].level is IdentityConfidence.HIGH and BY_NAME["V1A"].very_high


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_scores_exactly_meeting_a_profile_meet_it(profile: Profile) -> None:
    assert profile in met_profiles(exactly(profile), PROFILES)
    assert confidence(exactly(profile), PROFILES).level >= profile.level


@pytest.mark.parametrize(
    ("profile", "what", "scores"), LOWERED, ids=[f"{p.name}-{w}" for p, w, _ in LOWERED]
)
def test_any_score_one_lower_misses_the_profile(
    profile: Profile, what: str, scores: Scores
) -> None:
    assert profile not in met_profiles(scores, PROFILES)


# Evidence that meets a profile only when the pieces are assigned in another order.
# `first_fit` is the naive greedy: each required piece, in listed order, takes the first
# unused recorded piece that covers it.
ORDER_CASES = [
    # Incomparable requirements 4:2 and 3:3. First fit gives 4:3 to 4:2, and 4:2 cannot
    # cover 3:3; the matching gives 4:2 -> 4:2 and 3:3 -> 4:3.
    ("4:2 3:3", "4:3 4:2"),
    # The mirror case, which also defeats sorting the requirements by validity first:
    # 2:4 takes 3:4, and 2:4 cannot cover 3:3; the matching gives 2:4 -> 2:4, 3:3 -> 3:4.
    ("2:4 3:3", "3:4 2:4"),
    # Three pieces: 4:1 takes 4:4 first, then 3:3 takes 4:3 and 1:4 is left with 4:1.
    ("4:1 3:3 1:4", "4:4 4:3 4:1"),
    # GPG 45 V3A listed weakest first: 2:2 takes 3:3, and 3:3 finds only 2:2 pieces.
    ("2:2 2:2 3:3", "3:3 2:2 2:2"),
]


def first_fit(required: tuple[EvidenceScore, ...], recorded: tuple[EvidenceScore, ...]) -> bool:
    free = list(recorded)
    for need in required:
        taken = next((p for p in free if p.covers(need)), None)
        if taken is None:
            return False
        free.remove(taken)
    return True


@pytest.mark.parametrize(("required", "recorded"), ORDER_CASES)
def test_evidence_is_matched_not_taken_first_fit(required: str, recorded: str) -> None:
    profile = Profile("X", IdentityConfidence.MEDIUM, pieces(required), 0, 0, 0)
    scores = Scores(pieces(recorded), 0, 0, 0)
    assert not first_fit(profile.evidence, scores.evidence)
    assert met_profiles(scores, [profile]) == (profile,)


@pytest.mark.parametrize(
    ("name", "recorded"),
    [("H2C", "2:2 3:3"), ("V3A", "2:2 2:2 3:3"), ("H2B", "3:2 4:2"), ("V2C", "2:2 4:3")],
)
def test_real_profiles_met_whatever_order_the_evidence_was_recorded(
    name: str, recorded: str
) -> None:
    profile = BY_NAME[name]
    scores = Scores(pieces(recorded), profile.activity, profile.fraud, profile.verification)
    assert profile in met_profiles(scores, PROFILES)


def test_matching_agrees_with_trying_every_assignment() -> None:
    chance = random.Random(45)
    for _ in range(300):
        recorded = tuple(
            EvidenceScore(chance.randint(1, 4), chance.randint(1, 4))
            for _ in range(chance.randint(0, 4))
        )
        scores = Scores(recorded, 4, 4, 4)
        expected = tuple(
            p
            for p in PROFILES
            if any(
                all(have.covers(need) for need, have in zip(p.evidence, chosen, strict=True))
                for chosen in permutations(recorded, len(p.evidence))
            )
        )
        assert met_profiles(scores, PROFILES) == expected


def test_one_piece_cannot_meet_two_requirements() -> None:
    m2b = BY_NAME["M2B"]  # 3:2 and 2:2
    scores = Scores(pieces("4:4"), m2b.activity, m2b.fraud, m2b.verification)
    assert m2b not in met_profiles(scores, PROFILES)


@pytest.mark.parametrize(
    ("evidence", "activity", "fraud", "verification", "level", "best"),
    [
        ("", 4, 4, 4, IdentityConfidence.NONE, None),
        ("1:1", 0, 0, 0, IdentityConfidence.NONE, None),
        ("2:2", 0, 1, 1, IdentityConfidence.LOW, "L1A"),
        ("4:2", 0, 1, 2, IdentityConfidence.MEDIUM, "M1A"),
        ("4:3", 0, 1, 3, IdentityConfidence.HIGH, "H1A"),
        ("4:3", 0, 3, 3, IdentityConfidence.HIGH, "V1A"),
        ("3:3 2:2 2:2", 3, 3, 3, IdentityConfidence.HIGH, "V3A"),
    ],
)
def test_confidence_is_the_highest_level_met(
    evidence: str,
    activity: int,
    fraud: int,
    verification: int,
    level: IdentityConfidence,
    best: str | None,
) -> None:
    result = confidence(Scores(pieces(evidence), activity, fraud, verification), PROFILES)
    assert result.level is level
    assert (result.profile.name if result.profile else None) == best


@pytest.mark.parametrize(("strength", "validity"), [(0, 1), (5, 1), (1, 0), (1, 5), (-1, 2)])
def test_evidence_out_of_range_is_refused(strength: int, validity: int) -> None:
    with pytest.raises(InvalidScoreError, match="outside GPG 45's range 1 to 4"):
        EvidenceScore(strength, validity)


@pytest.mark.parametrize(
    ("activity", "fraud", "verification"), [(-1, 0, 0), (5, 0, 0), (0, 5, 0), (0, 0, -1)]
)
def test_checks_out_of_range_are_refused(activity: int, fraud: int, verification: int) -> None:
    with pytest.raises(InvalidScoreError, match="range 0 to 4"):
        Scores((), activity, fraud, verification)


@pytest.mark.parametrize(
    "row",
    ["L1A,X,2:2,0,1,1", "L1A,L,2:9,0,1,1", "L1A,L,2,0,1,1", "L1A,L,2:2,0,1", "L1A,L,2:2,a,1,1"],
)
def test_malformed_profile_tables_are_refused(tmp_path: Path, row: str) -> None:
    table = tmp_path / "profiles.csv"
    table.write_text(f"# comment\nprofile,level,evidence,activity,fraud,verification\n{row}\n")
    with pytest.raises(ProfileTableError, match="malformed"):
        load_profiles(table)


def test_an_empty_profile_table_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "profiles.csv"
    table.write_text("profile,level,evidence,activity,fraud,verification\n")
    with pytest.raises(TrustLevelError, match="no profiles"):
        load_profiles(table)
