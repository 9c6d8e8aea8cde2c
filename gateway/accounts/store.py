"""Redis keys and operations of people's accounts: the only file that spells their keys.

Slots (Redis Cluster hash tags), so that every atomic step touches one slot:

``{gc:acct:<id>}``    everything about one account:
    ``:account``          hash: ``record`` (account JSON), ``password`` (Argon2id PHC string),
                          ``totp`` (sealed TOTP secret), ``totp_step`` (last accepted step)
    ``:totp-pending``     string: a sealed secret awaiting its first code (expires)
    ``:recovery``         set: SHA-256 digests of unused recovery codes
    ``:code:<purpose>``   hash: a one-time code's digest, tries, expiry and target (expires)
    ``:sent``             counter: codes sent for the account in the current window
    ``:step-failures``    hash: throttle of second steps and password re-entry
``{gc:email:<sha256>}`` one email address (the digest of it lower-cased):
    (the key itself)      string: the id of the account that holds the address
    ``:sent``             counter: codes and notices sent to the address in the window
    ``:signin``, ``:signin-device:<id>``, ``:signin-ip:<bucket>``: sign-in throttle
``{gc:phone:<sha256>}:sent``   counter: codes texted to one number in the window
``{gc:signin-ip:<bucket>}``    hash: sign-in throttle of one client address (or IPv6 /64)

Changes that touch two slots (the email index and the account) are ordered single-slot
steps, each safe to retry, never a cross-slot transaction. The invariant that makes the
order safe: an index entry counts only if the account it names exists *and* holds that
address (:meth:`AccountStore.find_by_email`). A step that crashed half-way leaves at most an
index entry that does not count (the next claim of that address replaces it), or an account
record that no entry leads to (unreachable; an operator can still find it by id).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from redis.typing import EncodableT, FieldT

from gateway.accounts.models import Account, CodePurpose, email_digest
from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient


def _account_slot(account_id: str) -> str:
    return f"acct:{account_id}"


def account_key(account_id: str) -> str:
    return tagged(_account_slot(account_id), "account")


def pending_totp_key(account_id: str) -> str:
    return tagged(_account_slot(account_id), "totp-pending")


def recovery_key(account_id: str) -> str:
    return tagged(_account_slot(account_id), "recovery")


def code_key(account_id: str, purpose: CodePurpose) -> str:
    return tagged(_account_slot(account_id), "code", purpose.value)


def account_sends_key(account_id: str) -> str:
    return tagged(_account_slot(account_id), "sent")


def step_failures_key(account_id: str) -> str:
    return tagged(_account_slot(account_id), "step-failures")


def email_index_key(digest: str) -> str:
    return tagged(f"email:{digest}")


def email_sends_key(digest: str) -> str:
    return tagged(f"email:{digest}", "sent")


def phone_sends_key(digest: str) -> str:
    return tagged(f"phone:{digest}", "sent")


def signin_email_key(digest: str) -> str:
    return tagged(f"email:{digest}", "signin")


def signin_device_key(digest: str, device_id: str) -> str:
    return tagged(f"email:{digest}", "signin-device", device_id)


def signin_pair_key(digest: str, bucket: str) -> str:
    return tagged(f"email:{digest}", "signin-ip", bucket)


def signin_ip_key(bucket: str) -> str:
    return tagged(f"signin-ip:{bucket}")


def _account_keys(account_id: str) -> list[str]:
    """Every key in an account's slot, for deletion."""
    return [
        account_key(account_id),
        pending_totp_key(account_id),
        recovery_key(account_id),
        account_sends_key(account_id),
        step_failures_key(account_id),
        *(code_key(account_id, purpose) for purpose in CodePurpose),
    ]


# KEYS[1] an index entry; ARGV: the claiming account id, the holder it may replace ('' for
# none). Claims a free address, keeps one already ours, replaces a holder the caller found to
# be stale; anything else (a live holder) is refused. SET NX semantics in one step, so of two
# registrations of one address exactly one wins.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] or (ARGV[2] ~= '' and holder == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# KEYS[1] an index entry; ARGV[1] the account id: delete only if it still names that account.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] account; ARGV: the record as read, the record to write: compare-and-set, so a
# change based on a stale read is retried by the service, never silently undoing another.
_REPLACE = """
if redis.call('HGET', KEYS[1], 'record') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[2])
return 1
"""

# KEYS[1] account; ARGV: the hash expected ('' for any), the new hash. Only an existing
# account; with an expected hash, only if it is still the stored one (a rehash at sign-in
# must never write back an old password over a reset that happened meanwhile).
_SET_HASH = """
if redis.call('HEXISTS', KEYS[1], 'record') == 0 then return 0 end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
"""

# KEYS: account, recovery, pending; ARGV: record as read, new record, sealed secret ('' to
# remove TOTP), accepted step ('' for none), then recovery code digests. Switches TOTP on (or
# off) with its recovery codes in one step.
_SET_TOTP = """
if redis.call('HGET', KEYS[1], 'record') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'totp', 'totp_step')
else
  redis.call('HSET', KEYS[1], 'totp', ARGV[3])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'totp_step', ARGV[4]) end
end
redis.call('DEL', KEYS[2], KEYS[3])
if #ARGV > 4 then redis.call('SADD', KEYS[2], unpack(ARGV, 5)) end
return 1
"""

# KEYS[1] account; ARGV: the sealed secret the code was checked against, the time step.
# RFC 6238 §5.2: a step is accepted once, and never one at or before the last accepted.
_ACCEPT_STEP = """
if redis.call('HGET', KEYS[1], 'totp') ~= ARGV[1] then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'totp_step') or '-1')
if tonumber(ARGV[2]) <= last then return 0 end
redis.call('HSET', KEYS[1], 'totp_step', ARGV[2])
return 1
"""

# KEYS[1] a code; ARGV: digest offered, now (ms), most wrong tries. Returns {1, target} when
# the code is right (and deletes it: single use), {0} otherwise; a wrong try is counted and
# the last allowed wrong try deletes the code, as does a check after its expiry.
_CONSUME_CODE = """
local code = redis.call('HMGET', KEYS[1], 'digest', 'tries', 'expires_at', 'target')
if not code[1] then return {0} end
if tonumber(code[3]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {0}
end
if code[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1, code[4] or ''}
end
if redis.call('HINCRBY', KEYS[1], 'tries', 1) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
end
return {0}
"""

# KEYS[1] a send counter; ARGV: window (ms), limit. A fixed window from the first send;
# returns 0 when this send is within the limit, else the ms until the window ends.
_COUNT_SEND = """
local sent = redis.call('INCR', KEYS[1])
if sent == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if sent > tonumber(ARGV[2]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return left
end
return 0
"""


def _dump(account: Account) -> str:
    return json.dumps(account.to_json(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Versioned:
    """An account as read, with the exact stored record as its version for compare-and-set."""

    account: Account
    version: str


class AccountStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self.redis = redis  # the sign-in throttle runs its own scripts on the same keys
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._replace = redis.register_script(_REPLACE)
        self._set_hash = redis.register_script(_SET_HASH)
        self._set_totp = redis.register_script(_SET_TOTP)
        self._accept_step = redis.register_script(_ACCEPT_STEP)
        self._consume_code = redis.register_script(_CONSUME_CODE)
        self._count_send = redis.register_script(_COUNT_SEND)

    # --- accounts and the email index ------------------------------------------------------

    async def create(self, account: Account, password_hash: str, totp: str | None = None) -> bool:
        """Store a new account and claim its address; False (and nothing kept) when another
        account holds the address.

        The record is written before the index is claimed, so a concurrent registration never
        finds a claim whose account is not there yet and mistakes it for a stale one. A crash
        between the two steps leaves a record no address leads to: unreachable, harmless.
        """
        fields: dict[FieldT, EncodableT] = {"record": _dump(account), "password": password_hash}
        if totp is not None:
            fields["totp"] = totp
        await self._redis.hset(account_key(account.id), mapping=fields)
        if await self.claim_email(account.email, account.id):
            return True
        await self._redis.delete(*_account_keys(account.id))
        return False

    async def get(self, account_id: str) -> Versioned | None:
        raw = await self._redis.hget(account_key(account_id), "record")
        if not raw:
            return None
        return Versioned(Account.from_json(json.loads(raw)), str(raw))

    async def find_by_email(self, email: str) -> Account | None:
        """The account that holds ``email``: the index entry must name an account that exists
        and still has that address, or it does not count."""
        digest = email_digest(email)
        holder = await self._redis.get(email_index_key(digest))
        return await self._live_holder(str(holder), digest) if holder else None

    async def _live_holder(self, account_id: str, digest: str) -> Account | None:
        read = await self.get(account_id)
        if read is None or read.account.email_key != digest:
            return None
        return read.account

    async def claim_email(self, email: str, account_id: str) -> bool:
        """Make ``email`` lead to ``account_id``; False if another live account holds it.

        A holder that does not count (its account is gone or has moved to another address)
        is replaced, by compare-and-set on that exact holder.
        """
        digest = email_digest(email)
        key = email_index_key(digest)
        for _ in range(3):
            if await self._claim(keys=[key], args=[account_id, ""]):
                return True
            holder = await self._redis.get(key)
            if holder is None:  # released since: claim afresh
                continue
            if await self._live_holder(str(holder), digest) is not None:
                return False
            if await self._claim(keys=[key], args=[account_id, str(holder)]):
                return True
        return False

    async def release_email(self, email: str, account_id: str) -> None:
        """Remove the index entry for ``email`` if it still names ``account_id``."""
        await self._release(keys=[email_index_key(email_digest(email))], args=[account_id])

    async def replace(self, read: Versioned, after: Account) -> bool:
        """Write ``after`` only if the stored record is still the one ``read`` saw."""
        result = await self._replace(
            keys=[account_key(read.account.id)], args=[read.version, _dump(after)]
        )
        return bool(result == 1)

    async def delete(self, account_id: str) -> None:
        """Remove the account and everything in its slot (one slot: one atomic DEL)."""
        await self._redis.delete(*_account_keys(account_id))

    # --- password --------------------------------------------------------------------------

    async def password_hash(self, account_id: str) -> str | None:
        raw = await self._redis.hget(account_key(account_id), "password")
        return str(raw) if raw else None

    async def set_password(self, account_id: str, new_hash: str, *, replacing: str = "") -> bool:
        """Store a new hash; with ``replacing``, only if that is still the stored hash."""
        result = await self._set_hash(keys=[account_key(account_id)], args=[replacing, new_hash])
        return bool(result == 1)

    # --- TOTP and recovery codes -------------------------------------------------------------

    async def set_pending_totp(self, account_id: str, sealed: str, ttl_seconds: int) -> None:
        await self._redis.set(pending_totp_key(account_id), sealed, ex=ttl_seconds)

    async def pending_totp(self, account_id: str) -> str | None:
        raw = await self._redis.get(pending_totp_key(account_id))
        return str(raw) if raw else None

    async def totp_secret(self, account_id: str) -> str | None:
        raw = await self._redis.hget(account_key(account_id), "totp")
        return str(raw) if raw else None

    async def set_totp(
        self,
        read: Versioned,
        after: Account,
        *,
        sealed: str | None,
        step: int | None = None,
        recovery_digests: tuple[str, ...] = (),
    ) -> bool:
        """Switch TOTP on (``sealed``) or off (``None``), replacing the recovery codes and
        dropping any pending enrolment, if the record is still the one ``read`` saw."""
        account_id = read.account.id
        result = await self._set_totp(
            keys=[account_key(account_id), recovery_key(account_id), pending_totp_key(account_id)],
            args=[
                read.version,
                _dump(after),
                sealed or "",
                "" if step is None else str(step),
                *recovery_digests,
            ],
        )
        return bool(result == 1)

    async def accept_totp_step(self, account_id: str, sealed: str, step: int) -> bool:
        result = await self._accept_step(keys=[account_key(account_id)], args=[sealed, str(step)])
        return bool(result == 1)

    async def replace_recovery_codes(self, account_id: str, digests: tuple[str, ...]) -> None:
        key = recovery_key(account_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.sadd(key, *digests)
            await pipe.execute()

    async def use_recovery_code(self, account_id: str, digest: str) -> bool:
        """Remove the digest; True only for the one caller that removed it (single use)."""
        return bool(await self._redis.srem(recovery_key(account_id), digest))

    async def recovery_codes_left(self, account_id: str) -> int:
        return int(await self._redis.scard(recovery_key(account_id)))

    # --- one-time codes and send limits ------------------------------------------------------

    async def put_code(
        self,
        account_id: str,
        purpose: CodePurpose,
        digest: str,
        *,
        expires_at_ms: int,
        ttl_seconds: int,
        target: str | None,
    ) -> None:
        """Store a code's digest, replacing any earlier code for the same purpose."""
        key = code_key(account_id, purpose)
        fields: dict[FieldT, EncodableT] = {
            "digest": digest,
            "tries": 0,
            "expires_at": expires_at_ms,
        }
        if target is not None:
            fields["target"] = target
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl_seconds + 5)  # the record's own expiry is what counts
            await pipe.execute()

    async def consume_code(
        self, account_id: str, purpose: CodePurpose, digest: str, *, now_ms: int, max_tries: int
    ) -> tuple[bool, str | None]:
        """Whether the code was right (it is then gone) and the target stored with it."""
        result = await self._consume_code(
            keys=[code_key(account_id, purpose)], args=[digest, now_ms, max_tries]
        )
        if int(result[0]) != 1:
            return False, None
        return True, (str(result[1]) or None)

    async def discard_code(self, account_id: str, purpose: CodePurpose) -> None:
        await self._redis.delete(code_key(account_id, purpose))

    async def count_email_send(self, email: str, *, window_seconds: int, limit: int) -> int:
        """Count one message to an address; 0 within the limit, else ms left in the window."""
        key = email_sends_key(email_digest(email))
        return await self._count(key, window_seconds, limit)

    async def count_phone_send(self, phone: str, *, window_seconds: int, limit: int) -> int:
        """Count one text to a number; 0 within the limit, else ms left in the window."""
        key = phone_sends_key(hashlib.sha256(phone.encode()).hexdigest())
        return await self._count(key, window_seconds, limit)

    async def count_account_send(self, account_id: str, *, window_seconds: int, limit: int) -> int:
        """Count one code sent for an account; 0 within the limit, else ms left."""
        return await self._count(account_sends_key(account_id), window_seconds, limit)

    async def _count(self, key: str, window_seconds: int, limit: int) -> int:
        return int(await self._count_send(keys=[key], args=[window_seconds * 1000, limit]))
