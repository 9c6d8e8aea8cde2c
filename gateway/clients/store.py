"""Redis keys and operations of the client registry (slot ``gc:clients``).

Each client is one JSON string; a sorted set of ids, scored by creation time, is the index
that listing reads, so nothing ever needs ``KEYS`` or ``SCAN``. Every key carries the
``gc:clients`` hash tag, so the multi-key writes below stay in one Redis Cluster slot. Every
change to a client publishes its id on :data:`CHANGES`, so that processes keeping records
(:mod:`gateway.clients.cache`) drop theirs before anyone can act on the change (a new
client needs none: an unknown id is never kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.clients.cache import ClientCache
from gateway.clients.models import AuthMethod, Client, GrantType, IdTokenAlg
from gateway.core.errors import ConfigurationError
from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient

INDEX = tagged("clients", "ids")  # sorted set: client id, scored by creation time (epoch ms)
CHANGES = tagged("clients", "changes")  # pub/sub channel: the id of each client written


def client_key(client_id: str) -> str:
    return tagged("clients", "client", client_id)  # string: the client record as JSON


# KEYS[1] client record; ARGV: the record the writer read, the record to write in its place,
# the change channel, the client id. A compare-and-set, so a change based on a stale read (a
# PATCH racing a disable) is retried by the service instead of silently undoing the other
# change; the change is published in the same step.
_REPLACE = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


def _dump(client: Client) -> str:
    record: dict[str, Any] = {
        **client.to_json(),
        "secret_hash": client.secret_hash,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def _load(raw: str) -> Client:
    record = json.loads(raw)
    return Client(
        client_id=record["client_id"],
        organisation_id=record["organisation_id"],
        client_name=record["client_name"],
        redirect_uris=tuple(record["redirect_uris"]),
        post_logout_redirect_uris=tuple(record["post_logout_redirect_uris"]),
        backchannel_logout_uri=record["backchannel_logout_uri"],
        grant_types=tuple(GrantType(g) for g in record["grant_types"]),
        scope=record["scope"],
        token_endpoint_auth_method=AuthMethod(record["token_endpoint_auth_method"]),
        jwks=record["jwks"],
        jwks_uri=record["jwks_uri"],
        sector_identifier=record["sector_identifier"],
        min_level=record["min_level"],
        id_token_signed_response_alg=IdTokenAlg(record["id_token_signed_response_alg"]),
        first_party=record["first_party"],
        require_par=record["require_par"],
        require_dpop=record["require_dpop"],
        secret_hash=record["secret_hash"],
        created_at=datetime.fromisoformat(record["created_at"]),
        updated_at=datetime.fromisoformat(record["updated_at"]),
        disabled=record["disabled"],
    )


@dataclass(frozen=True, slots=True)
class Versioned:
    """A client as read, with the exact stored record as its version for compare-and-set."""

    client: Client
    version: str


class ClientStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._replace = redis.register_script(_REPLACE)
        # NOTE: on a Redis Cluster every lookup reads the store: keeping records there would
        # need the change channel on every node's connection, which is not built yet.
        self._cache = ClientCache(redis, CHANGES) if isinstance(redis, Redis) else None

    async def add(self, client: Client) -> None:
        score = int(client.created_at.timestamp() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(client_key(client.client_id), _dump(client))
            pipe.zadd(INDEX, {client.client_id: score})
            await pipe.execute()

    async def check_changes(self) -> None:
        """Refuse to start where the Redis user may not publish on :data:`CHANGES` (every
        change to a client would fail) or subscribe to it (no process could keep records);
        docs/architecture.md shows the ACL that allows both. Subscribes this process.

        A store that cannot be reached is no reason to refuse: a worker restarted during an
        outage must start, answer 503 and recover by itself (tests/resilience/test_faults.py);
        the check is then left to the first change, and the subscription to the background.
        """
        try:
            await self._redis.publish(CHANGES, "")  # an id no client has: nothing is dropped
            if self._cache is not None:
                await self._cache.start()
        except (RedisConnectionError, RedisTimeoutError):
            return
        except NoPermissionError as exc:
            raise ConfigurationError(
                f"the Redis user may not publish on or subscribe to {CHANGES}, where every "
                "change to a client is announced: add `&{gc:*` and "
                "`+publish +subscribe +unsubscribe` to its ACL (docs/architecture.md, "
                "Hardening an external Redis)"
            ) from exc

    @property
    def keeping(self) -> bool:
        """Whether lookups may be answered from records this process keeps."""
        return self._cache is not None and self._cache.listening

    async def get(self, client_id: str) -> Client | None:
        """The client, as kept by this process while it hears of every change, else read."""
        if self._cache is None:
            return await self._read(client_id)
        return await self._cache.get(client_id, self._read)

    async def _read(self, client_id: str) -> Client | None:
        raw = await self._redis.get(client_key(client_id))
        return _load(str(raw)) if raw else None

    async def aclose(self) -> None:
        if self._cache is not None:
            await self._cache.aclose()

    async def versioned(self, client_id: str) -> Versioned | None:
        raw = await self._redis.get(client_key(client_id))
        return Versioned(_load(str(raw)), str(raw)) if raw else None

    async def all(self) -> list[Client]:
        """Every client, oldest first."""
        ids = await self._redis.zrange(INDEX, 0, -1)
        if not ids:
            return []
        # The connection decodes responses (gateway.core.redis.connect): every value is str.
        rows = await self._redis.mget([client_key(str(client_id)) for client_id in ids])
        return [_load(str(raw)) for raw in rows if raw]

    async def replace(self, read: Versioned, after: Client) -> bool:
        """Write ``after`` only if the stored record is still the one ``read`` saw; False
        when another writer changed (or removed) the client first."""
        client_id = read.client.client_id
        result = await self._replace(
            keys=[client_key(client_id)], args=[read.version, _dump(after), CHANGES, client_id]
        )
        if self._cache is not None:
            self._cache.forget(client_id)
        return bool(result == 1)
