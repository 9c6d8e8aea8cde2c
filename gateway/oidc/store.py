"""Redis keys and operations for authorization codes.

A code is kept as the SHA-256 of its value (a copy of the store yields no usable codes), in
its own slot, for at most its lifetime. Redeeming is one Lua script: the first call takes
the grant and leaves a marker; a second call within the marker's life finds it and learns
which grant to revoke (RFC 6749 §4.1.2: "if an authorization code is used more than once…
SHOULD revoke all tokens previously issued based on that authorization code").
"""

from __future__ import annotations

import hashlib
import json

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from gateway.oidc.models import AuthorizationGrant, Redemption

# How long a redeemed code is remembered, to catch a replay after the code itself expired.
REUSE_MEMORY_SECONDS = 600

_REDEEM = """
local grant = redis.call('HGET', KEYS[1], 'grant')
if grant then
  local id = redis.call('HGET', KEYS[1], 'id')
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
  return {1, grant}
end
local reused = redis.call('GET', KEYS[2])
if reused then return {2, reused} end
return {0, ''}
"""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def code_key(code: str) -> str:
    return tagged(f"code:{_digest(code)}")


def redeemed_key(code: str) -> str:
    return tagged(f"code:{_digest(code)}", "redeemed")


class CodeStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._redeem = redis.register_script(_REDEEM)

    async def put(self, code: str, grant: AuthorizationGrant, ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                code_key(code), mapping={"grant": json.dumps(grant.to_json()), "id": grant.grant_id}
            )
            pipe.expire(code_key(code), ttl_seconds)
            await pipe.execute()

    async def redeem(self, code: str) -> Redemption:
        """Take the grant once; a second presentation reports the grant id to revoke."""
        outcome, value = await self._redeem(
            keys=[code_key(code), redeemed_key(code)], args=[REUSE_MEMORY_SECONDS]
        )
        if int(outcome) == 1:
            return Redemption(AuthorizationGrant.from_json(json.loads(value)))
        if int(outcome) == 2:
            return Redemption(None, reused_grant_id=str(value))
        return Redemption(None)
