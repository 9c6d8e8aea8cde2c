"""Redis keys and operations of the authorization endpoint.

Keys (each operation touches one key, so one slot):

    {gc:authz:<id>}              string  a validated request waiting for sign-in, step-up or
                                         consent (JSON), for ``PENDING_SECONDS``
    {gc:par:<sha256>}            string  a pushed request (RFC 9126) under the SHA-256 of its
                                         request_uri, taken once with GETDEL
    {gc:acct:<account>}:consents hash    client id → the scopes consented to (JSON); in the
                                         account's slot, beside its sessions index
"""

from __future__ import annotations

import hashlib
import json

from gateway.authorize.models import AuthorizationRequest, Consent
from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient


def pending_key(request_id: str) -> str:
    return tagged(f"authz:{request_id}")


def pushed_key(request_uri: str) -> str:
    # A digest: a copy of the store (or a key listing) yields no usable request_uri.
    return tagged(f"par:{hashlib.sha256(request_uri.encode()).hexdigest()}")


def consents_key(account_id: str) -> str:
    return tagged(f"acct:{account_id}", "consents")


class RequestStore:
    """Validated requests: pending ones (by id) and pushed ones (by request_uri)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def hold(self, request_id: str, request: AuthorizationRequest, ttl_seconds: int) -> None:
        await self._redis.set(
            pending_key(request_id), json.dumps(request.to_json()), ex=ttl_seconds
        )

    async def pending(self, request_id: str) -> AuthorizationRequest | None:
        raw = await self._redis.get(pending_key(request_id))
        return None if raw is None else AuthorizationRequest.from_json(json.loads(raw))

    async def release(self, request_id: str) -> bool:
        """Drop a pending request; True only for the caller that dropped it (so one resume
        issues one answer, however many times the browser reloads)."""
        return bool(await self._redis.delete(pending_key(request_id)))

    async def push(self, request_uri: str, request: AuthorizationRequest, ttl_seconds: int) -> None:
        await self._redis.set(
            pushed_key(request_uri), json.dumps(request.to_json()), ex=ttl_seconds
        )

    async def take_pushed(self, request_uri: str) -> AuthorizationRequest | None:
        """The pushed request, once: GETDEL (Redis 6.2) makes a second use find nothing."""
        raw = await self._redis.getdel(pushed_key(request_uri))
        return None if raw is None else AuthorizationRequest.from_json(json.loads(raw))


class ConsentStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def get(self, account_id: str, client_id: str) -> Consent | None:
        raw = await self._redis.hget(consents_key(account_id), client_id)
        return None if raw is None else Consent.from_json(client_id, json.loads(raw))

    async def put(self, account_id: str, consent: Consent) -> None:
        await self._redis.hset(
            consents_key(account_id), consent.client_id, json.dumps(consent.to_json())
        )

    async def all(self, account_id: str) -> list[Consent]:
        raw = await self._redis.hgetall(consents_key(account_id))
        return [Consent.from_json(str(client), json.loads(value)) for client, value in raw.items()]

    async def remove(self, account_id: str, client_id: str) -> bool:
        return bool(await self._redis.hdel(consents_key(account_id), client_id))

    async def remove_all(self, account_id: str) -> None:
        """For account deletion: the consents go with the account."""
        await self._redis.delete(consents_key(account_id))
