"""Identity evidence on the real store: recording, combining into GPG 45 profiles, expiry,
withdrawal, the council check, the provider's signed results, and the evidence log."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from gateway.evidence.services import EvidenceLog
from gateway.organisations.models import OrganisationKind
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.support.clock import MovableClock
from tests.support.evidence import recorded
from tests.trust_levels.proofing.support import (
    PASSPORT,
    ResidentRecord,
    new_council,
    new_officer,
    new_person,
    new_resident_record,
)
from trust_levels.errors import InvalidScoreError
from trust_levels.gpg45 import EvidenceScore, Scores
from trust_levels.models import IdentityConfidence
from trust_levels.proofing.errors import (
    CouncilCheckFailedError,
    CouncilCheckLimitError,
    CouncilNotFoundError,
    CouncilRecordClaimedError,
    EvidenceWithdrawnError,
    InvalidEvidenceError,
    NotAnOfficerError,
    OwnEvidenceError,
    ProviderResultError,
)
from trust_levels.proofing.models import (
    CouncilFacts,
    EvidenceInput,
    EvidenceKind,
    Method,
    PieceInput,
    Recorder,
)
from trust_levels.proofing.services import (
    COUNCIL_CHECK_SCORES,
    COUNCIL_CHECK_TRIES,
    IdentityEvidence,
    ProviderProving,
)
from trust_levels.proofing.sources import LocalIdentityProvider
from trust_levels.proofing.store import DevProviderKeyStore, EvidenceStore

OFFICER = Recorder.officer("acc_officer", "org_council")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def evidence(runtime: Runtime, clock: MovableClock) -> IdentityEvidence:
    """The service on the real store, with a clock the test moves."""
    return IdentityEvidence(EvidenceStore(runtime.redis), clock, runtime.evidence)


def passport(strength: int = 3, validity: int = 2) -> Scores:
    return Scores((EvidenceScore(strength, validity),), activity=0, fraud=1, verification=2)


async def test_no_evidence_is_p0_without_a_profile(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    person = await new_person(runtime)
    confidence = await evidence.confidence(person.id)
    assert confidence.level is IdentityConfidence.NONE and confidence.profile is None


async def test_records_from_two_checks_combine_to_reach_a_medium_profile(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    """A passport seen in person (L1A alone) and a council record check together meet M2B:
    pieces from both records, and the best activity, fraud and verification of either."""
    person = await new_person(runtime)
    await evidence.record(person.id, EvidenceKind.PASSPORT, Method.IN_PERSON, passport(), OFFICER)
    first = await evidence.confidence(person.id)
    assert (first.level, first.profile) == (IdentityConfidence.LOW, "L1A")

    council = Recorder.source("council-records-check", "org_council")
    await evidence.record(
        person.id,
        EvidenceKind.COUNCIL_RECORD,
        Method.KNOWLEDGE_CHECK,
        COUNCIL_CHECK_SCORES,
        council,
    )
    both = await evidence.confidence(person.id)
    assert (both.level, both.profile) == (IdentityConfidence.MEDIUM, "M2B")


async def test_every_record_is_in_the_evidence_log_naming_recorder_and_person(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    person = await new_person(runtime)
    record = await evidence.record(
        person.id, EvidenceKind.PASSPORT, Method.IN_PERSON, passport(), OFFICER
    )
    await evidence.withdraw(person.id, record.id, OFFICER, "Wrong person's passport")
    log: EvidenceLog = runtime.evidence
    [entry] = await recorded(log, "identity-evidence.recorded", person.id)
    assert entry["actor"] == "officer:acc_officer@org_council"
    assert entry["details"]["record"] == record.id
    assert entry["details"]["scores"]["evidence"] == [{"strength": 3, "validity": 2}]
    [withdrawn] = await recorded(log, "identity-evidence.withdrawn", person.id)
    assert withdrawn["actor"] == "officer:acc_officer@org_council"
    assert withdrawn["details"]["reason"] == "Wrong person's passport"
    assert (await log.verify()).ok


async def test_an_expired_record_stops_counting_but_stays_listed(
    runtime: Runtime, evidence: IdentityEvidence, clock: MovableClock
) -> None:
    person = await new_person(runtime)
    expiry = clock.now() + timedelta(days=30)
    await evidence.record(
        person.id,
        EvidenceKind.PASSPORT,
        Method.IN_PERSON,
        passport(),
        OFFICER,
        expires_at=expiry,
    )
    assert (await evidence.confidence(person.id)).level is IdentityConfidence.LOW
    clock.advance(days=30)
    standing = await evidence.standing(person.id)
    assert standing.confidence.level is IdentityConfidence.NONE
    [record] = standing.records
    assert record.status(clock.now()) == "expired"


async def test_a_record_lasts_no_longer_than_its_methods_lifetime(
    runtime: Runtime, evidence: IdentityEvidence, clock: MovableClock
) -> None:
    """A document valid for ten more years still needs a fresh check within three."""
    person = await new_person(runtime)
    record = await evidence.record(
        person.id,
        EvidenceKind.PASSPORT,
        Method.IN_PERSON,
        passport(),
        OFFICER,
        expires_at=clock.now() + timedelta(days=3650),
    )
    assert record.expires_at == clock.now() + timedelta(days=3 * 365)


async def test_an_expired_document_cannot_be_recorded(
    runtime: Runtime, evidence: IdentityEvidence, clock: MovableClock
) -> None:
    person = await new_person(runtime)
    with pytest.raises(InvalidEvidenceError):
        await evidence.record(
            person.id,
            EvidenceKind.PASSPORT,
            Method.IN_PERSON,
            passport(),
            OFFICER,
            expires_at=clock.now() - timedelta(days=1),
        )


async def test_a_withdrawn_record_stops_counting_and_cannot_be_withdrawn_twice(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    person = await new_person(runtime)
    record = await evidence.record(
        person.id, EvidenceKind.PASSPORT, Method.IN_PERSON, passport(), OFFICER
    )
    withdrawn = await evidence.withdraw(person.id, record.id, OFFICER, "Recorded by mistake")
    assert withdrawn.withdrawal is not None
    standing = await evidence.standing(person.id)
    assert standing.confidence.level is IdentityConfidence.NONE
    [kept] = standing.records
    assert kept.withdrawal is not None and kept.withdrawal.reason == "Recorded by mistake"
    with pytest.raises(EvidenceWithdrawnError):
        await evidence.withdraw(person.id, record.id, OFFICER, "Again")


async def test_withdrawal_needs_a_reason_of_bounded_length(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    person = await new_person(runtime)
    record = await evidence.record(
        person.id, EvidenceKind.PASSPORT, Method.IN_PERSON, passport(), OFFICER
    )
    for reason in ("  ", "x" * 501):
        with pytest.raises(InvalidEvidenceError):
            await evidence.withdraw(person.id, record.id, OFFICER, reason)


async def test_the_same_kind_of_evidence_counts_once(
    runtime: Runtime, evidence: IdentityEvidence
) -> None:
    """Two checks of one passport are one piece of evidence: H2A's two 2:2 pieces cannot be
    met by recording the same document twice."""
    person = await new_person(runtime)
    strong = Scores((EvidenceScore(2, 2),), activity=3, fraud=2, verification=3)
    for _ in range(2):
        await evidence.record(person.id, EvidenceKind.PASSPORT, Method.IN_PERSON, strong, OFFICER)
    confidence = await evidence.confidence(person.id)
    assert confidence.profile != "H2A" and confidence.level < IdentityConfidence.HIGH


# --- Officers ------------------------------------------------------------------------------


async def test_an_officer_records_in_person_evidence_for_someone_else(runtime: Runtime) -> None:
    officer = await new_officer(runtime)
    person = await new_person(runtime)
    record = await runtime.proofing.officers.record_in_person(officer, person.id, PASSPORT)
    assert record.recorded_by == officer.recorder
    assert record.method is Method.IN_PERSON
    level = (await runtime.proofing.evidence.confidence(person.id)).level
    assert level is IdentityConfidence.LOW


async def test_an_officer_cannot_record_their_own_evidence(runtime: Runtime) -> None:
    officer = await new_officer(runtime)
    with pytest.raises(OwnEvidenceError):
        await runtime.proofing.officers.record_in_person(officer, officer.account_id, PASSPORT)


async def test_an_officer_records_only_documents(runtime: Runtime) -> None:
    officer = await new_officer(runtime)
    person = await new_person(runtime)
    remote = PASSPORT.model_copy(update={"kind": EvidenceKind.PROVIDER_CHECK})
    with pytest.raises(InvalidEvidenceError):
        await runtime.proofing.officers.record_in_person(officer, person.id, remote)


async def test_scores_outside_gpg45_ranges_are_refused(runtime: Runtime) -> None:
    officer = await new_officer(runtime)
    person = await new_person(runtime)
    for bad in (
        EvidenceInput(kind=EvidenceKind.PASSPORT, evidence=[PieceInput(strength=5, validity=2)]),
        EvidenceInput(kind=EvidenceKind.PASSPORT, evidence=[PieceInput(strength=0, validity=1)]),
        PASSPORT.model_copy(update={"verification": 5}),
        PASSPORT.model_copy(update={"fraud": -1}),
    ):
        with pytest.raises(InvalidScoreError):
            await runtime.proofing.officers.record_in_person(officer, person.id, bad)
    assert await runtime.proofing.evidence.records(person.id) == []


async def test_removing_an_officer_ends_their_powers(runtime: Runtime) -> None:
    officer = await new_officer(runtime)
    await runtime.proofing.officers.remove(officer.account_id, TEST_ACTOR)
    with pytest.raises(NotAnOfficerError):
        await runtime.proofing.officers.officer(officer.account_id)
    [entry] = await recorded(runtime.evidence, "identity-officer.removed", officer.account_id)
    assert entry["details"]["organisation_id"] == officer.organisation_id


# --- The council check ---------------------------------------------------------------------


def facts(record: ResidentRecord, **changes: Any) -> CouncilFacts:
    """The facts a person types, from the council's record with ``changes``."""
    typed = replace(record, **changes)
    return CouncilFacts.build(
        typed.council_id, typed.account_number, typed.postcode, typed.date_of_birth
    )


async def test_matching_council_facts_record_modest_evidence(runtime: Runtime) -> None:
    council = await new_council(runtime)
    resident = await new_resident_record(runtime, council)
    person = await new_person(runtime)
    typed = facts(resident, postcode="ab12cd", account_number=f" {resident.account_number} ")
    record = await runtime.proofing.council_check.check(person.id, typed)
    assert record.scores == COUNCIL_CHECK_SCORES
    assert record.recorded_by == Recorder.source("council-records-check", council)
    [entry] = await recorded(runtime.evidence, "identity-evidence.recorded", person.id)
    assert entry["actor"] == f"source:council-records-check@{council}"


async def test_a_miss_never_says_which_fact_was_wrong_and_counts_down(runtime: Runtime) -> None:
    council = await new_council(runtime)
    resident = await new_resident_record(runtime, council)
    person = await new_person(runtime)
    check = runtime.proofing.council_check
    wrong_postcode = facts(resident, postcode="ZZ9 9ZZ")
    wrong_birthday = facts(resident, date_of_birth=date(1981, 5, 17))
    with pytest.raises(CouncilCheckFailedError) as first:
        await check.check(person.id, wrong_postcode)
    with pytest.raises(CouncilCheckFailedError) as second:
        await check.check(person.id, wrong_birthday)
    assert first.value.detail == second.value.detail
    assert (first.value.attempts_left, second.value.attempts_left) == (2, 1)


async def test_the_council_check_stops_after_the_days_attempts(runtime: Runtime) -> None:
    council = await new_council(runtime)
    resident = await new_resident_record(runtime, council)
    person = await new_person(runtime)
    check = runtime.proofing.council_check
    for _ in range(COUNCIL_CHECK_TRIES):
        with pytest.raises(CouncilCheckFailedError):
            await check.check(person.id, facts(resident, postcode="ZZ9 9ZZ"))
    with pytest.raises(CouncilCheckLimitError):
        await check.check(person.id, facts(resident))  # even the right facts, now
    assert await check.tries_left(person.id) == 0
    assert await runtime.proofing.evidence.records(person.id) == []


async def test_a_council_record_proves_one_account_only(runtime: Runtime) -> None:
    council = await new_council(runtime)
    resident = await new_resident_record(runtime, council)
    first, second = await new_person(runtime), await new_person(runtime)
    await runtime.proofing.council_check.check(first.id, facts(resident))
    with pytest.raises(CouncilRecordClaimedError):
        await runtime.proofing.council_check.check(second.id, facts(resident))
    assert await runtime.proofing.evidence.records(second.id) == []


async def test_only_a_council_offers_the_check(runtime: Runtime) -> None:
    department = await new_council(runtime, OrganisationKind.DEPARTMENT)
    person = await new_person(runtime)
    attempt = CouncilFacts.build(department, "1234567890", "AB1 2CD", date(1980, 5, 17))
    with pytest.raises(CouncilNotFoundError):
        await runtime.proofing.council_check.check(person.id, attempt)
    with pytest.raises(CouncilNotFoundError):
        await runtime.proofing.council_check.check(
            person.id, CouncilFacts.build("org_nonsense", "1234567890", "AB1 2CD", date.today())
        )


# --- The identity provider -----------------------------------------------------------------


@pytest.fixture
def provider(runtime: Runtime, clock: MovableClock) -> LocalIdentityProvider:
    return LocalIdentityProvider(
        DevProviderKeyStore(runtime.redis),
        clock,
        issuer=runtime.settings.issuer,
        page_path="/dev/identity-provider",
    )


@pytest.fixture
def proving(
    runtime: Runtime, provider: LocalIdentityProvider, evidence: IdentityEvidence
) -> ProviderProving:
    return ProviderProving(provider, EvidenceStore(runtime.redis), evidence)


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def transaction_of(url: str) -> str:
    return url.split("transaction=", 1)[1]


async def test_a_signed_provider_result_records_its_scores(
    runtime: Runtime, provider: LocalIdentityProvider, proving: ProviderProving
) -> None:
    person = await new_person(runtime)
    url = await proving.start(person.id)
    assert url.startswith("/dev/identity-provider?transaction=")
    result = await provider.sign(transaction_of(url), "medium")
    record = await proving.complete(person.id, result)
    assert record is not None and record.method is Method.PROVIDER
    assert record.recorded_by == Recorder.source(provider.name)
    confidence = await runtime.proofing.evidence.confidence(person.id)
    assert (confidence.level, confidence.profile) == (IdentityConfidence.MEDIUM, "M1B")


async def test_a_provider_result_is_used_once(
    runtime: Runtime, provider: LocalIdentityProvider, proving: ProviderProving
) -> None:
    person = await new_person(runtime)
    result = await provider.sign(transaction_of(await proving.start(person.id)), "low")
    await proving.complete(person.id, result)
    with pytest.raises(ProviderResultError):
        await proving.complete(person.id, result)


async def test_another_accounts_provider_result_is_refused(
    runtime: Runtime, provider: LocalIdentityProvider, proving: ProviderProving
) -> None:
    owner, thief = await new_person(runtime), await new_person(runtime)
    result = await provider.sign(transaction_of(await proving.start(owner.id)), "high")
    with pytest.raises(ProviderResultError):
        await proving.complete(thief.id, result)
    assert await proving.complete(owner.id, result) is not None


async def test_a_forged_or_tampered_provider_result_is_refused(
    runtime: Runtime, provider: LocalIdentityProvider, proving: ProviderProving
) -> None:
    from joserfc import jwt
    from joserfc.jwk import ECKey
    from joserfc.jws import JWSRegistry

    person = await new_person(runtime)
    transaction = transaction_of(await proving.start(person.id))
    genuine = await provider.sign(transaction, "low")
    header, _, signature = genuine.split(".")
    high = (await provider.sign(transaction, "high")).split(".")[1]
    forged_key = ECKey.generate_key("P-256")
    claims = {"iss": provider.name, "aud": runtime.settings.issuer, "txn": transaction,
              "exp": 4_102_444_800, "ref": "x", "scores": None}  # fmt: skip
    for forged in (
        f"{header}.{high}.{signature}",  # the scores of another result under this signature
        jwt.encode({"alg": "ES256"}, claims, forged_key, registry=JWSRegistry()),
        f"{_b64({'alg': 'none'})}.{_b64(claims)}.",  # unsigned (RFC 7519 §6)
        "not-a-jwt",
        "",
        "a" * 10_000,
    ):
        with pytest.raises(ProviderResultError):
            await proving.complete(person.id, forged)
    assert await proving.complete(person.id, genuine) is not None


async def test_a_late_provider_result_is_refused(
    runtime: Runtime,
    provider: LocalIdentityProvider,
    proving: ProviderProving,
    clock: MovableClock,
) -> None:
    person = await new_person(runtime)
    result = await provider.sign(transaction_of(await proving.start(person.id)), "low")
    clock.advance(minutes=6)
    with pytest.raises(ProviderResultError):
        await proving.complete(person.id, result)


async def test_a_provider_that_could_not_verify_records_nothing(
    runtime: Runtime, provider: LocalIdentityProvider, proving: ProviderProving
) -> None:
    person = await new_person(runtime)
    result = await provider.sign(transaction_of(await proving.start(person.id)), "failed")
    assert await proving.complete(person.id, result) is None
    assert await runtime.proofing.evidence.records(person.id) == []
