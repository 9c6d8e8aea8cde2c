"""Redis keys and operations of browser sessions.

A session is one small hash in its own slot (``{gc:sess:<handle>}``) that expires by itself;
each account has an index of its session handles in the account's slot
(``{gc:acct:<id>}:sessions``). The two never change in one transaction: the session is
written before it is indexed and unindexed after it is deleted, so a crash leaves at most an
index entry pointing at nothing, which readers drop.
"""

from __future__ import annotations

import json
from datetime import datetime

from redis.typing import EncodableT, FieldT

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from gateway.sessions.models import AuthEvent, Session, SessionSummary


def session_key(handle: str) -> str:
    return tagged(f"sess:{handle}")


def account_index_key(account_id: str) -> str:
    return tagged(f"acct:{account_id}", "sessions")


# Short field names: a session costs a few hundred bytes of Redis memory, not a kilobyte.
def _fields(session: Session) -> dict[FieldT, EncodableT]:
    return {
        "a": session.account_id or "",
        "c": session.created_at.isoformat(),
        "s": session.last_seen.isoformat(),
        "x": session.csrf_token,
        "i": session.ip,
        "u": session.user_agent,
        "m": json.dumps([e.to_json() for e in session.auth]),
        "p": json.dumps(session.pending) if session.pending else "",
        "d": session.sid,
        "r": " ".join(sorted(session.clients)),
    }


_SET_IF_LIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"""


class SessionStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._set_if_live = redis.register_script(_SET_IF_LIVE)

    async def save(self, session: Session, ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            key = session_key(session.handle)
            pipe.delete(key)
            pipe.hset(key, mapping=_fields(session))
            pipe.expire(key, ttl_seconds)
            await pipe.execute()

    async def load(self, session_id: str, handle: str) -> Session | None:
        stored = await self._redis.hgetall(session_key(handle))
        if not stored:
            return None
        raw = {str(name): str(value) for name, value in stored.items()}
        return Session(
            id=session_id,
            account_id=raw["a"] or None,
            created_at=datetime.fromisoformat(raw["c"]),
            last_seen=datetime.fromisoformat(raw["s"]),
            csrf_token=raw["x"],
            ip=raw["i"],
            user_agent=raw["u"],
            auth=tuple(AuthEvent.from_json(e) for e in json.loads(raw["m"])),
            pending=json.loads(raw["p"]) if raw["p"] else {},
            sid=raw.get("d", ""),
            clients=frozenset(raw.get("r", "").split()),
        )

    async def touch(self, handle: str, last_seen: datetime, ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(handle), "s", last_seen.isoformat())
            pipe.expire(session_key(handle), ttl_seconds)
            await pipe.execute()

    async def add_client(self, handle: str, clients: frozenset[str]) -> None:
        """Only on a live session: a bare HSET on an expired one would recreate it without
        a TTL."""
        await self._set_if_live(keys=[session_key(handle)], args=["r", " ".join(sorted(clients))])

    async def sign_in_of(self, handle: str) -> tuple[str, frozenset[str]] | None:
        """The sid and relying parties of a live session, to announce its end; None if gone."""
        sid, clients = await self._redis.hmget(session_key(handle), ["d", "r"])
        if sid is None:
            return None
        return str(sid), frozenset(str(clients or "").split())

    async def delete(self, handle: str) -> None:
        await self._redis.delete(session_key(handle))

    async def index(self, account_id: str, handle: str, created_at: datetime) -> None:
        await self._redis.zadd(account_index_key(account_id), {handle: created_at.timestamp()})

    async def unindex(self, account_id: str, *handles: str) -> None:
        if handles:
            await self._redis.zrem(account_index_key(account_id), *handles)

    async def handles(self, account_id: str) -> list[str]:
        return [str(h) for h in await self._redis.zrange(account_index_key(account_id), 0, -1)]

    async def summary(self, handle: str) -> SessionSummary | None:
        created, seen, ip, agent = await self._redis.hmget(
            session_key(handle), ["c", "s", "i", "u"]
        )
        if created is None:
            return None
        return SessionSummary(
            handle=handle,
            created_at=datetime.fromisoformat(str(created)),
            last_seen=datetime.fromisoformat(str(seen)),
            ip=str(ip),
            user_agent=str(agent),
            current=False,
        )
