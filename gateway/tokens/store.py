"""Redis keys and operations of the token endpoint; the only file of the package that names
a key.

A **family** is everything issued from one authorization grant (RFC 9700 §4.14.2): one hash
per grant id holding what the person agreed to (``record``), the digest of the one refresh
token that may be used next (``current``), a field per refresh token already rotated away
(``old:<digest>``, so a replay is recognised) and ``revoked`` once the grant is withdrawn.
Refresh tokens are kept only as SHA-256 digests. Revoked access tokens are markers in the
family's slot until the token expires. Every key expires by itself.

    {gc:grant:<grant id>}                  hash    the family
    {gc:grant:<grant id>}:at:<sha256 jti>  string  a revoked access token, until its exp
    {gc:jti:<client or jkt>}:<kind>:<sha>  string  a used assertion / DPoP proof jti
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient, RedisPipeline


def digest(value: str) -> str:
    """SHA-256 hex of a secret value: what the store keeps instead of the value."""
    return hashlib.sha256(value.encode()).hexdigest()


def used_jti_key(namespace: str, kind: str, jti: str) -> str:
    return tagged(f"jti:{namespace}", kind, digest(jti))


def sign_in_grants_key(sid: str) -> str:
    """The grants issued during one sign-in (its OIDC ``sid``), for revoking them together."""
    return tagged(f"signin:{digest(sid)}", "grants")


def sign_in_ended_key(sid: str) -> str:
    """Set when a sign-in ends, for as long as a code from it could still be redeemed."""
    return tagged(f"signin:{digest(sid)}", "ended")


def client_grants_key(account_id: str, client_id: str) -> str:
    """The grants one person gave one client, revoked when they withdraw their consent."""
    return tagged(f"acct:{account_id}", "grants", digest(client_id))


def family_key(grant_id: str) -> str:
    return tagged(f"grant:{grant_id}")


def revoked_access_key(grant_id: str, jti: str) -> str:
    return tagged(f"grant:{grant_id}", "at", digest(jti))


# KEYS[1] family; ARGV: record JSON, refresh digest ('' for none), ttl seconds.
# A family revoked before it was written (a code replayed while its first redemption was
# still minting tokens) stays revoked: the record is never written over the marker.
_CREATE = """
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'current', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] family; ARGV: presented digest, new digest. Compare-and-set on ``current``: a
# token rotated away meanwhile is a replay, which revokes the family.
_ROTATE = """
local state = redis.call('HMGET', KEYS[1], 'record', 'current', 'revoked')
if not state[1] or state[3] then return 0 end
if state[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'old:' .. ARGV[1], '1')
  return 1
end
if redis.call('HEXISTS', KEYS[1], 'old:' .. ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'revoked', '1')
end
return 0
"""

# KEYS[1] family; ARGV[1] seconds the marker must last at least (it may not exist yet).
_REVOKE = """
redis.call('HSET', KEYS[1], 'revoked', '1')
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 1
"""


class RefreshState(Enum):
    """What a presented refresh token is to its family."""

    UNKNOWN = "unknown"  # never issued (or the family expired)
    CURRENT = "current"  # the one token that may be used next
    ROTATED = "rotated"  # issued once, already exchanged: a replay (RFC 9700 §4.14.2)
    REVOKED = "revoked"  # the family is revoked


@dataclass(frozen=True, slots=True)
class FamilyRead:
    """A family as stored: its record (JSON) if any, and whether it is revoked."""

    record: str | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class RevocationRead:
    """Whether an access token is revoked: its family's ``record`` and ``revoked`` fields
    and its own marker. Both are only read, so a plain pipeline does (no ``MULTI``/``EXEC``:
    two commands fewer on every API call; a revocation landing between the two reads is seen
    by the next), and the reads can go in another store's pipeline (as
    :class:`~gateway.tokens.resource.SystemTokenRead` carries them)."""

    grant_id: str
    jti: str
    size: ClassVar[int] = 2

    def queue(self, pipe: RedisPipeline) -> None:
        pipe.hmget(family_key(self.grant_id), ["record", "revoked"])
        pipe.exists(revoked_access_key(self.grant_id, self.jti))

    @staticmethod
    def family(answers: Sequence[Any]) -> FamilyRead:
        (record, family_revoked), token_revoked = answers
        return FamilyRead(
            None if record is None else str(record),
            family_revoked is not None or bool(token_revoked),
        )


class TokenStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._create = redis.register_script(_CREATE)
        self._rotate = redis.register_script(_ROTATE)
        self._revoke = redis.register_script(_REVOKE)

    async def first_use(self, namespace: str, kind: str, jti: str, ttl_seconds: int) -> bool:
        """True the first time ``jti`` is seen in this namespace and kind within ``ttl``
        (RFC 7523 §3 item 7, RFC 9449 §11.1)."""
        created = await self._redis.set(
            used_jti_key(namespace, kind, jti), "1", nx=True, ex=max(1, ttl_seconds)
        )
        return bool(created)

    async def create_family(
        self, grant_id: str, record: str, refresh_digest: str | None, ttl_seconds: int
    ) -> bool:
        """Write a new family; False if the grant was revoked first."""
        result = await self._create(
            keys=[family_key(grant_id)], args=[record, refresh_digest or "", ttl_seconds]
        )
        return bool(int(result) == 1)

    async def remember_sign_in(self, sid: str, grant_id: str, ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(sign_in_grants_key(sid), grant_id)
            pipe.expire(sign_in_grants_key(sid), ttl_seconds)
            await pipe.execute()

    async def end_sign_in(self, sid: str, ttl_seconds: int) -> None:
        await self._redis.set(sign_in_ended_key(sid), "1", ex=ttl_seconds)

    async def sign_in_ended(self, sid: str) -> bool:
        return bool(await self._redis.exists(sign_in_ended_key(sid)))

    async def remember_client_grant(
        self, account_id: str, client_id: str, grant_id: str, ttl_seconds: int
    ) -> None:
        key = client_grants_key(account_id, client_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, grant_id)
            pipe.expire(key, ttl_seconds)
            await pipe.execute()

    async def take_client_grants(self, account_id: str, client_id: str) -> list[str]:
        key = client_grants_key(account_id, client_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.smembers(key)
            pipe.delete(key)
            members, _ = await pipe.execute()
        return sorted(str(m) for m in members)

    async def take_sign_in_grants(self, sid: str) -> list[str]:
        """The grants of a sign-in, forgetting them (a sign-in ends once)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.smembers(sign_in_grants_key(sid))
            pipe.delete(sign_in_grants_key(sid))
            members, _ = await pipe.execute()
        return sorted(str(m) for m in members)

    async def family(self, grant_id: str) -> FamilyRead:
        record, revoked = await self._redis.hmget(family_key(grant_id), ["record", "revoked"])
        return FamilyRead(None if record is None else str(record), revoked is not None)

    async def refresh_state(self, grant_id: str, refresh_digest: str) -> tuple[RefreshState, str]:
        """Where a refresh token stands, with the family record when it is current."""
        key = family_key(grant_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key, ["record", "current", "revoked"])
            pipe.hexists(key, f"old:{refresh_digest}")
            (record, current, revoked), rotated = await pipe.execute()
        if record is None:
            return RefreshState.UNKNOWN, ""
        if revoked is not None:
            return RefreshState.REVOKED, ""
        if current == refresh_digest:
            return RefreshState.CURRENT, str(record)
        return (RefreshState.ROTATED if rotated else RefreshState.UNKNOWN), ""

    async def rotate(self, grant_id: str, presented: str, replacement: str) -> bool:
        """Swap the current refresh token for its replacement; False (and the family revoked,
        if ``presented`` had been rotated away) when another use got there first."""
        result = await self._rotate(keys=[family_key(grant_id)], args=[presented, replacement])
        return bool(int(result) == 1)

    async def revoke_family(self, grant_id: str, keep_seconds: int) -> None:
        await self._revoke(keys=[family_key(grant_id)], args=[keep_seconds])

    async def revoke_access(self, grant_id: str, jti: str, ttl_seconds: int) -> None:
        await self._redis.set(revoked_access_key(grant_id, jti), "1", ex=max(1, ttl_seconds))

    async def access_revoked(self, grant_id: str, jti: str) -> FamilyRead:
        """The family of an access token, ``revoked`` if the grant or this token is."""
        read = RevocationRead(grant_id, jti)
        async with self._redis.pipeline(transaction=False) as pipe:
            read.queue(pipe)
            return read.family(await pipe.execute())
