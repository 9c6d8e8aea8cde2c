"""Redis keys and operations of payments; the only file that spells a payments key.

| key | type | holds |
|---|---|---|
| ``{gc:paykeys}:keys`` | hash | API key id → record |
| ``{gc:paykeys}:by-digest`` | hash | SHA-256 of an API key → record (absent once revoked) |
| ``{gc:pay:<id>}`` | hash | one payment: its fields, ``status``, card details, refunded total |
| ``{gc:pay:<id>}:events`` | list | the payment's state changes, oldest first |
| ``{gc:pay:<id>}:refunds`` | hash | refund id → refund |
| ``{gc:payidem:<sha256>}`` | string | an ``Idempotency-Key`` claim for 24 hours |
| ``{gc:payacct:<account>}:payments`` | sorted set | the account's payment ids by creation time |

Every change of a payment is one Lua script on the payment's own slot: the state check and
the write (and the event) happen together, so concurrent requests can never both move a
payment, and refunds can never exceed what was paid (Redis, "Scripting with Lua": a script
runs atomically). Keys of different payments spread over the cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from payments.models import PaymentKey
from payments.states import Transition

IDEMPOTENCY_SECONDS = 86_400  # GOV.UK Pay keeps an Idempotency-Key for 24 hours
KEYS = tagged("paykeys", "keys")
KEY_DIGESTS = tagged("paykeys", "by-digest")

# KEYS[1] payment, KEYS[2] events; ARGV[1] first event, ARGV[2..] field/value pairs.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] payment, KEYS[2] events; ARGV[1] target status, ARGV[2] event, ARGV[3] the allowed
# sources as ",a,b,", ARGV[4] a field to delete or '', ARGV[5..] field/value pairs.
# Answers {1, previous status} when it moved the payment, {0, current status} when not.
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
if not string.find(ARGV[3], ',' .. current .. ',', 1, true) then return {0, current} end
local fields = {'status', ARGV[1]}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[1], ARGV[4]) end
redis.call('RPUSH', KEYS[2], ARGV[2])
return {1, current}
"""

# KEYS[1] payment, KEYS[2] events; ARGV[1] the browser session's handle, ARGV[2] target,
# ARGV[3] event, ARGV[4] sources as ",a,", ARGV[5] updated. The page link is single use: the
# first visit binds the payment to that browser and starts it. 1 started now, 2 the same
# browser again, 0 another browser, -1 the payment can no longer be started.
_OPEN_PAGE = """
local bound = redis.call('HGET', KEYS[1], 'page_session')
if bound then
  if bound == ARGV[1] then return 2 end
  return 0
end
local current = redis.call('HGET', KEYS[1], 'status')
if not current or not string.find(ARGV[4], ',' .. current .. ',', 1, true) then return -1 end
redis.call('HSET', KEYS[1], 'page_session', ARGV[1], 'status', ARGV[2], 'updated', ARGV[5])
redis.call('HDEL', KEYS[1], 'link')
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
"""

# KEYS[1] payment, KEYS[2] refunds; ARGV[1] amount, ARGV[2] the amount the caller believes
# is available or '', ARGV[3] refund id, ARGV[4] refund. {1, left} when taken; {-1, 0} the
# payment is not a success; {-2, available} the caller's figure is stale; {-3, available}
# more than is available.
_REFUND = """
if redis.call('HGET', KEYS[1], 'status') ~= 'success' then return {-1, 0} end
local amount = tonumber(redis.call('HGET', KEYS[1], 'amount'))
local refunded = tonumber(redis.call('HGET', KEYS[1], 'refunded') or '0')
local available = amount - refunded
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= available then return {-2, available} end
local wanted = tonumber(ARGV[1])
if wanted > available then return {-3, available} end
redis.call('HINCRBY', KEYS[1], 'refunded', wanted)
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return {1, available - wanted}
"""

# KEYS[1] payment, KEYS[2] refunds; ARGV[1] refund id, ARGV[2] refund, ARGV[3] pence to give
# back to the available amount (a refund the provider refused).
_SETTLE_REFUND = """
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local back = tonumber(ARGV[3])
if back > 0 then redis.call('HINCRBY', KEYS[1], 'refunded', -back) end
return 1
"""

# KEYS[1] claim; ARGV[1] value, ARGV[2] seconds. The claim already there, or nil once made.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


def payment_key(payment_id: str) -> str:
    return tagged(f"pay:{payment_id}")


def events_key(payment_id: str) -> str:
    return tagged(f"pay:{payment_id}", "events")


def refunds_key(payment_id: str) -> str:
    return tagged(f"pay:{payment_id}", "refunds")


def idempotency_key(account_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{account_id}\x00{key}".encode()).hexdigest()
    return tagged(f"payidem:{digest}")


def account_index_key(account_id: str) -> str:
    return tagged(f"payacct:{account_id}", "payments")


def _sources(transition: Transition) -> str:
    return "," + ",".join(sorted(transition.sources)) + ","


def _pairs(fields: Mapping[str, str | int]) -> list[str | int]:
    return [item for pair in fields.items() for item in pair]


class PaymentKeyStore:
    """API keys (slot ``gc:paykeys``): a registry, small enough for one slot."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def add(self, key: PaymentKey, digest: str) -> None:
        record = json.dumps(key.to_json())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(KEYS, key.id, record)
            pipe.hset(KEY_DIGESTS, digest, record)
            await pipe.execute()

    async def by_digest(self, digest: str) -> PaymentKey | None:
        """One round trip per API call: the digest index holds the record itself."""
        raw = await self._redis.hget(KEY_DIGESTS, digest)
        return PaymentKey.from_json(json.loads(raw)) if raw else None

    async def get(self, key_id: str) -> PaymentKey | None:
        raw = await self._redis.hget(KEYS, key_id)
        return PaymentKey.from_json(json.loads(raw)) if raw else None

    async def all(self) -> list[PaymentKey]:
        rows = await self._redis.hvals(KEYS)
        keys = (PaymentKey.from_json(json.loads(row)) for row in rows)
        return sorted(keys, key=lambda k: k.created_at)

    async def revoke(self, key: PaymentKey) -> None:
        """Mark the record revoked and drop its digest, so the secret stops working at once."""
        rows = await self._redis.hgetall(KEY_DIGESTS)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(KEYS, key.id, json.dumps(key.to_json()))
            for digest, raw in rows.items():
                if json.loads(raw)["id"] == key.id:
                    pipe.hdel(KEY_DIGESTS, digest)
            await pipe.execute()


class PaymentStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._create = redis.register_script(_CREATE)
        self._transition = redis.register_script(_TRANSITION)
        self._open_page = redis.register_script(_OPEN_PAGE)
        self._refund = redis.register_script(_REFUND)
        self._settle_refund = redis.register_script(_SETTLE_REFUND)
        self._claim = redis.register_script(_CLAIM)

    async def claim_idempotency(self, account_id: str, key: str, value: str) -> str | None:
        """Claim ``key`` for 24 hours; the earlier claim's value if someone holds it."""
        held = await self._claim(
            keys=[idempotency_key(account_id, key)], args=[value, IDEMPOTENCY_SECONDS]
        )
        return str(held) if held else None

    async def create(
        self, payment_id: str, fields: Mapping[str, str | int], event: Mapping[str, Any]
    ) -> bool:
        """Write a new payment and its first event; False if the id exists already."""
        created = await self._create(
            keys=[payment_key(payment_id), events_key(payment_id)],
            args=[json.dumps(event), *_pairs(fields)],
        )
        return bool(created)

    async def index(self, account_id: str, payment_id: str, created_ms: int) -> None:
        await self._redis.zadd(account_index_key(account_id), {payment_id: created_ms})

    async def load(self, payment_id: str) -> dict[str, str]:
        """The payment's fields; empty when there is none."""
        fields = await self._redis.hgetall(payment_key(payment_id))
        return {str(k): str(v) for k, v in fields.items()}

    async def transition(
        self,
        payment_id: str,
        transition: Transition,
        event: Mapping[str, Any],
        fields: Mapping[str, str | int],
        *,
        forget: str = "",
    ) -> tuple[bool, str]:
        """Apply ``transition`` if the payment is in one of its sources: (moved, the status
        before), or (False, the current status; '' for no such payment)."""
        moved, status = await self._transition(
            keys=[payment_key(payment_id), events_key(payment_id)],
            args=[
                transition.target.value,
                json.dumps(event),
                _sources(transition),
                forget,
                *_pairs(fields),
            ],
        )
        return bool(moved), str(status)

    async def open_page(
        self, payment_id: str, handle: str, transition: Transition, event: Mapping[str, Any]
    ) -> int:
        """Use the single-use page link for the browser ``handle`` (see ``_OPEN_PAGE``)."""
        result = await self._open_page(
            keys=[payment_key(payment_id), events_key(payment_id)],
            args=[
                handle,
                transition.target.value,
                json.dumps(event),
                _sources(transition),
                event["updated"],
            ],
        )
        return int(result)

    async def events(self, payment_id: str) -> list[dict[str, Any]]:
        rows = await self._redis.lrange(events_key(payment_id), 0, -1)
        return [json.loads(row) for row in rows]

    async def take_refund(
        self,
        payment_id: str,
        refund_id: str,
        amount: int,
        expected_available: int | None,
        refund: Mapping[str, Any],
    ) -> tuple[int, int]:
        """Reserve ``amount`` for a refund if the payment allows it (see ``_REFUND``)."""
        outcome, figure = await self._refund(
            keys=[payment_key(payment_id), refunds_key(payment_id)],
            args=[
                amount,
                "" if expected_available is None else expected_available,
                refund_id,
                json.dumps(refund),
            ],
        )
        return int(outcome), int(figure)

    async def settle_refund(
        self, payment_id: str, refund: Mapping[str, Any], give_back: int
    ) -> None:
        await self._settle_refund(
            keys=[payment_key(payment_id), refunds_key(payment_id)],
            args=[refund["id"], json.dumps(refund), give_back],
        )

    async def refunds(self, payment_id: str) -> list[dict[str, Any]]:
        rows = await self._redis.hvals(refunds_key(payment_id))
        return sorted((json.loads(row) for row in rows), key=lambda r: r["created"])

    async def refund(self, payment_id: str, refund_id: str) -> dict[str, Any] | None:
        raw = await self._redis.hget(refunds_key(payment_id), refund_id)
        return json.loads(raw) if raw else None
