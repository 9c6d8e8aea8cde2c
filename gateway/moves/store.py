"""Redis keys and operations of Tell Us Once: the only file that spells them.

Slots (Redis Cluster hash tags), so each atomic step touches one slot:

``{gc:move:<move id>}``            hash: one move, all in its slot: ``record`` (the report's
                                   JSON), ``state`` (draft, sent, confirmed), and per
                                   organisation ``notice:<org id>`` (the consent and the copy,
                                   JSON) and ``nstate:<org id>`` (consented, withdrawn,
                                   sending, sent, failed)
``{gc:moves:<account id>}:index``  sorted set: the person's moves by when they were reported
``{gc:movesto:<org id>}:changes``  hash: submission id → move id, the changes sent to one
                                   organisation (so its API never touches another's)
``{gc:movesto:<org id>}:order``    sorted set: the same submission ids by when they were sent

Consent and sending race on one key: giving consent needs the move still a draft, withdrawing
needs the notice still ``consented``, and sending first claims each notice
(``consented`` → ``sending``) in a script, so a withdrawn consent is never sent and a sent one
is never withdrawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from gateway.moves.models import Move, MoveState, Notice, NoticeState

# KEYS[1] a move. ARGV: org id, notice JSON. Consent is given (again, after a withdrawal) only
# while the move is a draft and that organisation's copy has not been claimed for sending.
_CONSENT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'draft' then return 'not-draft' end
local now = redis.call('HGET', KEYS[1], 'nstate:' .. ARGV[1])
if now and now ~= 'consented' and now ~= 'withdrawn' then return now end
redis.call('HSET', KEYS[1], 'notice:' .. ARGV[1], ARGV[2], 'nstate:' .. ARGV[1], 'consented')
return 'ok'
"""

# KEYS[1] a move. ARGV: org id, the new state, the notice JSON ('' keeps it), then the states
# it may move from. Answers 'ok', or the state it is in.
_TRANSITION = """
local now = redis.call('HGET', KEYS[1], 'nstate:' .. ARGV[1])
if not now then return '' end
for i = 4, #ARGV do
  if now == ARGV[i] then
    redis.call('HSET', KEYS[1], 'nstate:' .. ARGV[1], ARGV[2])
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'notice:' .. ARGV[1], ARGV[3]) end
    return 'ok'
  end
end
return now
"""

# KEYS[1] a move. ARGV: the state expected, its replacement.
_MOVE_STATE = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
return 1
"""


def _move(move_id: str) -> str:
    return tagged(f"move:{move_id}")


def _index(account_id: str) -> str:
    return tagged(f"moves:{account_id}", "index")


def _changes(organisation_id: str) -> str:
    return tagged(f"movesto:{organisation_id}", "changes")


def _order(organisation_id: str) -> str:
    return tagged(f"movesto:{organisation_id}", "order")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class MoveStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._consent = redis.register_script(_CONSENT)
        self._transition = redis.register_script(_TRANSITION)
        self._move_state = redis.register_script(_MOVE_STATE)

    # --- moves ------------------------------------------------------------------------------

    async def create(self, move: Move, at_ms: int) -> None:
        """The move, then the person's index (an index entry without its move is skipped)."""
        await self._redis.hset(
            _move(move.id), mapping={"record": _dumps(move.to_json()), "state": move.state.value}
        )
        await self._redis.zadd(_index(move.account_id), {move.id: at_ms})

    async def get(self, move_id: str) -> tuple[Move, list[Notice]] | None:
        # The connection decodes responses (gateway.core.redis.connect): every value is str.
        row = {str(k): str(v) for k, v in (await self._redis.hgetall(_move(move_id))).items()}
        if "record" not in row:
            return None
        move = Move.from_json(json.loads(row["record"]), MoveState(row["state"]))
        notices = [
            Notice.from_json(json.loads(value), NoticeState(row[f"nstate:{name[7:]}"]))
            for name, value in sorted(row.items())
            if name.startswith("notice:") and f"nstate:{name[7:]}" in row
        ]
        return move, notices

    async def moves_of(self, account_id: str) -> list[str]:
        """The person's move ids, newest first."""
        return [str(m) for m in await self._redis.zrevrange(_index(account_id), 0, -1)]

    async def set_state(self, move_id: str, expected: MoveState, state: MoveState) -> bool:
        return bool(await self._move_state(keys=[_move(move_id)], args=[expected, state]))

    # --- notices ----------------------------------------------------------------------------

    async def consent(self, move_id: str, notice: Notice) -> str:
        """'ok', 'not-draft', or the state of a copy already claimed."""
        result = await self._consent(
            keys=[_move(move_id)], args=[notice.organisation_id, _dumps(notice.to_json())]
        )
        return str(result)

    async def transition(
        self,
        move_id: str,
        organisation_id: str,
        to: NoticeState,
        allowed: Iterable[NoticeState],
        notice: Notice | None = None,
    ) -> str:
        """Move one notice to ``to`` if it is in one of ``allowed`` (writing ``notice`` with
        it); 'ok', or the state it is in ('' for none)."""
        result = await self._transition(
            keys=[_move(move_id)],
            args=[
                organisation_id,
                to.value,
                "" if notice is None else _dumps(notice.to_json()),
                *[s.value for s in allowed],
            ],
        )
        return str(result)

    async def put_notice(self, move_id: str, notice: Notice) -> None:
        """Rewrite a notice's facts (not its state): a question noted on a sent copy."""
        await self._redis.hset(
            _move(move_id), f"notice:{notice.organisation_id}", _dumps(notice.to_json())
        )

    # --- what each organisation received -----------------------------------------------------

    async def add_change(
        self, organisation_id: str, submission_id: str, move_id: str, at_ms: int
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_changes(organisation_id), submission_id, move_id)
            pipe.zadd(_order(organisation_id), {submission_id: at_ms})
            await pipe.execute()

    async def change(self, organisation_id: str, submission_id: str) -> str | None:
        """The move behind a change sent to this organisation (and to no other)."""
        value = await self._redis.hget(_changes(organisation_id), submission_id)
        return None if value is None else str(value)

    async def changes(self, organisation_id: str, limit: int) -> list[tuple[str, str]]:
        """(submission id, move id) of the newest ``limit`` changes sent to the organisation."""
        ids = [str(s) for s in await self._redis.zrevrange(_order(organisation_id), 0, limit - 1)]
        if not ids:
            return []
        moves = await self._redis.hmget(_changes(organisation_id), ids)
        return [(s, str(m)) for s, m in zip(ids, moves, strict=True) if m is not None]
