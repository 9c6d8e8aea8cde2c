"""Identity proofing: recording GPG 45 evidence and turning it into identity confidence.

GPG 45 ("How to prove and verify someone's identity") scores each identity check; a person's
confidence is the best profile ("Identity profiles") their live evidence meets together. The
ways evidence arrives here:

- an **identity officer** of an organisation sees the person and a document in person and
  records the scores (:class:`Officers`);
- a **knowledge-based check** against the person's council's records (:class:`CouncilCheck`),
  with the modest, fixed scores of :data:`COUNCIL_CHECK_SCORES`;
- an **identity-proving provider** the person is sent to, whose signed result the gateway
  verifies (:class:`ProviderProving`).

Every record and withdrawal is written to the hash-chained evidence log, naming who recorded
it (the officer and organisation, or the source) as the actor and the person as the subject.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from gateway.accounts.errors import AccountNotFoundError
from gateway.accounts.models import Account
from gateway.accounts.services import AccountService
from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.errors import OrganisationNotFoundError
from gateway.organisations.models import Organisation, OrganisationKind
from gateway.organisations.services import OrganisationService
from trust_levels import gpg45
from trust_levels.assurance import Confidence
from trust_levels.gpg45 import EvidenceScore, Profile, Scores
from trust_levels.proofing.errors import (
    CouncilCheckFailedError,
    CouncilCheckLimitError,
    CouncilNotFoundError,
    CouncilRecordClaimedError,
    EvidenceNotFoundError,
    EvidenceWithdrawnError,
    InvalidEvidenceError,
    NotAnOfficerError,
    OfficerNotFoundError,
    OwnEvidenceError,
    PersonNotFoundError,
    ProviderResultError,
)
from trust_levels.proofing.models import (
    EVIDENCE_PREFIX,
    MAX_REASON,
    CouncilFacts,
    EvidenceInput,
    EvidenceKind,
    EvidenceRecord,
    Method,
    Officer,
    Recorder,
    Withdrawal,
    scores_to_json,
)
from trust_levels.proofing.sources import (
    CouncilRecords,
    IdentityProvider,
    LocalCouncilRecords,
    LocalIdentityProvider,
)
from trust_levels.proofing.store import (
    CouncilRecordStore,
    DevProviderKeyStore,
    EvidenceStore,
    OfficerStore,
)

# How long a check counts before the person must prove themselves again. GPG 45 leaves this
# to the service; a document seen in person or a provider's check lasts three years (a
# document's own expiry ends it sooner), a knowledge check a year, as council tax records
# change with each bill.
LIFETIMES = {
    Method.IN_PERSON: timedelta(days=3 * 365),
    Method.PROVIDER: timedelta(days=3 * 365),
    Method.KNOWLEDGE_CHECK: timedelta(days=365),
}

# A council tax record matched on three facts (account number, postcode, date of birth):
# - evidence 2:2: the council's record is evidence that holds the claimed identity's name and
#   address from an organisation that checked it (strength 2), and it was confirmed with the
#   issuing source itself (validity 2);
# - activity 1: a council tax account shows the identity active at an address over time;
# - fraud 0: no identity fraud data is consulted;
# - verification 1: knowledge of facts from the record is a low-difficulty knowledge-based
#   verification.
# Alone it meets no profile; it lifts a person whose other evidence nearly meets one (an
# officer's 3:2 passport check with fraud 1 and verification 2 reaches M2B with it).
COUNCIL_CHECK_SCORES = Scores((EvidenceScore(2, 2),), activity=1, fraud=0, verification=1)
COUNCIL_CHECK_SOURCE = "council-records-check"
COUNCIL_CHECK_TRIES = 3
COUNCIL_CHECK_WINDOW_SECONDS = 86_400
PROVIDER_TRANSACTION_SECONDS = 900
DEV_PROVIDER_PATH = "/dev/identity-provider"


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's evidence at a moment, and the confidence the live part of it reaches."""

    records: tuple[EvidenceRecord, ...]
    confidence: Confidence
    profile: Profile | None
    now: datetime


def combine(records: Iterable[EvidenceRecord]) -> Scores:
    """The scores of several checks taken together (GPG 45 scores each part once, from the
    best check of it): the three check scores are the highest any record reached, and the
    evidence pieces are those of every record.

    Each kind of evidence counts once, from its most recent record: a passport checked twice
    is one piece of evidence, not two (GPG 45 profiles ask for *distinct* pieces).
    """
    latest: dict[EvidenceKind, EvidenceRecord] = {}
    activity = fraud = verification = 0
    for record in sorted(records, key=lambda r: (r.recorded_at, r.id)):
        latest[record.kind] = record
        activity = max(activity, record.scores.activity)
        fraud = max(fraud, record.scores.fraud)
        verification = max(verification, record.scores.verification)
    pieces = tuple(piece for r in latest.values() for piece in r.scores.evidence)
    return Scores(pieces, activity, fraud, verification)


class IdentityEvidence:
    """A person's recorded evidence; a :class:`trust_levels.assurance.ConfidenceSource`."""

    def __init__(
        self,
        store: EvidenceStore,
        clock: Clock,
        log: EvidenceLog,
        profiles: tuple[Profile, ...] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._log = log
        self._profiles = profiles or gpg45.load_profiles()

    async def confidence(self, account_id: str) -> Confidence:
        """The GPG 45 level the person's live evidence reaches and the profile met."""
        return (await self.standing(account_id)).confidence

    async def standing(self, account_id: str) -> Standing:
        now = self._clock.now()
        records = tuple(await self._store.records(account_id))
        reached = gpg45.confidence(combine(r for r in records if r.live(now)), self._profiles)
        profile = reached.profile
        confidence = Confidence(reached.level, profile.name if profile else None)
        return Standing(records, confidence, profile, now)

    async def records(self, account_id: str) -> list[EvidenceRecord]:
        """Every record, live or not, oldest first."""
        return await self._store.records(account_id)

    async def record(
        self,
        account_id: str,
        kind: EvidenceKind,
        method: Method,
        scores: Scores,
        recorder: Recorder,
        *,
        expires_at: datetime | None = None,
        reference: str | None = None,
    ) -> EvidenceRecord:
        """Keep a check's scores and write it to the evidence log. The record lasts its
        method's lifetime (:data:`LIFETIMES`), or less when ``expires_at`` is sooner."""
        now = self._clock.now()
        longest = now + LIFETIMES[method]
        expiry = longest if expires_at is None else min(expires_at, longest)
        if expiry <= now:
            raise InvalidEvidenceError(
                "The document has expired; an expired document cannot be recorded as evidence."
            )
        record = EvidenceRecord(
            id=new_id(EVIDENCE_PREFIX),
            account_id=account_id,
            kind=kind,
            method=method,
            scores=scores,
            recorded_by=recorder,
            recorded_at=now,
            expires_at=expiry,
            reference=reference,
        )
        await self._store.add(record)
        details = {
            "record": record.id,
            "kind": kind.value,
            "method": method.value,
            "scores": scores_to_json(scores),
            "expires_at": expiry.isoformat(),
            "recorded_by": recorder.to_json(),
        }
        await self._log.record(
            Event(str(recorder), "identity-evidence.recorded", account_id, details)
        )
        return record

    async def withdraw(
        self, account_id: str, record_id: str, by: Recorder, reason: str
    ) -> EvidenceRecord:
        """Stop a mistaken record counting; it stays listed with who withdrew it and why."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidEvidenceError(
                f"Give the reason for withdrawing the evidence, in up to {MAX_REASON} characters."
            )
        found = next((r for r in await self._store.records(account_id) if r.id == record_id), None)
        if found is None:
            raise EvidenceNotFoundError("The person has no evidence record with that id.")
        withdrawal = Withdrawal(by, self._clock.now(), reason)
        if found.withdrawal is not None or not await self._store.withdraw(
            account_id, record_id, withdrawal
        ):
            raise EvidenceWithdrawnError("That evidence was withdrawn already.")
        details = {"record": record_id, "reason": reason, "withdrawn_by": by.to_json()}
        await self._log.record(Event(str(by), "identity-evidence.withdrawn", account_id, details))
        return replace(found, withdrawal=withdrawal)


def end_of_day(day: date) -> datetime:
    """A document valid "until 3 March 2030" is valid all that day (UK time is at most an
    hour ahead of UTC; the end of the UTC day is a safe, simple bound)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


class Officers:
    """Identity officers: designated by an administrator, one organisation each; they record
    in-person evidence and withdraw mistaken records."""

    def __init__(
        self,
        store: OfficerStore,
        evidence: IdentityEvidence,
        accounts: AccountService,
        organisations: OrganisationService,
        clock: Clock,
        log: EvidenceLog,
    ) -> None:
        self._store = store
        self._evidence = evidence
        self._accounts = accounts
        self._organisations = organisations
        self._clock = clock
        self._log = log

    async def person(self, id_or_email: str) -> Account:
        """The account with that id or email address, or :class:`PersonNotFoundError`."""
        try:
            return await self._accounts.find(id_or_email)
        except AccountNotFoundError:
            raise PersonNotFoundError("No account has that email address.") from None

    async def designate(self, id_or_email: str, organisation_id: str, actor: Actor) -> Officer:
        """Make the account an identity officer of the organisation (replacing any earlier
        designation: an officer acts for one organisation)."""
        account = await self.person(id_or_email)
        organisation = await self._organisations.get(organisation_id)
        officer = Officer(account.id, organisation.id, self._clock.now(), str(actor))
        await self._store.save(officer)
        details = {"organisation_id": organisation.id}
        await self._log.record(Event(str(actor), "identity-officer.added", account.id, details))
        return officer

    async def remove(self, id_or_email: str, actor: Actor) -> Officer:
        account = await self.person(id_or_email)
        officer = await self._store.get(account.id)
        if officer is None or not await self._store.remove(account.id):
            raise OfficerNotFoundError("That account is not an identity officer.")
        details = {"organisation_id": officer.organisation_id}
        await self._log.record(Event(str(actor), "identity-officer.removed", account.id, details))
        return officer

    async def list(self) -> builtins.list[Officer]:
        return await self._store.all()

    async def officer(self, account_id: str) -> Officer:
        """The account's designation, or :class:`NotAnOfficerError`."""
        officer = await self._store.get(account_id)
        if officer is None:
            raise NotAnOfficerError(
                "Only identity officers can do this; ask an administrator to designate you."
            )
        return officer

    async def organisation(self, officer: Officer) -> Organisation | None:
        try:
            return await self._organisations.get(officer.organisation_id)
        except OrganisationNotFoundError:
            return None

    async def record_in_person(
        self, officer: Officer, person_id: str, seen: EvidenceInput
    ) -> EvidenceRecord:
        """Record a document the officer examined with the person present (GPG 45 scores
        from the officer's own checks)."""
        if person_id == officer.account_id:
            # NOTE: separation of duties: an officer's own evidence is recorded by another.
            raise OwnEvidenceError("Ask another identity officer to record your own evidence.")
        if not seen.kind.document:
            raise InvalidEvidenceError(
                f"{seen.kind.value} is not a document an officer examines; choose a document."
            )
        person = await self.person(person_id)
        scores = seen.scores()
        expires = end_of_day(seen.expires_on) if seen.expires_on else None
        return await self._evidence.record(
            person.id, seen.kind, Method.IN_PERSON, scores, officer.recorder, expires_at=expires
        )

    async def withdraw(
        self, officer: Officer, person_id: str, record_id: str, reason: str
    ) -> EvidenceRecord:
        # NOTE: any identity officer may withdraw any record, whoever recorded it: finding
        # evidence mistaken or fraudulent must not wait for its recorder. Every withdrawal is
        # in the evidence log with the officer, their organisation and the reason.
        person = await self.person(person_id)
        return await self._evidence.withdraw(person.id, record_id, officer.recorder, reason)


class CouncilCheck:
    """The knowledge-based check against a council's records, limited to
    :data:`COUNCIL_CHECK_TRIES` attempts a day per account."""

    def __init__(
        self,
        records: CouncilRecords,
        claims: CouncilRecordStore,
        store: EvidenceStore,
        evidence: IdentityEvidence,
        organisations: OrganisationService,
        log: EvidenceLog,
    ) -> None:
        self._records = records
        self._claims = claims
        self._store = store
        self._evidence = evidence
        self._organisations = organisations
        self._log = log

    async def councils(self) -> builtins.list[Organisation]:
        """The councils a person can choose (every registered council)."""
        return [o for o in await self._organisations.list() if o.kind is OrganisationKind.COUNCIL]

    async def tries_left(self, account_id: str) -> int:
        return max(0, COUNCIL_CHECK_TRIES - await self._store.council_tries(account_id))

    async def check(self, account_id: str, facts: CouncilFacts) -> EvidenceRecord:
        """Match the facts against the council's record and record the evidence.

        :class:`CouncilCheckFailedError` never says which fact was wrong;
        :class:`CouncilCheckLimitError` once the day's attempts are used up.
        """
        council = await self._council(facts.council_id)
        tries = await self._store.count_council_try(account_id, COUNCIL_CHECK_WINDOW_SECONDS)
        if tries > COUNCIL_CHECK_TRIES:
            raise CouncilCheckLimitError(
                "You have tried too many times today. Try again tomorrow, or prove your "
                "identity another way."
            )
        match = await self._records.lookup(facts) if facts.well_formed else None
        source = Recorder.source(COUNCIL_CHECK_SOURCE, council.id)
        if match is None:
            left = COUNCIL_CHECK_TRIES - tries
            await self._log.record(
                Event(str(source), "identity-council-check.failed", account_id, {"left": left})
            )
            raise CouncilCheckFailedError(
                "The details did not match the council's records.", attempts_left=left
            )
        # NOTE: a council record proves one account only: whoever else learns the facts
        # cannot reuse them to lift a second account.
        if await self._claims.claim(council.id, match.reference, account_id) != account_id:
            raise CouncilRecordClaimedError(
                "Those details already prove another account. Contact the council."
            )
        return await self._evidence.record(
            account_id,
            EvidenceKind.COUNCIL_RECORD,
            Method.KNOWLEDGE_CHECK,
            COUNCIL_CHECK_SCORES,
            source,
            reference=match.reference,
        )

    async def _council(self, council_id: str) -> Organisation:
        try:
            council = await self._organisations.get(council_id)
        except OrganisationNotFoundError:
            council = None
        if council is None or council.kind is not OrganisationKind.COUNCIL:
            raise CouncilNotFoundError("Choose your council from the list.")
        return council


class ProviderProving:
    """Proving identity with a provider: open a transaction bound to the account, send the
    person to the provider, and record the scores of its verified result."""

    def __init__(
        self, provider: IdentityProvider, store: EvidenceStore, evidence: IdentityEvidence
    ) -> None:
        self._provider = provider
        self._store = store
        self._evidence = evidence

    async def start(self, account_id: str) -> str:
        """The provider URL to send the person to."""
        transaction = secrets.token_urlsafe(32)
        await self._store.open_transaction(account_id, transaction, PROVIDER_TRANSACTION_SECONDS)
        return await self._provider.start(transaction)

    async def complete(self, account_id: str, result: str) -> EvidenceRecord | None:
        """Record the provider's verified result; ``None`` when it could not verify the
        person. A result that is forged, for another account's transaction, used before or
        late raises :class:`ProviderResultError`."""
        outcome = await self._provider.complete(result)
        if not await self._store.take_transaction(account_id, outcome.transaction):
            raise ProviderResultError(
                "The result does not answer an identity check this account started, or it "
                "was used already. Start again."
            )
        if outcome.scores is None:
            return None
        return await self._evidence.record(
            account_id,
            EvidenceKind.PROVIDER_CHECK,
            Method.PROVIDER,
            outcome.scores,
            Recorder.source(self._provider.name),
            reference=outcome.reference,
        )


@dataclass(frozen=True, slots=True)
class Proofing:
    """Everything identity proofing offers, built once per process (``runtime.proofing``)."""

    evidence: IdentityEvidence
    officers: Officers
    council_check: CouncilCheck
    council_records: LocalCouncilRecords
    proving: ProviderProving | None  # None: no identity provider is configured
    dev_provider: LocalIdentityProvider | None


def build_proofing(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    log: EvidenceLog,
    *,
    accounts: AccountService,
    organisations: OrganisationService,
) -> Proofing:
    store = EvidenceStore(redis)
    evidence = IdentityEvidence(store, clock, log)
    council_store = CouncilRecordStore(redis)
    council_records = LocalCouncilRecords(council_store)
    # Only the development provider exists yet: production offers no provider (the pages
    # leave that way out) until a real provider's adapter implements IdentityProvider.
    dev_provider = (
        None
        if settings.is_production
        else LocalIdentityProvider(
            DevProviderKeyStore(redis), clock, issuer=settings.issuer, page_path=DEV_PROVIDER_PATH
        )
    )
    return Proofing(
        evidence=evidence,
        officers=Officers(OfficerStore(redis), evidence, accounts, organisations, clock, log),
        council_check=CouncilCheck(
            council_records, council_store, store, evidence, organisations, log
        ),
        council_records=council_records,
        proving=None if dev_provider is None else ProviderProving(dev_provider, store, evidence),
        dev_provider=dev_provider,
    )
