"""A client's public keys for ``private_key_jwt`` and signed request objects: the registered
``jwks``, or the JWK Set its ``jwks_uri`` serves (RFC 7591 §2, OIDC Core §10.1.1).

A fetched set is cached for a short time; a ``kid`` the cached copy lacks makes one refetch
(the client rotated its keys, OIDC Core §10.1.1), at most once per ``refetch_interval`` so a
stream of made-up kids cannot turn the gateway into a request generator.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet

from gateway.clients.models import Client
from gateway.oidc.errors import InvalidClientError

MAX_JWKS_BYTES = 64 * 1024
MAX_KEYS = 20
# Registered sets parsed, by content; see ClientKeys.keyset.
MAX_PARSED_SETS = 1024
# RFC 7517 §9.2, RFC 7518 §6.2.2 / §6.3.2 / §6.4.1, RFC 8037 §2: members only a private or
# a symmetric key has. A set that holds one is refused whole: its owner published a secret.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})


@dataclass(frozen=True, slots=True)
class _Fetched:
    keys: KeySet
    fetched_at: float


def key_set(document: object, source: str) -> KeySet:
    """A JWK Set of public signature keys (RFC 7517 §5); anything else is refused.

    Only EC, RSA and OKP keys are kept: an ``oct`` (symmetric) key would let an HMAC
    algorithm stand in for a signature (RFC 8725 §2.1).
    """
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys or len(keys) > MAX_KEYS:
        raise InvalidClientError(
            f"The client's {source} is not a JWK Set of 1 to {MAX_KEYS} keys (RFC 7517 §5)."
        )
    imported = []
    for key in keys:
        if not isinstance(key, dict):
            continue
        if PRIVATE_MEMBERS & key.keys():
            raise InvalidClientError(
                f"The client's {source} holds private or symmetric key material; it must "
                "publish public keys only."
            )
        if key.get("kty") not in _KEY_TYPES:
            continue
        if key.get("use", "sig") != "sig":
            continue
        try:
            imported.append(JWKRegistry.import_key(key))
        except (JoseError, ValueError, TypeError):
            continue
    if not imported:
        raise InvalidClientError(f"The client's {source} holds no usable public signing key.")
    return KeySet(imported)


class ClientKeys:
    """Resolves a client's verification keys; outbound HTTP goes through ``transport``."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        ttl_seconds: float = 300.0,
        refetch_interval: float = 10.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._transport = transport
        self._ttl = ttl_seconds
        self._refetch_interval = refetch_interval
        self._timeout = timeout_seconds
        # NOTE: a per-process cache (DESIGN.md §1.3 keeps shared state in Redis): it only
        # saves fetches, another process that lacks it fetches for itself. A client that
        # withdraws a compromised key from its jwks_uri is trusted with it for up to
        # ``ttl_seconds`` more, the usual JWKS caching trade-off (OIDC Core §10.1.1).
        self._cache: dict[str, _Fetched] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._parsed: dict[str, KeySet] = {}

    async def keyset(self, client: Client, *, kid: str | None = None) -> KeySet:
        """The client's keys. With ``kid``, a cached ``jwks_uri`` set that lacks it is
        fetched again once (key rotation at the client)."""
        if client.jwks is not None:
            return self._registered(client.jwks)
        if client.jwks_uri is None:
            raise InvalidClientError(
                f"The client {client.client_id} has no registered keys (jwks or jwks_uri)."
            )
        return await self._remote(client.jwks_uri, kid)

    def _registered(self, jwks: dict[str, Any]) -> KeySet:
        """The registered set, parsed once per distinct content: importing keys costs more
        than the signature check they serve. Keyed by the set itself, as read from the store
        with the client on every request, so a changed registration is never answered from
        an old entry."""
        content = json.dumps(jwks, sort_keys=True, separators=(",", ":"))
        keys = self._parsed.get(content)
        if keys is None:
            keys = key_set(jwks, "registered jwks")
            if len(self._parsed) >= MAX_PARSED_SETS:
                self._parsed.clear()
            self._parsed[content] = keys
        return keys

    async def _remote(self, uri: str, kid: str | None) -> KeySet:
        lock = self._locks.setdefault(uri, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            cached = self._cache.get(uri)
            if cached is not None and now - cached.fetched_at < self._ttl:
                known = kid is None or any(key.kid == kid for key in cached.keys)
                if known or now - cached.fetched_at < self._refetch_interval:
                    return cached.keys
            keys = await self._fetch(uri)
            self._cache[uri] = _Fetched(keys, time.monotonic())
            return keys

    async def _fetch(self, uri: str) -> KeySet:
        """GET the set: no redirects (the registered URL is the one trusted), a timeout and a
        size limit read as a stream, so a slow or huge answer cannot hold a worker."""
        # NOTE: jwks_uri is set by an administrator and must be https (gateway.clients.models),
        # so the gateway fetches only URLs an operator vetted; it does not filter addresses.
        try:
            async with (
                httpx.AsyncClient(
                    transport=self._transport, timeout=self._timeout, follow_redirects=False
                ) as http,
                http.stream("GET", uri, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise InvalidClientError(
                        f"The client's jwks_uri answered HTTP {response.status_code}."
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_JWKS_BYTES:
                        raise InvalidClientError(
                            f"The client's jwks_uri answered more than {MAX_JWKS_BYTES} bytes."
                        )
        except httpx.HTTPError as exc:
            raise InvalidClientError(
                f"The client's jwks_uri could not be fetched ({type(exc).__name__})."
            ) from exc
        try:
            document: Any = json.loads(body)
        except ValueError:
            raise InvalidClientError("The client's jwks_uri did not answer JSON.") from None
        return key_set(document, "jwks_uri document")
