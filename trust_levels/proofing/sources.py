"""The outside world identity proofing relies on, each behind a Protocol (DESIGN.md §6):
councils' records of their residents, and identity-proving providers.

Each has a local implementation for development and tests: council records kept in Redis and
seeded by the demo, and a development provider whose page (``/dev/identity-provider``, never
mounted in production) lets a developer choose the outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from gateway.core.clock import Clock
from trust_levels.errors import InvalidScoreError
from trust_levels.gpg45 import Scores
from trust_levels.proofing.errors import ProviderResultError
from trust_levels.proofing.models import (
    MAX_REFERENCE,
    CouncilFacts,
    CouncilMatch,
    CouncilRecord,
    ProviderOutcome,
    scores_from_json,
)
from trust_levels.proofing.store import CouncilRecordStore, DevProviderKeyStore

# --- Council records -----------------------------------------------------------------------


class CouncilRecords(Protocol):
    """A council's records of its residents (council tax), asked whether facts match one."""

    async def lookup(self, facts: CouncilFacts) -> CouncilMatch | None:
        """The record all the facts match, or ``None``; never says which fact differed."""
        ...


def record_reference(council_id: str, account_number: str) -> str:
    """Names a council record without its contents (for the evidence record and its claim)."""
    return hashlib.sha256(f"{council_id}\x00{account_number}".encode()).hexdigest()[:32]


class LocalCouncilRecords:
    """Council records kept in Redis: seeded by ``govconnect init --demo`` and by tests."""

    def __init__(self, store: CouncilRecordStore) -> None:
        self._store = store

    async def add(self, council_id: str, record: CouncilRecord) -> None:
        """Keep a record (normalised as the lookup normalises what people type)."""
        facts = CouncilFacts.build(
            council_id, record.account_number, record.postcode, record.date_of_birth
        )
        await self._store.add(
            council_id, CouncilRecord(facts.account_number, facts.postcode, facts.date_of_birth)
        )

    async def lookup(self, facts: CouncilFacts) -> CouncilMatch | None:
        record = await self._store.get(facts.council_id, facts.account_number)
        if record is None:
            return None
        # Both facts are compared whatever the first gives, in constant time, so neither the
        # answer nor its timing tells which one was wrong.
        given = f"{facts.postcode}|{facts.date_of_birth.isoformat()}".encode()
        held = f"{record.postcode}|{record.date_of_birth.isoformat()}".encode()
        if not hmac.compare_digest(given, held):
            return None
        reference = record_reference(facts.council_id, facts.account_number)
        return CouncilMatch(facts.council_id, reference)


# --- Identity-proving providers --------------------------------------------------------------


class IdentityProvider(Protocol):
    """An identity-proving provider the person is sent to, which sends them back with a signed
    result (the pattern of OIDC Core §3.1.2: front-channel redirect, result verified by the
    gateway, never believed from query parameters)."""

    @property
    def name(self) -> str:
        """The source name written on the evidence it produces."""
        ...

    async def start(self, transaction: str) -> str:
        """The URL to send the browser to, for a transaction the gateway opened."""
        ...

    async def complete(self, result: str) -> ProviderOutcome:
        """The outcome of a signed result; ``ProviderResultError`` if it does not verify."""
        ...


RESULT_ALGORITHM = "ES256"
_REGISTRY = JWSRegistry(algorithms=[RESULT_ALGORITHM])
RESULT_SECONDS = 300
MAX_RESULT = 8192

# What the development provider can be told to find (GPG 45 "Scores needed for each
# profile"): each meets the named profile exactly, so tests and demonstrations can reach
# each level on purpose.
DEV_OUTCOMES: dict[str, dict[str, Any] | None] = {
    "low": {"evidence": [{"strength": 2, "validity": 2}], "activity": 0, "fraud": 1,
            "verification": 1},  # L1A
    "medium": {"evidence": [{"strength": 3, "validity": 2}], "activity": 1, "fraud": 2,
               "verification": 2},  # M1B
    "high": {"evidence": [{"strength": 3, "validity": 3}], "activity": 2, "fraud": 1,
             "verification": 3},  # H1B
    "failed": None,  # the person could not be verified
}  # fmt: skip


class LocalIdentityProvider:
    """The development provider: its page signs a result with its own ES256 key (shared by
    every gateway process through the store), and :meth:`complete` verifies it as a real
    provider's result would be verified: algorithm allow-list, issuer, audience, expiry."""

    name = "local-development-provider"

    def __init__(
        self, keys: DevProviderKeyStore, clock: Clock, *, issuer: str, page_path: str
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._page_path = page_path

    async def _key(self) -> ECKey:
        candidate = json.dumps(ECKey.generate_key("P-256").as_dict(private=True))
        return ECKey.import_key(json.loads(await self._keys.key(candidate)))

    async def start(self, transaction: str) -> str:
        return f"{self._page_path}?{urlencode({'transaction': transaction})}"

    async def sign(self, transaction: str, outcome: str) -> str:
        """What the development page sends back: the chosen outcome, signed."""
        now = self._clock.now()
        claims = {
            "iss": self.name,
            "aud": self._issuer,
            "txn": transaction,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=RESULT_SECONDS)).timestamp()),
            "ref": "dev-" + secrets.token_hex(8),
            "scores": DEV_OUTCOMES[outcome],
        }
        header = {"alg": RESULT_ALGORITHM, "typ": "JWT"}
        return jwt.encode(header, claims, await self._key(), registry=_REGISTRY)

    async def complete(self, result: str) -> ProviderOutcome:
        if not result or len(result) > MAX_RESULT:
            raise ProviderResultError("The identity provider's result is missing or too long.")
        try:
            claims = dict(jwt.decode(result, await self._key(), registry=_REGISTRY).claims)
        except (JoseError, ValueError, TypeError):
            raise ProviderResultError(
                "The identity provider's result is not signed by the provider."
            ) from None
        now = int(self._clock.now().timestamp())
        if claims.get("iss") != self.name or claims.get("aud") != self._issuer:
            raise ProviderResultError("The identity provider's result is for another party.")
        expiry = claims.get("exp")
        if not isinstance(expiry, int) or expiry <= now:
            raise ProviderResultError("The identity provider's result has expired.")
        transaction, reference = claims.get("txn"), claims.get("ref")
        if not isinstance(transaction, str) or not isinstance(reference, str):
            raise ProviderResultError("The identity provider's result is incomplete.")
        scores = _scores(claims.get("scores"))
        return ProviderOutcome(transaction, scores, reference[:MAX_REFERENCE])


def _scores(value: object) -> Scores | None:
    if value is None:
        return None
    try:
        if not isinstance(value, dict):
            raise TypeError("scores must be an object")
        return scores_from_json(value)
    except (KeyError, TypeError, ValueError, InvalidScoreError):
        raise ProviderResultError("The identity provider's scores are malformed.") from None
