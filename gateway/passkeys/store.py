"""Redis keys and operations of passkeys: the only file that spells their keys.

Slots (Redis Cluster hash tags), so that every atomic step touches one slot:

``{gc:passkeys:<account id>}``  one account's passkeys:
    ``:credentials``   hash: credential id (base64url) → the passkey's record (JSON)
    ``:usage``         hash: ``n:<credential id>`` the signature counter, ``at:<credential
                       id>`` when it was last used (ISO 8601)
    ``:user``          string: the account's WebAuthn user handle (base64url, 32 random bytes)
``{gc:passkey:<sha256 of the credential id>}``  string: the id of the account holding the
                       credential (claimed once: no credential can belong to two accounts)
``{gc:webauthn:<session handle>}:<ceremony>``  string: the challenge a browser session was
                       given for one ceremony (five minutes, taken once with ``GETDEL``)

The owner index and the account's records are two slots. Adding claims the index first, so
two accounts can never hold one credential; removing deletes the record first. The invariant
that makes either order safe to interrupt: a credential counts only when the index names an
account *and* that account's hash holds the record, so a step that crashed half-way leaves at
most an index entry that leads nowhere.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from gateway.passkeys.models import CHALLENGE_TTL_SECONDS, Ceremony, Challenge, Passkey


def _slot(account_id: str) -> str:
    return f"passkeys:{account_id}"


def credentials_key(account_id: str) -> str:
    return tagged(_slot(account_id), "credentials")


def usage_key(account_id: str) -> str:
    return tagged(_slot(account_id), "usage")


def user_handle_key(account_id: str) -> str:
    return tagged(_slot(account_id), "user")


def owner_key(credential_id: str) -> str:
    return tagged("passkey:" + hashlib.sha256(credential_id.encode()).hexdigest())


def challenge_key(session_handle: str, ceremony: Ceremony) -> str:
    return tagged(f"webauthn:{session_handle}", ceremony.value)


# KEYS[1] the owner index entry; ARGV[1] the account: claims a free credential id or keeps
# one the account already holds (a retried add); another account's is refused.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

# KEYS[1] the owner index entry; ARGV[1] the account: delete only if it still names it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: credentials, usage; ARGV: credential id, record, sign count. Refuses an id the
# account already has a record for (a second add of one credential).
_ADD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'n:' .. ARGV[1], ARGV[3])
return 1
"""

# KEYS: credentials, usage; ARGV: credential id, the counter the assertion carried, now.
# WebAuthn §7.2 step 22: when either counter is non-zero, the new one must be greater than
# the stored one, or the credential may have been cloned. Checked and advanced in one step,
# so two concurrent assertions with one counter value cannot both pass. Returns 1 when
# advanced, 0 when the counter did not move forward, -1 when the passkey is gone.
_USE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
local stored = tonumber(redis.call('HGET', KEYS[2], 'n:' .. ARGV[1]) or '0')
local offered = tonumber(ARGV[2])
if (offered > 0 or stored > 0) and offered <= stored then return 0 end
redis.call('HSET', KEYS[2], 'n:' .. ARGV[1], ARGV[2], 'at:' .. ARGV[1], ARGV[3])
return 1
"""

# KEYS[1] credentials; ARGV: credential id, the record as read, the new record.
_REPLACE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS: credentials, usage; ARGV[1] credential id. Returns 1 when a record was removed.
_REMOVE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'n:' .. ARGV[1], 'at:' .. ARGV[1])
return removed
"""


class PasskeyStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._add = redis.register_script(_ADD)
        self._use = redis.register_script(_USE)
        self._replace = redis.register_script(_REPLACE)
        self._remove = redis.register_script(_REMOVE)

    # --- challenges -------------------------------------------------------------------------

    async def put_challenge(
        self, session_handle: str, ceremony: Ceremony, challenge: Challenge
    ) -> None:
        """One challenge per session and ceremony: a newer one replaces the older."""
        await self._redis.set(
            challenge_key(session_handle, ceremony), challenge.to_json(), ex=CHALLENGE_TTL_SECONDS
        )

    async def take_challenge(self, session_handle: str, ceremony: Ceremony) -> Challenge | None:
        """The session's challenge for the ceremony, removed as it is read (single use)."""
        raw = await self._redis.getdel(challenge_key(session_handle, ceremony))
        return Challenge.from_json(str(raw)) if raw else None

    # --- the user handle --------------------------------------------------------------------

    async def user_handle(self, account_id: str, fresh: str) -> str:
        """The account's user handle, set to ``fresh`` if it has none yet."""
        await self._redis.set(user_handle_key(account_id), fresh, nx=True)
        return str(await self._redis.get(user_handle_key(account_id)))

    async def existing_user_handle(self, account_id: str) -> str | None:
        raw = await self._redis.get(user_handle_key(account_id))
        return str(raw) if raw else None

    # --- passkeys ---------------------------------------------------------------------------

    async def add(self, passkey: Passkey) -> bool:
        """Store a new passkey; False when the credential is already registered (to this
        account or another)."""
        account_id = passkey.account_id
        if not await self._claim(keys=[owner_key(passkey.id)], args=[account_id]):
            return False
        added = await self._add(
            keys=[credentials_key(account_id), usage_key(account_id)],
            args=[passkey.id, passkey.to_json(), passkey.sign_count],
        )
        return bool(added)

    async def owner(self, credential_id: str) -> str | None:
        """The account the index names for a credential (check its record exists too)."""
        raw = await self._redis.get(owner_key(credential_id))
        return str(raw) if raw else None

    async def get(self, account_id: str, credential_id: str) -> Passkey | None:
        raw = await self._redis.hget(credentials_key(account_id), credential_id)
        if not raw:
            return None
        count, used = await self._redis.hmget(
            usage_key(account_id), [f"n:{credential_id}", f"at:{credential_id}"]
        )
        return Passkey.from_json(str(raw), int(count or 0), _time(used))

    async def raw(self, account_id: str, credential_id: str) -> str | None:
        """The stored record, as the version a compare-and-set change is based on."""
        raw = await self._redis.hget(credentials_key(account_id), credential_id)
        return str(raw) if raw else None

    async def replace(self, account_id: str, credential_id: str, old: str, new: str) -> bool:
        replaced = await self._replace(
            keys=[credentials_key(account_id)], args=[credential_id, old, new]
        )
        return bool(replaced)

    async def of_account(self, account_id: str) -> list[Passkey]:
        records = await self._redis.hgetall(credentials_key(account_id))
        usage = await self._redis.hgetall(usage_key(account_id))
        return [
            Passkey.from_json(
                str(raw), int(usage.get(f"n:{cid!s}") or 0), _time(usage.get(f"at:{cid!s}"))
            )
            for cid, raw in records.items()
        ]

    async def record_use(
        self, account_id: str, credential_id: str, sign_count: int, at: datetime
    ) -> int:
        """See ``_USE``: 1 advanced, 0 the counter did not move forward, -1 passkey gone."""
        result = await self._use(
            keys=[credentials_key(account_id), usage_key(account_id)],
            args=[credential_id, sign_count, at.isoformat()],
        )
        return int(result)

    async def remove(self, account_id: str, credential_id: str) -> bool:
        """The record first, then the index entry (see the module docstring)."""
        removed = await self._remove(
            keys=[credentials_key(account_id), usage_key(account_id)], args=[credential_id]
        )
        await self._release(keys=[owner_key(credential_id)], args=[account_id])
        return bool(removed)

    async def forget(self, account_id: str) -> None:
        """Everything kept for an account (its deletion): records first, then the index."""
        credential_ids = await self._redis.hkeys(credentials_key(account_id))
        await self._redis.delete(
            credentials_key(account_id), usage_key(account_id), user_handle_key(account_id)
        )
        for credential_id in credential_ids:
            await self._release(keys=[owner_key(str(credential_id))], args=[account_id])


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
