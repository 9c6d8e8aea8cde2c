"""Redis keys and operations of business accounts: the only file that spells their keys.

Slots (Redis Cluster hash tags), so every atomic step touches one slot:

``{gc:bus:<id>}``       everything about one business:
    ``:record``           string: the business (JSON)
    ``:members``          hash: account id → role
    ``:joined``           hash: account id → when they joined (ISO 8601)
    ``:groups``           hash: account id → agent user groups (JSON list; absent: none)
    ``:invitations``      hash: invitation id → invitation (JSON), while it waits
    ``:services``         hash: service → enrolment (JSON)
``{gc:binv:<sha256>}``  string: the business and invitation a link's secret names, under the
                        SHA-256 of the secret, expiring with the invitation
``{gc:acct:<id>}:businesses``  set: the businesses an account belongs to (in the account's
                        slot, beside its sessions and consents)
``{gc:businesses}``     the registry: ``:numbers`` (hash: register:number → business id, the
                        uniqueness index) and ``:index`` (sorted set: business ids by creation)

Steps that touch two slots are ordered so a crash between them is harmless, never a
cross-slot transaction:

- the business's own hashes are the truth; an account's ``businesses`` set is an index that
  counts only where the business still lists the account (:meth:`BusinessStore.memberships`
  skips the rest). Joining writes the business first, then the index; leaving removes from
  the business first, then the index.
- an invitation's entry in ``:invitations`` is the gate: accepting and revoking each delete
  it, atomically with adding the member, so exactly one of them wins and a link works once.
- a new business is written first (unreachable until registered), then registered (its
  number claimed and its id listed, one script in the registry's slot), then put in its
  creator's index. When the number is taken the written business is deleted again. A crash
  after registering leaves a business the operator's list shows but its creator's does not.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from trust_levels.businesses.models import Business, Enrolment, Invitation, Membership, Role

NUMBERS = tagged("businesses", "numbers")
INDEX = tagged("businesses", "index")


def _slot(business_id: str) -> str:
    return f"bus:{business_id}"


def record_key(business_id: str) -> str:
    return tagged(_slot(business_id), "record")


def members_key(business_id: str) -> str:
    return tagged(_slot(business_id), "members")


def joined_key(business_id: str) -> str:
    return tagged(_slot(business_id), "joined")


def groups_key(business_id: str) -> str:
    return tagged(_slot(business_id), "groups")


def invitations_key(business_id: str) -> str:
    return tagged(_slot(business_id), "invitations")


def services_key(business_id: str) -> str:
    return tagged(_slot(business_id), "services")


def account_businesses_key(account_id: str) -> str:
    return tagged(f"acct:{account_id}", "businesses")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(digest: str) -> str:
    return tagged(f"binv:{digest}")


# How many administrators the members hash (KEYS[1]) holds; shared by the scripts that must
# never leave a business without one.
_COUNT_ADMINISTRATORS = """
local function administrators()
  local count = 0
  for _, role in ipairs(redis.call('HVALS', KEYS[1])) do
    if role == 'administrator' then count = count + 1 end
  end
  return count
end
"""

# KEYS: record, members, joined. ARGV: business JSON, creator, role, joined at.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return 1
"""

# KEYS: members. ARGV: account, new role. -1 not a member, 0 the last administrator, 1 done.
_SET_ROLE = (
    _COUNT_ADMINISTRATORS
    + """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current == 'administrator' and ARGV[2] ~= 'administrator' and administrators() <= 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
)

# KEYS: members, joined, groups. ARGV: account. -1 not a member, 0 last administrator, 1 done.
_REMOVE = (
    _COUNT_ADMINISTRATORS
    + """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current == 'administrator' and administrators() <= 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""
)

# KEYS: invitations. ARGV: id, invitation JSON, limit.
# 0 when the business already has ``limit`` invitations waiting.
_INVITE = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: invitations, members, joined. ARGV: invitation id, account, role, joined at.
# 0 the invitation is gone (used, revoked), 2 already a member (the invitation is used up),
# 1 joined.
_ACCEPT = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 2 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return 1
"""

# KEYS: members, groups. ARGV: account, groups JSON ('' for none). 0 not a member.
_SET_GROUPS = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1
"""

# KEYS: numbers, index. ARGV: number index ('' for none), business id, creation time.
# Returns the id holding the number: the business's own when it was registered.
_REGISTER = """
if ARGV[1] ~= '' then
  local holder = redis.call('HGET', KEYS[1], ARGV[1])
  if holder then return holder end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return ARGV[2]
"""


class BusinessStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._create = redis.register_script(_CREATE)
        self._set_role = redis.register_script(_SET_ROLE)
        self._remove = redis.register_script(_REMOVE)
        self._invite = redis.register_script(_INVITE)
        self._accept = redis.register_script(_ACCEPT)
        self._set_groups = redis.register_script(_SET_GROUPS)
        self._register = redis.register_script(_REGISTER)

    # --- the registry -----------------------------------------------------------------------

    async def create(self, business: Business, number_index: str | None, creator: str) -> str:
        """Write and register the business with its creator as its first administrator.

        Returns the id of the business holding ``number_index``: ``business.id`` when it was
        created, another business's id when the number was taken (and nothing is kept).
        """
        keys = [record_key(business.id), members_key(business.id), joined_key(business.id)]
        joined = business.created_at.isoformat()
        written = await self._create(
            keys=keys,
            args=[json.dumps(business.to_json()), creator, Role.ADMINISTRATOR.value, joined],
        )
        assert written, "a new business id is 128 random bits: it cannot exist already"
        holder = str(
            await self._register(
                keys=[NUMBERS, INDEX],
                args=[number_index or "", business.id, business.created_at.timestamp()],
            )
        )
        if holder != business.id:
            await self._redis.delete(*keys)
            return holder
        await self._redis.sadd(account_businesses_key(creator), business.id)
        return holder

    async def get(self, business_id: str) -> Business | None:
        raw = await self._redis.get(record_key(business_id))
        return Business.from_json(json.loads(raw)) if raw else None

    async def page(self, offset: int, limit: int) -> list[str]:
        """Business ids, oldest first."""
        return [str(i) for i in await self._redis.zrange(INDEX, offset, offset + limit - 1)]

    # --- members ------------------------------------------------------------------------------

    async def membership(self, business_id: str, account_id: str) -> Membership | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(members_key(business_id), account_id)
            pipe.hget(joined_key(business_id), account_id)
            pipe.hget(groups_key(business_id), account_id)
            role, joined, groups = await pipe.execute()
        if role is None or joined is None:
            return None
        return _membership(business_id, account_id, role, joined, groups)

    async def members(self, business_id: str) -> list[Membership]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(members_key(business_id))
            pipe.hgetall(joined_key(business_id))
            pipe.hgetall(groups_key(business_id))
            roles, joined, groups = await pipe.execute()
        found = [
            _membership(business_id, account, role, joined[account], groups.get(account))
            for account, role in roles.items()
            if account in joined
        ]
        return sorted(found, key=lambda m: (m.joined_at, m.account_id))

    async def business_ids(self, account_id: str) -> list[str]:
        """The account's index: may name businesses it has since left (see the module)."""
        members = await self._redis.smembers(account_businesses_key(account_id))
        return sorted(str(member) for member in members)

    async def unindex(self, account_id: str, business_id: str) -> None:
        await self._redis.srem(account_businesses_key(account_id), business_id)

    async def set_role(self, business_id: str, account_id: str, role: Role) -> int:
        """1 changed, 0 refused (the last administrator), -1 not a member."""
        result = await self._set_role(
            keys=[members_key(business_id)], args=[account_id, role.value]
        )
        return int(result)

    async def remove(self, business_id: str, account_id: str) -> int:
        """1 removed, 0 refused (the last administrator), -1 not a member."""
        keys = [members_key(business_id), joined_key(business_id), groups_key(business_id)]
        result = int(await self._remove(keys=keys, args=[account_id]))
        if result == 1:
            await self.unindex(account_id, business_id)
        return result

    async def set_groups(self, business_id: str, account_id: str, groups: frozenset[str]) -> bool:
        value = json.dumps(sorted(groups)) if groups else ""
        result = await self._set_groups(
            keys=[members_key(business_id), groups_key(business_id)], args=[account_id, value]
        )
        return bool(result)

    # --- invitations --------------------------------------------------------------------------

    async def add_invitation(self, invitation: Invitation, *, limit: int, ttl_seconds: int) -> bool:
        """Keep the invitation and the key its link finds it by; False over the limit."""
        added = await self._invite(
            keys=[invitations_key(invitation.business_id)],
            args=[invitation.id, json.dumps(invitation.to_json()), limit],
        )
        if not added:
            return False
        await self._redis.set(
            token_key(invitation.digest),
            json.dumps({"business_id": invitation.business_id, "invitation_id": invitation.id}),
            ex=ttl_seconds,
        )
        return True

    async def invitations(self, business_id: str) -> list[Invitation]:
        rows = await self._redis.hvals(invitations_key(business_id))
        found = (Invitation.from_json(json.loads(row)) for row in rows)
        return sorted(found, key=lambda i: (i.created_at, i.id))

    async def invitation(self, business_id: str, invitation_id: str) -> Invitation | None:
        raw = await self._redis.hget(invitations_key(business_id), invitation_id)
        return Invitation.from_json(json.loads(raw)) if raw else None

    async def find_invitation(self, digest: str) -> Invitation | None:
        """The waiting invitation a link's secret (by its digest) names, if any."""
        raw = await self._redis.get(token_key(digest))
        if raw is None:
            return None
        names = json.loads(raw)
        return await self.invitation(names["business_id"], names["invitation_id"])

    async def drop_invitation(self, invitation: Invitation) -> bool:
        """Revoke (or clear an expired one); True only for the caller that removed it."""
        removed = await self._redis.hdel(invitations_key(invitation.business_id), invitation.id)
        await self._redis.delete(token_key(invitation.digest))
        return bool(removed)

    async def accept(self, invitation: Invitation, account_id: str, joined_at: datetime) -> int:
        """1 joined, 2 already a member, 0 the invitation is gone; the link stops working."""
        business_id = invitation.business_id
        result = int(
            await self._accept(
                keys=[
                    invitations_key(business_id),
                    members_key(business_id),
                    joined_key(business_id),
                ],
                args=[invitation.id, account_id, invitation.role.value, joined_at.isoformat()],
            )
        )
        await self._redis.delete(token_key(invitation.digest))
        if result == 1:
            await self._redis.sadd(account_businesses_key(account_id), business_id)
        return result

    # --- service enrolments -------------------------------------------------------------------

    async def enrol(self, enrolment: Enrolment) -> bool:
        """False when the business is enrolled in that service already."""
        added = await self._redis.hsetnx(
            services_key(enrolment.business_id),
            enrolment.service,
            json.dumps(enrolment.to_json()),
        )
        return bool(added)

    async def unenrol(self, business_id: str, service: str) -> bool:
        return bool(await self._redis.hdel(services_key(business_id), service))

    async def enrolments(self, business_id: str) -> list[Enrolment]:
        rows = await self._redis.hvals(services_key(business_id))
        return sorted(
            (Enrolment.from_json(json.loads(row)) for row in rows), key=lambda e: e.service
        )


def _membership(
    business_id: str, account_id: str, role: str, joined: str, groups: str | None
) -> Membership:
    return Membership(
        business_id=business_id,
        account_id=account_id,
        role=Role(role),
        groups=frozenset(json.loads(groups)) if groups else frozenset(),
        joined_at=datetime.fromisoformat(joined),
    )
