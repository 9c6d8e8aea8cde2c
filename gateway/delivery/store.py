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
  A submission's id is derived from its sender's client and ``Idempotency-Key``
  (:func:`gateway.delivery.services.submission_id_for`), so the record is its own
  idempotency record: a retry finds it by the id alone, with no key of its own to claim.
- ``{gc:inbox:<org id>}`` (stream) lists a recipient's submissions not yet acknowledged, in
  arrival order; its entry ids are the pull cursor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.keyspace import tagged
from gateway.core.queue import StreamQueue
from gateway.core.redis import RedisClient, RidingRead, carried, carry, queue_script
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
MAX_TIMELINE = 1000


def _submission(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}")  # hash: record, state, rank, envelope, proofs


def _timeline(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}", "timeline")  # list: event JSON, oldest first


def _attachments(submission_id: str) -> str:
    return tagged(f"sbm:{submission_id}", "attachments")  # hash: sha256 -> sealed content


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
# envelope JSON, receipt, expire-at (unix seconds), number of events (at least one), the
# events' JSON, then sha256/sealed pairs. A submission is written once.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'state', ARGV[2], 'rank', ARGV[3],
  'envelope', ARGV[4], 'receipt', ARGV[5])
local events = tonumber(ARGV[7])
redis.call('RPUSH', KEYS[2], unpack(ARGV, 8, 7 + events))
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
# none), proof value, cap of the timeline, note JSON ('' for none). The note (a delivery
# attempt) is appended first, whatever the state; the state only moves forward; a proof
# field is written once (the first acknowledgement or response stands). Returns
# {advanced, stored} or {-1, 0} when the submission is gone.
_ADVANCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[7])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
end
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
class SubmitContext:
    """What accepting a submission reads first, in one round trip: the service, whether a
    routing rule allows the sender, the recipient's delivery settings, and the submission
    already stored under the id a retry derives (None for a new one)."""

    service: Service | None
    routed: bool
    recipient: RecipientSettings | None
    existing: StoredSubmission | None


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


def _stored(row: Mapping[Any, Any] | None) -> StoredSubmission | None:
    """A submission's hash as read (``HGETALL``), or None when it holds no record."""
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

    async def submit_context(
        self,
        key: str,
        triple: str,
        recipient: str,
        submission_id: str,
        riding: RidingRead | None = None,
    ) -> SubmitContext:
        """The service ``key``, the rule ``triple``, ``recipient``'s settings and the stored
        submission ``submission_id``, in one round trip (a pipeline: the registry and the
        submission are in different slots), after the ``riding`` reads, whose check runs
        first."""
        async with self._redis.pipeline(transaction=False) as pipe:
            carry(pipe, riding)
            pipe.hget(SERVICES, key)
            pipe.hexists(ROUTE_INDEX, triple)
            pipe.hget(RECIPIENTS, recipient)
            pipe.hgetall(_submission(submission_id))
            raw, routed, settings, row = carried(riding, await pipe.execute())
        return SubmitContext(
            Service.from_json(json.loads(raw)) if raw else None,
            bool(routed),
            RecipientSettings.from_json(json.loads(settings)) if settings else None,
            _stored(row),
        )

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
        job: Mapping[str, Any] | None,
    ) -> Created:
        """Store a new submission with its sealed ``attachments`` (sha256 -> sealed) and put
        it in its recipient's inbox and, with a ``job``, on the push ``queue``, in one round
        trip (a pipeline: the keys are in different slots). Nothing is written to the
        submission when it exists already; the inbox and queue entries are then duplicates,
        dropped by id."""
        async with self._redis.pipeline(transaction=False) as pipe:
            queue_script(
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
            if job is not None:
                pipe.xadd(queue.key, queue.fields(job))
            created, entry, *_ = await pipe.execute()
        return Created(bool(created), str(entry))

    async def attachment(self, submission_id: str, sha256: str) -> str | None:
        """An attachment's sealed content, or None."""
        value = await self._redis.hget(_attachments(submission_id), sha256)
        return None if value is None else str(value)

    async def get(self, submission_id: str) -> StoredSubmission | None:
        return _stored(await self._redis.hgetall(_submission(submission_id)))

    async def advance(
        self,
        submission_id: str,
        state: State,
        event: Mapping[str, Any],
        proof: tuple[str, str] | None = None,
        note: Mapping[str, Any] | None = None,
    ) -> Advance:
        """Move the submission to ``state`` unless it is there or further already, appending
        ``event`` to its timeline when it moved (or when ``proof`` was stored); ``proof``
        (field, value) is written once. ``note`` (an event that changes no state, as
        :meth:`note` appends) goes on the timeline first in the same script, moved or not."""
        field, value = proof if proof is not None else ("", "")
        advanced, stored = await self._advance(
            keys=[_submission(submission_id), _timeline(submission_id)],
            args=[
                state.value,
                STATE_ORDER[state],
                _dumps(event),
                field,
                value,
                MAX_TIMELINE,
                "" if note is None else _dumps(note),
            ],
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
        self, submission: Submission, queue: DeliveryQueue, job: Mapping[str, Any] | None
    ) -> str:
        """Put a stored submission in its recipient's inbox and, with a ``job``, on the queue
        again (a retry of a submit that stopped before it noted both); the inbox entry."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(_inbox(submission.recipient_org), {"s": submission.id})
            if job is not None:
                pipe.xadd(queue.key, queue.fields(job))
            entry, *_ = await pipe.execute()
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
