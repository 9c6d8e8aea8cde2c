"""Redis keys and operations of identity proofing: the only file that spells their keys.

Slots (Redis Cluster hash tags), so that every atomic step touches one slot:

``{gc:idev:<account id>}``  one person's identity evidence:
    ``:records``            hash: record id → record JSON (written once, never changed)
    ``:withdrawn``          hash: record id → withdrawal JSON (``HSETNX``: the first wins)
    ``:council-tries``      counter: council record checks in the current day (expires)
    ``:provider:<sha256>``  string: a provider transaction in flight (expires, taken once)
``{gc:officers}:records``   hash: account id → identity officer JSON (a small registry)
``{gc:council:<org id>}``   one council's records, for the local check:
    ``:records``            hash: council tax account number → record JSON
    ``:claims``             hash: record reference → the account it proved (``HSETNX``)
``{gc:proofing}:dev-provider-key``  string: the local provider's signing key (development)

Records are immutable and a withdrawal is a separate field set once, so two officers
withdrawing at the same moment cannot overwrite each other and no record is ever rewritten.
"""

from __future__ import annotations

import hashlib
import json

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from trust_levels.proofing.models import CouncilRecord, EvidenceRecord, Officer, Withdrawal

OFFICERS = tagged("officers", "records")
DEV_PROVIDER_KEY = tagged("proofing", "dev-provider-key")


def _person(account_id: str, *parts: str) -> str:
    return tagged(f"idev:{account_id}", *parts)


def _council(council_id: str, *parts: str) -> str:
    return tagged(f"council:{council_id}", *parts)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# KEYS[1] a counter; ARGV[1] its window in seconds, from the first count (a fixed window).
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class EvidenceStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._count = redis.register_script(_COUNT)

    async def add(self, record: EvidenceRecord) -> None:
        await self._redis.hset(
            _person(record.account_id, "records"), record.id, json.dumps(record.to_json())
        )

    async def withdraw(self, account_id: str, record_id: str, withdrawal: Withdrawal) -> bool:
        """Mark the record withdrawn; False when it was withdrawn before."""
        added = await self._redis.hsetnx(
            _person(account_id, "withdrawn"), record_id, json.dumps(withdrawal.to_json())
        )
        return bool(added)

    async def records(self, account_id: str) -> list[EvidenceRecord]:
        """Every record of the person, withdrawn ones with their withdrawal, oldest first."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hvals(_person(account_id, "records"))
            pipe.hgetall(_person(account_id, "withdrawn"))
            rows, withdrawn = await pipe.execute()
        found = []
        for row in rows:
            data = json.loads(row)
            if data["id"] in withdrawn:
                data["withdrawal"] = json.loads(withdrawn[data["id"]])
            found.append(EvidenceRecord.from_json(data))
        return sorted(found, key=lambda r: (r.recorded_at, r.id))

    async def count_council_try(self, account_id: str, window_seconds: int) -> int:
        """Count one council check; the count lapses ``window_seconds`` after the first."""
        count = await self._count(
            keys=[_person(account_id, "council-tries")], args=[window_seconds]
        )
        return int(count)

    async def council_tries(self, account_id: str) -> int:
        value = await self._redis.get(_person(account_id, "council-tries"))
        return int(value) if value else 0

    async def open_transaction(self, account_id: str, transaction: str, seconds: int) -> None:
        await self._redis.set(
            _person(account_id, "provider", _digest(transaction)), "1", ex=seconds
        )

    async def take_transaction(self, account_id: str, transaction: str) -> bool:
        """True once, for the account that opened the transaction, before it expires."""
        key = _person(account_id, "provider", _digest(transaction))
        return await self._redis.getdel(key) == "1"


class OfficerStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def save(self, officer: Officer) -> None:
        await self._redis.hset(OFFICERS, officer.account_id, json.dumps(officer.to_json()))

    async def get(self, account_id: str) -> Officer | None:
        raw = await self._redis.hget(OFFICERS, account_id)
        return Officer.from_json(json.loads(raw)) if raw else None

    async def remove(self, account_id: str) -> bool:
        return bool(await self._redis.hdel(OFFICERS, account_id))

    async def all(self) -> list[Officer]:
        rows = await self._redis.hvals(OFFICERS)
        officers = (Officer.from_json(json.loads(row)) for row in rows)
        return sorted(officers, key=lambda o: (o.organisation_id, o.added_at, o.account_id))


class CouncilRecordStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def add(self, council_id: str, record: CouncilRecord) -> None:
        await self._redis.hset(
            _council(council_id, "records"), record.account_number, json.dumps(record.to_json())
        )

    async def get(self, council_id: str, account_number: str) -> CouncilRecord | None:
        raw = await self._redis.hget(_council(council_id, "records"), account_number)
        return CouncilRecord.from_json(json.loads(raw)) if raw else None

    async def claim(self, council_id: str, reference: str, account_id: str) -> str:
        """Bind the record to the account it proves (the first claim wins); the account now
        bound to it."""
        key = _council(council_id, "claims")
        await self._redis.hsetnx(key, reference, account_id)
        return str(await self._redis.hget(key, reference))


class DevProviderKeyStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def key(self, candidate: str) -> str:
        """The one key every gateway process shares: ``candidate`` if none was stored yet."""
        await self._redis.set(DEV_PROVIDER_KEY, candidate, nx=True)
        return str(await self._redis.get(DEV_PROVIDER_KEY))
