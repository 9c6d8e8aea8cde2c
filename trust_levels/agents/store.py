"""Redis keys and operations of agent relationships; the only file of the package that names a
key.

A relationship is one hash in its own slot, holding its fields (see
:meth:`~trust_levels.agents.models.Relationship.to_fields`) and, while it is an invitation,
the SHA-256 of its link's secret (``invite``), the keyed digest of the client's known facts
(``facts``) and the count of wrong answers (``attempts``). Every change of state is a Lua
compare-and-set on that one key, so a link accepted twice at once, or accepted while being
revoked, has exactly one outcome. Indexes are sets in the slot of what they index; an id in an
index whose relationship has gone is skipped.

    {gc:rel:<id>}                                  hash    the relationship
    {gc:relinvite:<sha256 of link secret>}         string  the relationship an invitation
                                                           link names, until it expires
    {gc:agentorg:<business id>}:relationships      set     an agent organisation's
    {gc:agentclient:<account id>}:relationships    set     a client's accepted ones
    {gc:agentinvitee:<sha256 of email>}:invites    set     invitations sent to an address
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from redis.typing import EncodableT, FieldT

from gateway.accounts.models import email_digest
from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from trust_levels.agents.models import Relationship, RelationshipState

# How long a relationship that ended stays readable (its history; the evidence log keeps the
# record for good).
RETENTION_SECONDS = 400 * 86_400


def digest(value: str) -> str:
    """SHA-256 hex of an invitation link's secret: what the store keeps instead of it."""
    return hashlib.sha256(value.encode()).hexdigest()


def relationship_key(relationship_id: str) -> str:
    return tagged(f"rel:{relationship_id}")


def invite_key(invite_digest: str) -> str:
    return tagged(f"relinvite:{invite_digest}")


def organisation_index_key(business_id: str) -> str:
    return tagged(f"agentorg:{business_id}", "relationships")


def client_index_key(account_id: str) -> str:
    return tagged(f"agentclient:{account_id}", "relationships")


def invitee_index_key(email: str) -> str:
    return tagged(f"agentinvitee:{email_digest(email)}", "invites")


# KEYS[1] relationship; ARGV: link digest, facts digest, attempt limit, account id, client
# name, accepted-at. A wrong answer counts against the limit; the right one, within it,
# activates the relationship and forgets the link and the facts (the link is single-use).
_ACCEPT = """
local s = redis.call('HMGET', KEYS[1], 'state', 'invite', 'facts', 'attempts')
if not s[1] or s[1] ~= 'pending' or s[2] ~= ARGV[1] then return {'missing', 0} end
local limit = tonumber(ARGV[3])
local attempts = tonumber(s[4] or '0')
if attempts >= limit then return {'locked', 0} end
if s[3] ~= ARGV[2] then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  return {'mismatch', limit - attempts}
end
redis.call('HSET', KEYS[1], 'state', 'active', 'client_account_id', ARGV[4],
  'client_name', ARGV[5], 'accepted_at', ARGV[6])
redis.call('HDEL', KEYS[1], 'invite', 'facts')
redis.call('PERSIST', KEYS[1])
return {'ok', 0}
"""

# KEYS[1] relationship; ARGV: allowed states (comma-separated), the link digest it must still
# hold ('' for any), whether the relationship ends ('1': forget the link and facts, keep the
# record RETENTION seconds), retention, then field/value pairs to write.
_UPDATE = """
local s = redis.call('HMGET', KEYS[1], 'state', 'invite')
if not s[1] then return 0 end
if not string.find(',' .. ARGV[1] .. ',', ',' .. s[1] .. ',', 1, true) then return 0 end
if ARGV[2] ~= '' and s[2] ~= ARGV[2] then return 0 end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[1], 'invite', 'facts')
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


class AcceptOutcome(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no pending invitation behind this link (used, withdrawn, unknown)
    LOCKED = "locked"  # the attempt limit was reached before
    MISMATCH = "mismatch"  # wrong known facts (``remaining`` tries left)


@dataclass(frozen=True, slots=True)
class Acceptance:
    outcome: AcceptOutcome
    remaining: int


class RelationshipStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._accept = redis.register_script(_ACCEPT)
        self._update = redis.register_script(_UPDATE)

    async def create(
        self,
        relationship: Relationship,
        *,
        invite_digest: str,
        facts_digest: str,
        invite_ttl_seconds: int,
    ) -> None:
        """Write a new invitation, then its indexes (each in its own slot)."""
        key = relationship_key(relationship.id)
        fields: dict[FieldT, EncodableT] = {"invite": invite_digest, "facts": facts_digest}
        fields.update(relationship.to_fields())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, invite_ttl_seconds + RETENTION_SECONDS)
            await pipe.execute()
        await self._redis.set(invite_key(invite_digest), relationship.id, ex=invite_ttl_seconds)
        await self._redis.sadd(organisation_index_key(relationship.agent_id), relationship.id)
        await self._redis.sadd(invitee_index_key(relationship.invitee_email), relationship.id)

    async def get(self, relationship_id: str) -> Relationship | None:
        fields = await self._redis.hgetall(relationship_key(relationship_id))
        if not fields or "id" not in fields:
            return None
        return Relationship.from_fields({str(k): str(v) for k, v in fields.items()})

    async def by_invite(self, invite_digest: str) -> str | None:
        found = await self._redis.get(invite_key(invite_digest))
        return None if found is None else str(found)

    async def accept(
        self,
        relationship: Relationship,
        *,
        invite_digest: str,
        facts_digest: str,
        attempt_limit: int,
        account_id: str,
        client_name: str,
        accepted_at: str,
    ) -> Acceptance:
        outcome, remaining = await self._accept(
            keys=[relationship_key(relationship.id)],
            args=[invite_digest, facts_digest, attempt_limit, account_id, client_name, accepted_at],
        )
        result = Acceptance(AcceptOutcome(str(outcome)), int(remaining))
        if result.outcome is AcceptOutcome.OK:
            await self._redis.delete(invite_key(invite_digest))
            await self._redis.sadd(client_index_key(account_id), relationship.id)
            await self._redis.srem(invitee_index_key(relationship.invitee_email), relationship.id)
        return result

    async def update(
        self,
        relationship: Relationship,
        *,
        allowed: frozenset[RelationshipState],
        fields: dict[str, str],
        ends: bool,
        invite_digest: str = "",
    ) -> bool:
        """Write ``fields`` if the stored state is still one of ``allowed`` (and, when given,
        the invitation link is still ``invite_digest``); ``ends`` forgets the link and facts and
        keeps the record for the retention period. False when another change got there first."""
        states = ",".join(sorted(s.value for s in allowed))
        pairs = [item for pair in fields.items() for item in pair]
        done = await self._update(
            keys=[relationship_key(relationship.id)],
            args=[states, invite_digest, "1" if ends else "0", RETENTION_SECONDS, *pairs],
        )
        if int(done) == 1 and ends:
            await self._redis.srem(invitee_index_key(relationship.invitee_email), relationship.id)
        return bool(int(done) == 1)

    async def forget_invite(self, invite_digest: str) -> None:
        await self._redis.delete(invite_key(invite_digest))

    async def for_organisation(self, business_id: str) -> list[Relationship]:
        return await self._members(organisation_index_key(business_id))

    async def for_client(self, account_id: str) -> list[Relationship]:
        return await self._members(client_index_key(account_id))

    async def for_invitee(self, email: str) -> list[Relationship]:
        return await self._members(invitee_index_key(email))

    async def _members(self, index: str) -> list[Relationship]:
        """The relationships an index names, dropping ids whose record has gone."""
        found: list[Relationship] = []
        gone: list[str] = []
        for member in sorted(str(m) for m in await self._redis.smembers(index)):
            relationship = await self.get(member)
            if relationship is None:
                gone.append(member)
            else:
                found.append(relationship)
        if gone:
            await self._redis.srem(index, *gone)
        return found
