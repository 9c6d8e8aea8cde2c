"""Redis keys and operations of the delivery engine; the only file that spells its keys.

The registry (slot ``gc:delivery``) is small: services, routing rules with their uniqueness
index, recipients' delivery settings, and the delivery queue with its dead letters
(:class:`gateway.core.queue.StreamQueue`). Adding a rule claims its index field and writes
the rule in one script, so two concurrent adds of one rule leave one.

Data that grows with traffic is tagged per item, so it spreads over a cluster (Redis Cluster
specification, "Hash tags"):

- ``{gc:sbm:<id>}`` (hash) holds one submission: its record, state and rank, the envelope, the
  receipt, the recipient's acknowledgement and the business response; ``…:timeline`` (list)
  its events; ``…:attachments`` (hash) each attachment's content, sealed, by its SHA-256.
  The keys share the tag, so creating a submission and each state change are one script
  each. All expire when the service's retention ends (``EXPIREAT``): bodies and attachments
  are deleted then, and the evidence log keeps their digests.
- ``{gc:idem:<sha256>}`` (string) maps a sender's Idempotency-Key to its submission for a day.
- ``{gc:inbox:<org id>}`` (stream) lists a recipient's submissions not yet acknowledged, in
  arrival order; its entry ids are the pull cursor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.queue import StreamQueue
from gateway.core.redis import RedisClient, queue_script
from gateway.delivery.models import (
    STATE_ORDER,
    RecipientSettings,
    RoutingRule,
    Service,
    State,
    Submission,
)

SERVICES = tagged("delivery", "services")  # hash: name@version -> service JSON
ROUTES = tagged("delivery", "routes")  # hash: rule id -> rule JSON
ROUTE_INDEX = tagged("delivery", "route-index")  # hash: "sender service recipient" -> rule id
RECIPIENTS = tagged("delivery", "recipients")  # hash: org id -> delivery settings JSON
QUEUE = tagged("delivery", "queue")  # stream: one entry per push delivery, field "j"
DEAD_LETTERS = tagged("delivery", "queue", "dead")  # stream: pushes given up on, and why
QUEUE_GROUP = "deliverers"
DEAD_LETTER_MAXLEN = 10_000
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_TIMELINE = 1000


def _submission(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}")  # hash: record, state, rank, envelope, proofs


def _timeline(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}", "timeline")  # list: event JSON, oldest first


def _attachments(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}", "attachments")  # hash: sha256 -> sealed content


def _idempotency(sender: str, key: str) -> str:
    digest = hashlib.sha256(sender.encode() + b"\x00" + key.encode()).hexdigest()
    return tagged(f"idem:{digest}")  # string: {"submission", "request_sha256"} JSON


def _inbox(organisation_id: str) -> str:
    return tagged(f"inbox:{organisation_id}")  # stream: field "s" = submission id


# KEYS[1] routes, KEYS[2] index; ARGV: rule id, triple, rule JSON.
_ADD_ROUTE = """
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS[1] routes, KEYS[2] index; ARGV: rule id, triple.
_REMOVE_ROUTE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""

# KEYS[1] submission, KEYS[2] timeline, KEYS[3] attachments; ARGV: record JSON, state, rank,
# envelope JSON, receipt, expire-at (unix seconds), number of events, the events' JSON, then
# sha256/sealed pairs. A submission is written once.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'state', ARGV[2], 'rank', ARGV[3],
  'envelope', ARGV[4], 'receipt', ARGV[5])
local events = tonumber(ARGV[7])
for i = 8, 7 + events do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('EXPIREAT', KEYS[1], ARGV[6])
redis.call('EXPIREAT', KEYS[2], ARGV[6])
if #ARGV > 7 + events then
  for i = 8 + events, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
  redis.call('EXPIREAT', KEYS[3], ARGV[6])
end
return 1
"""

# KEYS[1] submission; ARGV[1] inbox entry.
_MARK_QUEUED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'queued', '1', 'inbox', ARGV[1])
return 1
"""

# KEYS[1] submission, KEYS[2] timeline; ARGV: state, rank, event JSON, proof field ('' for
# none), proof value, cap of the timeline. The state only moves forward; a proof field is
# written once (the first acknowledgement or response stands). Returns {advanced, stored}
# or {-1, 0} when the submission is gone.
_ADVANCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local stored = 0
if ARGV[4] ~= '' then
  stored = redis.call('HSETNX', KEYS[1], ARGV[4], ARGV[5])
  if stored == 0 then return {0, 0} end
end
local rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
local advanced = 0
if tonumber(ARGV[2]) > rank then
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'rank', ARGV[2])
  advanced = 1
end
if advanced == 1 or stored == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[3])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
end
return {advanced, stored}
"""


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """A submission as stored: its record at its current state, and what is kept beside it."""

    submission: Submission
    envelope: dict[str, Any]
    receipt: str
    acknowledgement: str | None
    response: dict[str, Any] | None
    queued: bool
    inbox_entry: str | None


@dataclass(frozen=True, slots=True)
class Created:
    """What :meth:`DeliveryStore.create` did: whether it wrote the submission (False: it
    existed) and the recipient's inbox entry it added."""

    created: bool
    inbox_entry: str


@dataclass(frozen=True, slots=True)
class Advance:
    found: bool
    advanced: bool
    stored: bool


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class DeliveryQueue(StreamQueue):
    """The push delivery queue (:class:`~gateway.core.queue.StreamQueue` on this package's
    keys). ``name`` lets tests run a queue of their own beside a live gateway's."""

    def __init__(self, redis: RedisClient, *, name: str = "queue") -> None:
        super().__init__(
            redis,
            key=tagged("delivery", name),
            dead_letter_key=tagged("delivery", name, "dead"),
            group=QUEUE_GROUP,
            field="j",
            dead_letter_maxlen=DEAD_LETTER_MAXLEN,
        )

    def fields(self, job: Mapping[str, Any]) -> dict[Any, Any]:
        """The stream entry :meth:`add` would write for ``job``, for a pipeline."""
        return self._encode(job)


class DeliveryStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._add_route = redis.register_script(_ADD_ROUTE)
        self._remove_route = redis.register_script(_REMOVE_ROUTE)
        self._create = redis.register_script(_CREATE)
        self._advance = redis.register_script(_ADVANCE)
        self._mark_queued = redis.register_script(_MARK_QUEUED)

    # --- registry -------------------------------------------------------------------------

    async def add_service(self, service: Service) -> bool:
        """False (nothing written) when that name and version exists."""
        return bool(await self._redis.hsetnx(SERVICES, service.key, _dumps(service.to_json())))

    async def service(self, key: str) -> Service | None:
        raw = await self._redis.hget(SERVICES, key)
        return Service.from_json(json.loads(raw)) if raw else None

    async def services(self) -> list[Service]:
        rows = await self._redis.hvals(SERVICES)
        found = (Service.from_json(json.loads(row)) for row in rows)
        return sorted(found, key=lambda s: (s.name, s.version))

    async def add_route(self, rule: RoutingRule) -> bool:
        """False (nothing written) when the same rule exists."""
        added = await self._add_route(
            keys=[ROUTES, ROUTE_INDEX], args=[rule.id, rule.triple, _dumps(rule.to_json())]
        )
        return bool(added)

    async def service_and_route(self, key: str, triple: str) -> tuple[Service | None, bool]:
        """The service ``key`` and whether the rule ``triple`` exists, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(SERVICES, key)
            pipe.hexists(ROUTE_INDEX, triple)
            raw, routed = await pipe.execute()
        return (Service.from_json(json.loads(raw)) if raw else None), bool(routed)

    async def route_for(self, triple: str) -> str | None:
        value = await self._redis.hget(ROUTE_INDEX, triple)
        return None if value is None else str(value)

    async def route(self, rule_id: str) -> RoutingRule | None:
        raw = await self._redis.hget(ROUTES, rule_id)
        return RoutingRule.from_json(json.loads(raw)) if raw else None

    async def routes(self) -> list[RoutingRule]:
        rows = await self._redis.hvals(ROUTES)
        found = (RoutingRule.from_json(json.loads(row)) for row in rows)
        return sorted(found, key=lambda r: (r.created_at, r.id))

    async def remove_route(self, rule: RoutingRule) -> bool:
        removed = await self._remove_route(keys=[ROUTES, ROUTE_INDEX], args=[rule.id, rule.triple])
        return bool(removed)

    async def recipient(self, organisation_id: str) -> RecipientSettings | None:
        raw = await self._redis.hget(RECIPIENTS, organisation_id)
        return RecipientSettings.from_json(json.loads(raw)) if raw else None

    async def put_recipient(self, settings: RecipientSettings) -> None:
        await self._redis.hset(RECIPIENTS, settings.organisation_id, _dumps(settings.to_json()))

    # --- idempotency ----------------------------------------------------------------------

    async def claim_idempotency(
        self, sender: str, key: str, submission_id: str, request_sha256: str
    ) -> dict[str, str] | None:
        """Claim ``key`` for ``submission_id`` (``SET NX EX``); None when claimed now, else
        what it was claimed for before."""
        value = _dumps({"submission": submission_id, "request_sha256": request_sha256})
        name = _idempotency(sender, key)
        if await self._redis.set(name, value, nx=True, ex=IDEMPOTENCY_SECONDS):
            return None
        raw = await self._redis.get(name)
        if raw is None:  # expired between the two commands: claim again
            return await self.claim_idempotency(sender, key, submission_id, request_sha256)
        claimed: dict[str, str] = json.loads(raw)
        return claimed

    # --- submissions ----------------------------------------------------------------------

    async def create(
        self,
        submission: Submission,
        envelope: Mapping[str, Any],
        receipt: str,
        events: Sequence[Mapping[str, Any]],
        expire_at: int,
        attachments: Mapping[str, str],
        queue: DeliveryQueue,
        job: Mapping[str, Any],
    ) -> Created:
        """Store a new submission with its sealed ``attachments`` (sha256 -> sealed) and put
        it in its recipient's inbox and on the push ``queue``, in one round trip (a pipeline:
        the three keys are in different slots). Nothing is written to the submission when it
        exists already; the inbox and queue entries are then duplicates, dropped by id."""
        async with self._redis.pipeline(transaction=False) as pipe:
            await queue_script(
                pipe,
                self._create,
                keys=[
                    _submission(submission.id),
                    _timeline(submission.id),
                    _attachments(submission.id),
                ],
                args=[
                    _dumps(submission.to_json()),
                    submission.state.value,
                    STATE_ORDER[submission.state],
                    _dumps(envelope),
                    receipt,
                    expire_at,
                    len(events),
                    *(_dumps(event) for event in events),
                    *(part for pair in attachments.items() for part in pair),
                ],
            )
            pipe.xadd(_inbox(submission.recipient_org), {"s": submission.id})
            pipe.xadd(queue.key, queue.fields(job))
            created, entry, _ = await pipe.execute()
        return Created(bool(created), str(entry))

    async def attachment(self, submission_id: str, sha256: str) -> str | None:
        """An attachment's sealed content, or None."""
        value = await self._redis.hget(_attachments(submission_id), sha256)
        return None if value is None else str(value)

    async def get(self, submission_id: str) -> StoredSubmission | None:
        row = await self._redis.hgetall(_submission(submission_id))
        if not row or "record" not in row:
            return None
        # The connection decodes responses (gateway.core.redis.connect): every value is str.
        fields = {str(k): str(v) for k, v in row.items()}
        record = json.loads(fields["record"])
        record["state"] = fields.get("state", record["state"])
        return StoredSubmission(
            submission=Submission.from_json(record),
            envelope=json.loads(fields["envelope"]),
            receipt=fields["receipt"],
            acknowledgement=fields.get("ack"),
            response=json.loads(fields["response"]) if "response" in fields else None,
            queued="queued" in fields,
            inbox_entry=fields.get("inbox"),
        )

    async def advance(
        self,
        submission_id: str,
        state: State,
        event: Mapping[str, Any],
        proof: tuple[str, str] | None = None,
    ) -> Advance:
        """Move the submission to ``state`` unless it is there or further already, appending
        ``event`` to its timeline when it moved (or when ``proof`` was stored); ``proof``
        (field, value) is written once."""
        field, value = proof if proof is not None else ("", "")
        advanced, stored = await self._advance(
            keys=[_submission(submission_id), _timeline(submission_id)],
            args=[state.value, STATE_ORDER[state], _dumps(event), field, value, MAX_TIMELINE],
        )
        return Advance(int(advanced) >= 0, int(advanced) == 1, int(stored) == 1)

    async def note(self, submission_id: str, event: Mapping[str, Any]) -> None:
        """Append an event that changes no state (a delivery attempt), if it still exists."""
        key = _timeline(submission_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpushx(key, _dumps(event))
            pipe.ltrim(key, -MAX_TIMELINE, -1)
            await pipe.execute()

    async def timeline(self, submission_id: str) -> list[dict[str, Any]]:
        rows = await self._redis.lrange(_timeline(submission_id), 0, -1)
        return [json.loads(row) for row in rows]

    async def mark_queued(self, submission_id: str, inbox_entry: str) -> None:
        """Note that the submission is in the inbox and on the queue (``HSET`` only while it
        exists: a submission whose retention ended is not brought back as a stub)."""
        await self._mark_queued(keys=[_submission(submission_id)], args=[inbox_entry])

    async def requeue(
        self, submission: Submission, queue: DeliveryQueue, job: Mapping[str, Any]
    ) -> str:
        """Put a stored submission in its recipient's inbox and on the queue again (a retry
        of a submit that stopped before it noted both); the inbox entry."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(_inbox(submission.recipient_org), {"s": submission.id})
            pipe.xadd(queue.key, queue.fields(job))
            entry, _ = await pipe.execute()
        return str(entry)

    # --- a recipient's inbox (pull) -------------------------------------------------------

    async def inbox(self, organisation_id: str, after: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (entry id, submission id) after the cursor ``after`` (``XRANGE``
        with an exclusive start, Redis 6.2)."""
        start = f"({after}" if after not in ("", "0", "0-0") else "-"
        rows = await self._redis.xrange(_inbox(organisation_id), min=start, count=limit)
        return [(str(entry), str((fields or {}).get("s", ""))) for entry, fields in rows or ()]

    async def remove_from_inbox(self, organisation_id: str, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._redis.xdel(_inbox(organisation_id), *entry_ids)
