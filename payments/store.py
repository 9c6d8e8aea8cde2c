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
| ``{gc:payacct:<account>}:refunds`` | sorted set | ``<payment id>/<refund id>`` by creation time |
| ``{gc:payopen:<n>}`` | sorted set | unfinished payments by creation time, in 16 shards (mop-up) |
| ``{gc:payrate:<key digest>}:<second>`` | string | an API key's requests in one second (2 s) |
| ``{gc:paysvc}:settings`` | hash | ``<org>:<service>`` → the service's payment settings |
| ``{gc:paywh}:hooks`` | hash | webhook id → its account |
| ``{gc:paywh}:acct:<account>`` | hash | webhook id → webhook (its signing secret sealed) |
| ``{gc:paywh}:log:<webhook id>`` | list | the webhook's latest delivery attempts (capped) |
| ``{gc:paywh}:<queue>`` | stream | webhook messages to send, read by the group ``senders`` |
| ``{gc:paywh}:<queue>:dead`` | stream | messages given up on, with the reason |
| ``{gc:paywh}:<queue>:retries`` | sorted set | messages waiting for their next attempt |

Every change of a payment is one Lua script on the payment's own slot: the state check and
the write (and the event) happen together, so concurrent requests can never both move a
payment, and refunds can never exceed what was paid (Redis, "Scripting with Lua": a script
runs atomically). Keys of different payments spread over the cluster.

Webhooks (slot ``gc:paywh``) are a small registry beside their queue, dead letters and retry
schedule, all in one slot, so moving due retries back onto the queue is one script.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.queue import StreamQueue
from gateway.core.redis import RedisClient, queue_script
from payments.models import PaymentKey
from payments.states import Transition

IDEMPOTENCY_SECONDS = 86_400  # GOV.UK Pay keeps an Idempotency-Key for 24 hours
KEYS = tagged("paykeys", "keys")
KEY_DIGESTS = tagged("paykeys", "by-digest")
SERVICE_SETTINGS = tagged("paysvc", "settings")
WEBHOOKS = tagged("paywh", "hooks")
WEBHOOK_QUEUE = "queue"
WEBHOOK_GROUP = "senders"
WEBHOOK_FIELD = "j"
WEBHOOK_LOG_LENGTH = 100
DEAD_LETTER_MAXLEN = 10_000
OPEN_SHARDS = 16
RATE_WINDOW_SECONDS = 2  # a one-second counter lives two, so a slow clock never reuses it

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

# KEYS[1] retry schedule, KEYS[2] queue; ARGV[1] now (ms), ARGV[2] at most this many,
# ARGV[3] the queue's field. Due messages move back onto the queue in one step, so a message
# is either waiting or queued, never both nor lost.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', ARGV[3], job)
  redis.call('ZREM', KEYS[1], job)
end
return #due
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


def account_refunds_key(account_id: str) -> str:
    return tagged(f"payacct:{account_id}", "refunds")


def open_key(shard: int) -> str:
    return tagged(f"payopen:{shard}")


def _open_shard(payment_id: str) -> str:
    return open_key(zlib.crc32(payment_id.encode()) % OPEN_SHARDS)


def rate_key(digest: str, second: int) -> str:
    return tagged(f"payrate:{digest}", str(second))


def _account_webhooks(account_id: str) -> str:
    return tagged("paywh", "acct", account_id)


def _webhook_log(webhook_id: str) -> str:
    return tagged("paywh", "log", webhook_id)


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

    async def by_digest(self, digest: str, second: int) -> tuple[PaymentKey | None, int]:
        """The key and its requests in this ``second`` so far, this one included: one round
        trip per API call (the digest index holds the record itself; the counter is
        pipelined beside it)."""
        counter = rate_key(digest, second)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(KEY_DIGESTS, digest)
            pipe.incr(counter)
            pipe.expire(counter, RATE_WINDOW_SECONDS)
            raw, count, _ = await pipe.execute()
        return (PaymentKey.from_json(json.loads(raw)) if raw else None), int(count)

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
        """List the payment in its account (for search) and among the unfinished ones (for
        the mop-up): one round trip. Repeating it changes nothing."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(account_index_key(account_id), {payment_id: created_ms})
            pipe.zadd(_open_shard(payment_id), {payment_id: created_ms})
            await pipe.execute()

    async def create_indexed(
        self,
        payment_id: str,
        account_id: str,
        created_ms: int,
        fields: Mapping[str, str | int],
        event: Mapping[str, Any],
    ) -> bool:
        """:meth:`create` and :meth:`index` in one round trip; False if the id exists already
        (a concurrent repeat under the same ``Idempotency-Key`` wrote it first: the caller
        then indexes it again with the stored creation time)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            queue_script(
                pipe,
                self._create,
                keys=[payment_key(payment_id), events_key(payment_id)],
                args=[json.dumps(event), *_pairs(fields)],
            )
            pipe.zadd(account_index_key(account_id), {payment_id: created_ms})
            pipe.zadd(_open_shard(payment_id), {payment_id: created_ms})
            created, _, _ = await pipe.execute()
        return bool(created)

    async def finished(self, payment_id: str) -> None:
        """The payment is finished: the mop-up need not look at it again."""
        await self._redis.zrem(_open_shard(payment_id), payment_id)

    async def open_before(self, shard: int, before_ms: int, limit: int) -> list[str]:
        """Up to ``limit`` unfinished payments of ``shard`` created before ``before_ms``."""
        rows = await self._redis.zrangebyscore(open_key(shard), "-inf", before_ms, 0, limit)
        return [str(row) for row in rows]

    async def account_page(
        self, account_id: str, low_ms: float | str, high_ms: float | str
    ) -> list[str]:
        """The account's payment ids created in ``[low_ms, high_ms]``, newest first."""
        rows = await self._redis.zrevrangebyscore(account_index_key(account_id), high_ms, low_ms)
        return [str(row) for row in rows]

    async def account_refunds(
        self, account_id: str, low_ms: float | str, high_ms: float | str
    ) -> list[tuple[str, str]]:
        """``(payment id, refund id)`` of the account's refunds in the range, newest first."""
        rows = await self._redis.zrevrangebyscore(account_refunds_key(account_id), high_ms, low_ms)
        pairs = (str(row).split("/", 1) for row in rows)
        return [(payment, refund) for payment, refund in pairs]

    async def index_refund(
        self, account_id: str, payment_id: str, refund_id: str, created_ms: int
    ) -> None:
        await self._redis.zadd(
            account_refunds_key(account_id), {f"{payment_id}/{refund_id}": created_ms}
        )

    async def load_many(self, payment_ids: Sequence[str]) -> list[dict[str, str]]:
        """Each payment's fields (empty for one that is gone), in one round trip."""
        if not payment_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for payment_id in payment_ids:
                pipe.hgetall(payment_key(payment_id))
            rows = await pipe.execute()
        return [{str(k): str(v) for k, v in row.items()} for row in rows]

    async def refunds_of(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """The refunds named ``(payment id, refund id)``, in one round trip."""
        if not pairs:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for payment_id, refund_id in pairs:
                pipe.hget(refunds_key(payment_id), refund_id)
            rows = await pipe.execute()
        return [json.loads(row) if row else None for row in rows]

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


class ServiceSettingsStore:
    """Per council service payment settings (slot ``gc:paysvc``): a small registry."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def get(self, org_id: str, service: str) -> dict[str, Any] | None:
        raw = await self._redis.hget(SERVICE_SETTINGS, f"{org_id}:{service}")
        return json.loads(raw) if raw else None

    async def put(self, org_id: str, service: str, settings: Mapping[str, Any]) -> None:
        await self._redis.hset(SERVICE_SETTINGS, f"{org_id}:{service}", json.dumps(settings))


class WebhookStore(StreamQueue):
    """Webhooks of council services, and the queue of their messages (slot ``gc:paywh``).

    ``name`` exists so tests can run a queue of their own beside a live gateway's."""

    def __init__(self, redis: RedisClient, *, name: str = WEBHOOK_QUEUE) -> None:
        super().__init__(
            redis,
            key=tagged("paywh", name),
            dead_letter_key=tagged("paywh", name, "dead"),
            group=WEBHOOK_GROUP,
            field=WEBHOOK_FIELD,
            dead_letter_maxlen=DEAD_LETTER_MAXLEN,
        )
        self.retries_key = tagged("paywh", name, "retries")
        self._promote = redis.register_script(_PROMOTE)

    async def add_webhook(
        self, account_id: str, webhook_id: str, record: Mapping[str, Any]
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(WEBHOOKS, webhook_id, account_id)
            pipe.hset(_account_webhooks(account_id), webhook_id, json.dumps(record))
            await pipe.execute()

    async def put_webhook(
        self, account_id: str, webhook_id: str, record: Mapping[str, Any]
    ) -> None:
        await self._redis.hset(_account_webhooks(account_id), webhook_id, json.dumps(record))

    async def webhook(self, webhook_id: str) -> dict[str, Any] | None:
        account_id = await self._redis.hget(WEBHOOKS, webhook_id)
        if not account_id:
            return None
        raw = await self._redis.hget(_account_webhooks(str(account_id)), webhook_id)
        return json.loads(raw) if raw else None

    async def of_account(self, account_id: str) -> list[dict[str, Any]]:
        """The account's webhooks: one read, made on every payment event."""
        rows = await self._redis.hvals(_account_webhooks(account_id))
        return [json.loads(row) for row in rows]

    async def all_webhooks(self) -> list[dict[str, Any]]:
        accounts = set((await self._redis.hgetall(WEBHOOKS)).values())
        found: list[dict[str, Any]] = []
        for account_id in sorted(str(a) for a in accounts):
            found.extend(await self.of_account(account_id))
        return found

    async def log_attempt(self, webhook_id: str, attempt: Mapping[str, Any]) -> None:
        key = _webhook_log(webhook_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(attempt))
            pipe.ltrim(key, 0, WEBHOOK_LOG_LENGTH - 1)
            await pipe.execute()

    async def attempts(self, webhook_id: str) -> list[dict[str, Any]]:
        rows = await self._redis.lrange(_webhook_log(webhook_id), 0, -1)
        return [json.loads(row) for row in rows]

    async def schedule(self, job: str, due_ms: int) -> None:
        """Keep ``job`` (its exact JSON) until ``due_ms``; the same job twice is kept once."""
        await self._redis.zadd(self.retries_key, {job: due_ms})

    async def promote(self, now_ms: int, limit: int = 100) -> int:
        """Move the messages due by ``now_ms`` back onto the queue; how many."""
        moved = await self._promote(
            keys=[self.retries_key, self.key], args=[now_ms, limit, WEBHOOK_FIELD]
        )
        return int(moved)

    async def waiting(self) -> int:
        return int(await self._redis.zcard(self.retries_key))
