"""Errors of identity proofing (recorded evidence, officers, council checks, providers).

ProofingError (a trust_levels.errors.TrustLevelError)
├── InvalidEvidenceError        (invalid: a record that cannot be accepted, and why)
├── EvidenceNotFoundError       (not-found: the person has no record with that id)
├── EvidenceWithdrawnError      (conflict: the record was withdrawn already)
├── NotAnOfficerError           (forbidden: the signed-in account is no identity officer)
├── OfficerNotFoundError        (not-found: an administrator named an account that is none)
├── OwnEvidenceError            (forbidden: an officer may not record evidence for themselves)
├── PersonNotFoundError         (not-found: no account has that email address or id)
├── CouncilNotFoundError        (not-found: no council with that id offers the check)
├── CouncilCheckFailedError     (invalid: the facts did not match; never says which)
├── CouncilCheckLimitError      (too-many: the attempts for the day are used up)
├── CouncilRecordClaimedError   (conflict: the council record proved another account)
└── ProviderResultError         (invalid: a provider result that is forged, replayed,
                                 expired or for someone else)

GPG 45 scores outside their ranges raise :class:`trust_levels.errors.InvalidScoreError`.
"""

from __future__ import annotations

from typing import Any

from gateway.core.errors import Category
from trust_levels.errors import TrustLevelError


class ProofingError(TrustLevelError):
    slug = "identity-proofing-error"
    title = "Identity proofing error"


class InvalidEvidenceError(ProofingError):
    category = Category.INVALID
    slug = "invalid-identity-evidence"
    title = "Invalid identity evidence"


class EvidenceNotFoundError(ProofingError):
    category = Category.NOT_FOUND
    slug = "identity-evidence-not-found"
    title = "Identity evidence not found"


class EvidenceWithdrawnError(ProofingError):
    category = Category.CONFLICT
    slug = "identity-evidence-withdrawn"
    title = "Identity evidence already withdrawn"


class NotAnOfficerError(ProofingError):
    category = Category.FORBIDDEN
    slug = "not-an-identity-officer"
    title = "Not an identity officer"


class OfficerNotFoundError(ProofingError):
    category = Category.NOT_FOUND
    slug = "identity-officer-not-found"
    title = "Identity officer not found"


class OwnEvidenceError(ProofingError):
    category = Category.FORBIDDEN
    slug = "own-identity-evidence"
    title = "Officers cannot record their own evidence"


class PersonNotFoundError(ProofingError):
    category = Category.NOT_FOUND
    slug = "person-not-found"
    title = "Person not found"


class CouncilNotFoundError(ProofingError):
    category = Category.NOT_FOUND
    slug = "council-not-found"
    title = "Council not found"


class CouncilCheckFailedError(ProofingError):
    category = Category.INVALID
    slug = "council-check-failed"
    title = "The details did not match the council's records"

    def __init__(self, detail: str, attempts_left: int, **extensions: Any) -> None:
        super().__init__(detail, attempts_left=attempts_left, **extensions)
        self.attempts_left = attempts_left


class CouncilCheckLimitError(ProofingError):
    category = Category.TOO_MANY
    slug = "council-check-limit"
    title = "Too many council record checks"


class CouncilRecordClaimedError(ProofingError):
    category = Category.CONFLICT
    slug = "council-record-claimed"
    title = "The council record proves another account"


class ProviderResultError(ProofingError):
    category = Category.INVALID
    slug = "identity-provider-result-invalid"
    title = "Identity provider result refused"
