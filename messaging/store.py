"""Redis keys and operations of secure messaging: the only file that spells them.

Slots (Redis Cluster hash tags), so each atomic step touches one slot:

``{gc:msgteams}``                the team registry (small; one slot keeps it simple):
    ``:teams``                      hash: team id → team JSON
    ``:members:<team id>``          set: staff account ids of the team
    ``:staff:<account id>``         set: the teams an account is staff of (an index)
``{gc:msub:<sha256>}``           string: the account a pairwise ``sub`` under one sector names
                                 (the digest is of ``sector ‖ 0x00 ‖ sub``)
``{gc:conv:<conversation id>}``  one conversation, all in its slot:
    (the key itself)                hash: ``record`` (fixed fields JSON), ``updated_at``,
                                    ``state``, ``assigned_to``, ``unread:citizen``,
                                    ``unread:council`` (messages the side has not opened)
    ``:messages``                   list: message ids, oldest first
    ``:msg:<message id>``           hash: ``meta`` (JSON), ``key`` (the wrapped data key),
                                    ``body`` (sealed), ``att:<id>`` (sealed attachments),
                                    ``read_at``/``read_by`` (the read receipt), ``destroyed_at``
``{gc:mbox:<owner>}``            one inbox (``citizen:<id>``, ``business:<id>``, ``team:<id>``):
    (the key itself)                sorted set: conversation id → last activity (ms)
    ``:archived``, ``:deleted``     sets: conversations the citizen moved out of their view
``{gc:msgidem:<sha256>}``        string: an ``Idempotency-Key`` → its message, for a day
``{gc:msgnotify}``               notifications waiting (one slot, so a sweep takes atomically):
    ``:due``                        sorted set: account id → when its batch is sent
    ``:pending:<account id>``       set: the councils that wrote since the last notification
    ``:remind``                     sorted set: ``conversation message account`` → when to
                                    remind if the message is still unread
``{gc:msgretention}:destroy``    sorted set: ``conversation message`` → when to destroy it;
                                 also the index of every live message that KEK rotation walks
``{gc:mlive:<account id>}``      live updates for one reader (messaging/live.py):
    (the key itself)                stream: ``conversation``, ``side``, ``change`` (and for
                                    an agent, ``relationship``) of each change the account's
                                    open pages may show (capped, expiring)
    ``:open:<session handle>``      sorted set: the session's open streams → when each ends

Nothing here holds a body, an attachment, or an attachment's name in the clear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from redis.typing import EncodableT, FieldT

from gateway.core.keyspace import tagged
from gateway.core.redis import (
    RedisClient,
    RedisPipeline,
    RidingRead,
    carried,
    carry,
    queue_script,
)
from messaging.models import Conversation, Folder, Owner, Side, Team

TEAMS = tagged("msgteams", "teams")
NOTIFY_DUE = tagged("msgnotify", "due")
NOTIFY_REMIND = tagged("msgnotify", "remind")
DESTROY = tagged("msgretention", "destroy")
IDEMPOTENCY_SECONDS = 24 * 3600
# A reader's live-update stream keeps about its newest hundred changes for an hour: enough for
# a browser reconnecting with Last-Event-ID; a page older than that is told something changed.
LIVE_MAXLEN = 100
LIVE_KEEP_SECONDS = 3600
# What thread() remembers of the conversations it read, as a guess of the keys to read next
# time: this many conversations (the least recently read forgotten first), this many message
# ids each.
GUESSED_CONVERSATIONS = 4096
GUESSED_MESSAGES = 16
_MESSAGE_FIELDS = ("meta", "key", "body", "read_at", "read_by", "destroyed_at")


def _members(team_id: str) -> str:
    return tagged("msgteams", "members", team_id)


def _staff(account_id: str) -> str:
    return tagged("msgteams", "staff", account_id)


def _directory(sector: str, sub: str) -> str:
    digest = hashlib.sha256(sector.encode() + b"\x00" + sub.encode()).hexdigest()
    return tagged(f"msub:{digest}")


def _conversation(conversation_id: str) -> str:
    return tagged(f"conv:{conversation_id}")


def _message_list(conversation_id: str) -> str:
    return tagged(f"conv:{conversation_id}", "messages")


def message_key(conversation_id: str, message_id: str) -> str:
    return tagged(f"conv:{conversation_id}", "msg", message_id)


def _box(owner: Owner) -> str:
    return tagged(f"mbox:{owner}")


def _folder(owner: Owner, folder: Folder) -> str:
    return tagged(f"mbox:{owner}", folder.value)


def _idempotency(client_id: str, key: str) -> str:
    digest = hashlib.sha256(client_id.encode() + b"\x00" + key.encode()).hexdigest()
    return tagged(f"msgidem:{digest}")


def _pending(account_id: str) -> str:
    return tagged("msgnotify", "pending", account_id)


def _live(account_id: str) -> str:
    return tagged(f"mlive:{account_id}")


def _live_open(account_id: str, session_handle: str) -> str:
    return tagged(f"mlive:{account_id}", "open", session_handle)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# KEYS[1] conversation hash, KEYS[2] message list, KEYS[3] message hash.
# ARGV: message id, updated_at, unread field to count up, then field/value pairs of the message.
# Adds the message once: a retry of the same id changes nothing and answers 0.
_ADD_MESSAGE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[3], unpack(ARGV, 4))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
return 1
"""

# KEYS[1] conversation hash, KEYS[2] message hash. ARGV: read_at, read_by, unread field.
# The first open only: the receipt is set once and the side's unread count goes down once.
_MARK_READ = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[2], 'read_at', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'read_by', ARGV[2])
if tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[3], -1)
end
return 1
"""

# KEYS[1] the due set, KEYS[2..] nothing: pending sets are named from the taken ids.
# ARGV: now (ms), limit, pending key prefix. Takes due accounts with what is pending for them.
_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, account in ipairs(due) do
  redis.call('ZREM', KEYS[1], account)
  local key = ARGV[3] .. account
  local senders = redis.call('SMEMBERS', key)
  redis.call('DEL', key)
  table.insert(out, account)
  table.insert(out, cjson.encode(senders))
end
return out
"""

# KEYS[1] a sorted set of work. ARGV: now (ms), limit. Takes (removes and returns) what is due,
# so two sweeping processes never both act on one entry.
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZREM', KEYS[1], member) end
return due
"""


# KEYS[1] a message hash. ARGV: the wrapped key expected, its replacement. Compare and set,
# so a key destroyed (or re-wrapped by another process) meanwhile is left alone.
_SWAP_KEY = """
if redis.call('HGET', KEYS[1], 'key') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'key', ARGV[2])
return 1
"""


# KEYS[1] a session's open streams. ARGV: now (ms), stream id, its end (ms), cap, ttl (s).
# Forgets streams past their end (a process that died holding one), then opens this one
# unless the session already holds the cap; 1 when opened.
_OPEN_STREAM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


# KEYS[1] an inbox. ARGV: count, then a cursor's score and conversation id (none for the
# first page). The inbox's order is ZREVRANGE's, score then member, both descending; the
# entries after the cursor (a lower score, or its score and a lower id) are the ascending
# ranks below its place, which two ZCOUNTs and a binary search of the entries tied on its
# score find in O(log n) steps, however many tie (a bulk send files many in one ms) and
# whether or not the cursor's own conversation is still there (a new message moves it to the
# top). Answers the count entries just below that place, oldest first, with their scores.
# Ids are compared byte by byte, as Redis orders members: Lua's < follows the locale.
_PAGE = """
local key, count = KEYS[1], tonumber(ARGV[1])
local stop
if ARGV[2] == nil then
  stop = redis.call('ZCARD', key)
else
  local score, id = ARGV[2], ARGV[3]
  local function before(member)
    for i = 1, math.min(#member, #id) do
      local a, b = string.byte(member, i), string.byte(id, i)
      if a ~= b then return a < b end
    end
    return #member < #id
  end
  stop = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local high = stop + redis.call('ZCOUNT', key, score, score)
  while stop < high do
    local middle = math.floor((stop + high) / 2)
    if before(redis.call('ZRANGE', key, middle, middle)[1]) then
      stop = middle + 1
    else
      high = middle
    end
  end
end
if stop == 0 then return {} end
return redis.call('ZRANGE', key, math.max(0, stop - count), stop - 1, 'WITHSCORES')
"""


class MessagingStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._add_message = redis.register_script(_ADD_MESSAGE)
        self._mark_read = redis.register_script(_MARK_READ)
        self._take_due = redis.register_script(_TAKE_DUE)
        self._take = redis.register_script(_TAKE)
        self._swap_key = redis.register_script(_SWAP_KEY)
        self._open_stream = redis.register_script(_OPEN_STREAM)
        self._page = redis.register_script(_PAGE)
        # conversation id → (team id, first message ids) last read: see thread().
        self._guesses: dict[str, tuple[str, tuple[str, ...]]] = {}

    # --- teams ------------------------------------------------------------------------------

    async def put_team(self, team: Team) -> None:
        await self._redis.hset(TEAMS, team.id, json.dumps(team.to_json()))

    async def team(self, team_id: str) -> Team | None:
        raw = await self._redis.hget(TEAMS, team_id)
        return Team.from_json(json.loads(raw)) if raw else None

    async def teams_by_id(self, team_ids: Iterable[str]) -> dict[str, Team]:
        """The teams of those ids that exist (one ``HMGET``)."""
        wanted = sorted(set(team_ids))
        rows = await self._redis.hmget(TEAMS, wanted) if wanted else []
        teams = (Team.from_json(json.loads(raw)) for raw in rows if raw)
        return {team.id: team for team in teams}

    async def teams(self) -> list[Team]:
        rows = await self._redis.hvals(TEAMS)
        return sorted((Team.from_json(json.loads(r)) for r in rows), key=lambda t: t.created_at)

    async def add_staff(self, team_id: str, account_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_members(team_id), account_id)
            pipe.sadd(_staff(account_id), team_id)
            await pipe.execute()

    async def remove_staff(self, team_id: str, account_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.srem(_members(team_id), account_id)
            pipe.srem(_staff(account_id), team_id)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def staff(self, team_id: str) -> set[str]:
        return {str(m) for m in await self._redis.smembers(_members(team_id))}

    async def is_staff(self, team_id: str, account_id: str) -> bool:
        return bool(await self._redis.sismember(_members(team_id), account_id))

    async def teams_of(self, account_id: str) -> set[str]:
        return {str(t) for t in await self._redis.smembers(_staff(account_id))}

    # --- the subject directory ---------------------------------------------------------------

    async def remember_subject(self, sector: str, sub: str, account_id: str) -> None:
        await self._redis.set(_directory(sector, sub), account_id)

    async def subject_account(self, sector: str, sub: str) -> str | None:
        value = await self._redis.get(_directory(sector, sub))
        return None if value is None else str(value)

    # --- conversations and messages ---------------------------------------------------------

    async def create_conversation(self, conversation: Conversation) -> None:
        """Write the conversation unless it exists (a retry keeps the first)."""
        name = _conversation(conversation.id)
        if await self._redis.hsetnx(name, "record", conversation.record()):
            await self._redis.hset(
                name,
                mapping={
                    "updated_at": conversation.updated_at.isoformat(),
                    "state": conversation.state.value,
                    "unread:citizen": 0,
                    "unread:council": 0,
                },
            )

    async def conversation(
        self, conversation_id: str
    ) -> tuple[Conversation, dict[str, int]] | None:
        """The conversation and its unread counts per side."""
        return _conversation_of(await self._redis.hgetall(_conversation(conversation_id)))

    async def conversations(
        self, conversation_ids: Iterable[str]
    ) -> list[tuple[Conversation, dict[str, int]]]:
        """Those of the conversations that exist, in order, with their unread counts (as
        :meth:`conversation`): one round trip. Many slots, so not a transaction: on a
        cluster each node gets its part."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hgetall(_conversation(conversation_id))
            rows = await pipe.execute()
        return [found for found in map(_conversation_of, rows) if found is not None]

    async def riding_only(self, riding: RidingRead) -> None:
        """Only the ``riding`` reads, for a request that needs nothing of this store."""
        async with self._redis.pipeline(transaction=False) as pipe:
            carry(pipe, riding)
            carried(riding, await pipe.execute())

    async def thread(
        self, conversation_id: str, riding: RidingRead | None = None
    ) -> tuple[Conversation, Team | None, list[dict[str, str]]] | None:
        """The conversation, its team, and the stored fields of each of its messages (as
        :meth:`messages`), in one round trip when this process read it before, else two.

        The keys of the team and of the messages come from the conversation's record and
        message list, so a first read needs them before it can ask for the rest. The team
        and message ids last seen are remembered (per process, a bounded number) only as a
        guess of those keys: the same pipeline reads the record and the list, and whatever
        the guess missed (a new message; more than it keeps) is read in a second trip.
        Values are never remembered. Two slots (the conversation's and the teams'), so not
        a transaction: on a cluster each node gets its part. ``riding`` reads go first in the
        first trip, and their check runs before any answer of this store's is looked at."""
        team_id, known = self._guesses.get(conversation_id, ("", ()))
        async with self._redis.pipeline(transaction=False) as pipe:
            carry(pipe, riding)
            pipe.hgetall(_conversation(conversation_id))
            pipe.lrange(_message_list(conversation_id), 0, -1)
            if team_id:
                pipe.hget(TEAMS, team_id)
            _read_messages(pipe, conversation_id, known)
            answers = carried(riding, await pipe.execute())
        loaded = _conversation_of(answers[0])
        if loaded is None:
            self._guesses.pop(conversation_id, None)
            return None
        conversation = loaded[0]
        ids = [str(i) for i in answers[1]]
        raw_team = answers[2] if team_id else None
        rows = answers[3:] if team_id else answers[2:]
        if team_id != conversation.team_id or ids[: len(known)] != list(known):
            team_id, rows = "", []  # a wrong guess: read everything again
        missing = ids[len(rows) :]
        if missing or not team_id:
            async with self._redis.pipeline(transaction=False) as pipe:
                if not team_id:
                    pipe.hget(TEAMS, conversation.team_id)
                _read_messages(pipe, conversation_id, missing)
                more = await pipe.execute()
            if not team_id:
                raw_team, *more = more
            rows += more
        self._guesses.pop(conversation_id, None)  # to the end: the least recently read go first
        if len(self._guesses) >= GUESSED_CONVERSATIONS:
            self._guesses.pop(next(iter(self._guesses)))
        self._guesses[conversation_id] = (conversation.team_id, tuple(ids[:GUESSED_MESSAGES]))
        team = Team.from_json(json.loads(raw_team)) if raw_team else None
        return conversation, team, _message_rows(rows)

    async def set_conversation(self, conversation_id: str, **fields: str) -> None:
        mapping: dict[FieldT, EncodableT] = dict(fields.items())
        await self._redis.hset(_conversation(conversation_id), mapping=mapping)

    async def add_message(
        self,
        conversation_id: str,
        message_id: str,
        updated_at: datetime,
        unread_side: Side,
        fields: Mapping[str, str],
    ) -> int:
        """1 when added, 0 when a message with that id was already there, -1 when the
        conversation does not exist."""
        args: list[str] = [message_id, updated_at.isoformat(), f"unread:{unread_side.value}"]
        for name, value in fields.items():
            args += [name, value]
        keys = [
            _conversation(conversation_id),
            _message_list(conversation_id),
            message_key(conversation_id, message_id),
        ]
        return int(await self._add_message(keys=keys, args=args))

    async def message_ids(self, conversation_id: str) -> list[str]:
        ids = await self._redis.lrange(_message_list(conversation_id), 0, -1)
        return [str(i) for i in ids]

    async def messages(self, conversation_id: str, ids: Iterable[str]) -> list[dict[str, str]]:
        """The stored fields of each message (without attachment contents), in order."""
        async with self._redis.pipeline(transaction=False) as pipe:
            _read_messages(pipe, conversation_id, ids)
            rows = await pipe.execute()
        return _message_rows(rows)

    async def message(self, conversation_id: str, message_id: str) -> dict[str, str] | None:
        rows = await self.messages(conversation_id, [message_id])
        return rows[0] if rows else None

    async def attachment(
        self, conversation_id: str, message_id: str, attachment_id: str
    ) -> tuple[str, str] | None:
        """The wrapped data key and the sealed attachment, if both are there."""
        key, sealed = await self._redis.hmget(
            message_key(conversation_id, message_id), ["key", f"att:{attachment_id}"]
        )
        if key is None or sealed is None:
            return None
        return str(key), str(sealed)

    async def mark_read(
        self, conversation_id: str, message_ids: Sequence[str], at: datetime, by: str, side: Side
    ) -> list[dict[str, str]]:
        """Set each message's read receipt where this is its first open, then read the
        messages' stored fields (as :meth:`messages`) with the receipt as it now is, this
        reader's or an earlier one's: one round trip, in the conversation's slot."""
        args = [at.isoformat(), by, f"unread:{side}"]
        async with self._redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                keys = [_conversation(conversation_id), message_key(conversation_id, message_id)]
                queue_script(pipe, self._mark_read, keys, args)
            _read_messages(pipe, conversation_id, message_ids)
            answers = await pipe.execute()
        return _message_rows(answers[len(message_ids) :])

    async def replace_key(self, conversation_id: str, message_id: str, old: str, new: str) -> bool:
        """Swap the wrapped data key, unless it changed meanwhile (or was destroyed)."""
        name = message_key(conversation_id, message_id)
        return bool(await self._swap_key(keys=[name], args=[old, new]))

    async def destroy(self, conversation_id: str, message_id: str, at: datetime) -> None:
        """Destroy a message: its data key first (so the sealed parts, in the store or in any
        backup, can never be opened again), then the sealed parts; the metadata stays as
        the council's record that a message existed."""
        name = message_key(conversation_id, message_id)
        await self._redis.hdel(name, "key")
        names = [str(n) for n in await self._redis.hkeys(name)]
        sealed = [n for n in names if n == "body" or n.startswith("att:")]
        async with self._redis.pipeline(transaction=True) as pipe:
            if sealed:
                pipe.hdel(name, *sealed)
            pipe.hset(name, "destroyed_at", at.isoformat())
            await pipe.execute()

    # --- inboxes ----------------------------------------------------------------------------

    async def file(self, owner: Owner, conversation_id: str, at: datetime) -> None:
        """Put the conversation at the top of the inbox, back in the citizen's view."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(_box(owner), {conversation_id: _ms(at)})
            pipe.srem(_folder(owner, Folder.ARCHIVED), conversation_id)
            pipe.srem(_folder(owner, Folder.DELETED), conversation_id)
            await pipe.execute()

    async def box(self, owner: Owner, limit: int) -> tuple[list[str], set[str], set[str]]:
        """Conversation ids, most recent first, with the archived and deleted ones."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(_box(owner), 0, limit - 1)
            pipe.smembers(_folder(owner, Folder.ARCHIVED))
            pipe.smembers(_folder(owner, Folder.DELETED))
            ids, archived, deleted = await pipe.execute()
        return list(ids), set(archived), set(deleted)

    async def page(
        self, owners: Sequence[Owner], after: tuple[int, str] | None, count: int
    ) -> list[tuple[int, str]]:
        """Up to ``count`` (last activity in ms, conversation id) entries of the owners'
        inboxes that come after ``after`` (an entry of an earlier page: all of them when None),
        merged newest first in the inboxes' own order: score, then id, both descending.

        Keyset paging: each page starts where the last one's final entry would sit, so ties
        are neither skipped nor repeated and nothing is counted by offset. One round trip of a
        script per inbox; each inbox is one slot, and the pipeline is not a transaction, so a
        cluster's nodes each get their part."""
        args: list[EncodableT] = [count] if after is None else [count, *after]
        async with self._redis.pipeline(transaction=False) as pipe:
            for owner in owners:
                queue_script(pipe, self._page, [_box(owner)], args)
            answers: list[list[str]] = await pipe.execute()
        entries = [
            (int(float(score)), member)
            for flat in answers
            for member, score in zip(flat[::2], flat[1::2], strict=True)
        ]
        entries.sort(key=lambda entry: (entry[0], entry[1].encode()), reverse=True)
        return entries[:count]

    async def move(self, owner: Owner, conversation_id: str, folder: Folder) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for other in (Folder.ARCHIVED, Folder.DELETED):
                if other is folder:
                    pipe.sadd(_folder(owner, other), conversation_id)
                else:
                    pipe.srem(_folder(owner, other), conversation_id)
            await pipe.execute()

    # --- idempotency ------------------------------------------------------------------------

    async def claim_idempotency(
        self, client_id: str, key: str, value: dict[str, str]
    ) -> dict[str, str] | None:
        """Claim ``key`` for ``value`` (``SET NX EX``); None when claimed now, else what it was
        claimed for before."""
        name = _idempotency(client_id, key)
        if await self._redis.set(name, json.dumps(value), nx=True, ex=IDEMPOTENCY_SECONDS):
            return None
        raw = await self._redis.get(name)
        if raw is None:  # expired between the two commands: claim again
            return await self.claim_idempotency(client_id, key, value)
        claimed: dict[str, str] = json.loads(raw)
        return claimed

    # --- notifications ----------------------------------------------------------------------

    async def queue_notification(
        self, account_id: str, sender: str, send_at: datetime, remind: str, remind_at: datetime
    ) -> None:
        """Add ``sender`` to the account's next batch (due at ``send_at`` unless a batch is
        already waiting) and a reminder for the message."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_pending(account_id), sender)
            pipe.zadd(NOTIFY_DUE, {account_id: _ms(send_at)}, nx=True)
            if remind:
                pipe.zadd(NOTIFY_REMIND, {remind: _ms(remind_at)}, nx=True)
            await pipe.execute()

    async def take_due_notifications(
        self, now: datetime, limit: int
    ) -> list[tuple[str, list[str]]]:
        """Accounts whose batch is due, each with the councils that wrote; taken once."""
        raw = await self._take_due(keys=[NOTIFY_DUE], args=[_ms(now), limit, _pending("")])
        return [(raw[i], sorted(json.loads(raw[i + 1]) or [])) for i in range(0, len(raw), 2)]

    async def take_due_reminders(self, now: datetime, limit: int) -> list[str]:
        taken: list[str] = await self._take(keys=[NOTIFY_REMIND], args=[_ms(now), limit])
        return taken

    # --- retention --------------------------------------------------------------------------

    async def schedule_destroy(self, conversation_id: str, message_id: str, at: datetime) -> None:
        await self._redis.zadd(DESTROY, {f"{conversation_id} {message_id}": _ms(at)})

    async def take_due_destructions(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        taken: list[str] = await self._take(keys=[DESTROY], args=[_ms(now), limit])
        return [_pair(member) for member in taken]

    async def live_messages(self, cursor: int, count: int) -> tuple[int, list[tuple[str, str]]]:
        """One page of every message not yet destroyed (``ZSCAN``): the new cursor (0 at the
        end) and (conversation, message) pairs."""
        cursor, rows = await self._redis.zscan(DESTROY, cursor, count=count)
        return int(cursor), [_pair(str(member)) for member, _ in rows]

    # --- live updates -----------------------------------------------------------------------

    async def signal(self, changes: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        """Append each ``(account, fields)`` change to that account's live-update stream.
        One stream per account, so each write touches one slot; the pipeline is not a
        transaction, so the accounts may sit on different nodes of a cluster."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id, fields in changes:
                entry: dict[FieldT, EncodableT] = dict(fields.items())
                pipe.xadd(_live(account_id), entry, maxlen=LIVE_MAXLEN, approximate=True)
                pipe.expire(_live(account_id), LIVE_KEEP_SECONDS)
            await pipe.execute()

    async def last_signal(self, account_id: str) -> str:
        """The id of the account's newest change, ``0-0`` when it has none."""
        rows = await self._redis.xrevrange(_live(account_id), count=1)
        return str(rows[0][0]) if rows else "0-0"

    async def signals(self, account_id: str, after: str) -> list[tuple[str, dict[str, str]]]:
        """The account's changes after ``after`` (``XREAD``, without waiting)."""
        answer: Any = await self._redis.xread({_live(account_id): after}, count=LIVE_MAXLEN)
        # RESP2, as gateway.core.redis.connect speaks it: [[stream, [(id, fields), ...]]].
        found: list[tuple[str, list[tuple[str, dict[str, str]]]]] = answer
        return [(entry_id, fields) for _, entries in found or [] for entry_id, fields in entries]

    async def open_stream(
        self,
        account_id: str,
        session_handle: str,
        stream_id: str,
        now: datetime,
        until: datetime,
        cap: int,
    ) -> bool:
        """Count one more open stream for the session, unless it already holds ``cap``."""
        ttl = max(1, int((until - now).total_seconds()) + 1)
        args: list[EncodableT] = [_ms(now), stream_id, _ms(until), cap, ttl]
        keys = [_live_open(account_id, session_handle)]
        return bool(await self._open_stream(keys=keys, args=args))

    async def close_stream(self, account_id: str, session_handle: str, stream_id: str) -> None:
        await self._redis.zrem(_live_open(account_id, session_handle), stream_id)


def _conversation_of(row: Mapping[Any, Any]) -> tuple[Conversation, dict[str, int]] | None:
    """The conversation and its unread counts per side from its hash (``HGETALL``)."""
    # The connection decodes responses (gateway.core.redis.connect): every value is str.
    fields = {str(k): str(v) for k, v in row.items()}
    if "record" not in fields or "updated_at" not in fields:
        return None
    unread = {side.value: int(fields.get(f"unread:{side.value}", 0)) for side in Side}
    return Conversation.from_fields(fields), unread


def _read_messages(pipe: RedisPipeline, conversation_id: str, ids: Iterable[str]) -> None:
    for message_id in ids:
        pipe.hmget(message_key(conversation_id, message_id), _MESSAGE_FIELDS)


def _message_rows(rows: Iterable[list[Any]]) -> list[dict[str, str]]:
    """The messages' fields from ``HMGET`` answers, leaving out any not (or no longer) there."""
    found = []
    for row in rows:
        fields = {n: str(v) for n, v in zip(_MESSAGE_FIELDS, row, strict=True) if v is not None}
        if "meta" in fields:
            found.append(fields)
    return found


def _pair(member: str) -> tuple[str, str]:
    conversation_id, _, message_id = member.partition(" ")
    return conversation_id, message_id
