"""Pushed authorization requests (RFC 9126).

The client authenticates (RFC 9126 §2.1: as at the token endpoint), the request is checked
exactly as ``/authorize`` would check it, and the validated request is kept under a
one-time ``request_uri`` for ``PUSHED_SECONDS``. The browser then carries only ``client_id``
and ``request_uri``, so nothing in the front channel can change what the client asked for.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from gateway.authorize.models import PAR_URN_PREFIX, PushedRequest
from gateway.authorize.store import RequestStore
from gateway.authorize.validation import RequestValidator, single_values
from gateway.tokens.client_auth import ClientAuthenticator

# RFC 9126 §2.2: short-lived; the browser is sent on at once.
PUSHED_SECONDS = 60


class PushedRequests:
    def __init__(
        self,
        authenticator: ClientAuthenticator,
        validator: RequestValidator,
        store: RequestStore,
        *,
        endpoint: str,
    ) -> None:
        self._authenticator = authenticator
        self._validator = validator
        self._store = store
        self._endpoint = endpoint

    async def push(
        self, form: Mapping[str, Sequence[str]], authorization: str | None
    ) -> PushedRequest:
        """Authenticate, validate, store; errors are OAuth errors for a JSON answer
        (RFC 9126 §2.3)."""
        first, _ = single_values(form)
        client = await self._authenticator.authenticate(
            first, authorization, endpoint=self._endpoint
        )
        request = await self._validator.back_channel(client, form)
        # 256 random bits: the URI is a bearer reference to the request (RFC 9126 §7.1).
        request_uri = PAR_URN_PREFIX + secrets.token_urlsafe(32)
        await self._store.push(request_uri, request, PUSHED_SECONDS)
        return PushedRequest(request_uri, PUSHED_SECONDS)
