"""An access token's checked signature is remembered, to spare the ES256 check on every
request; its expiry and its revocation are not: both are checked again on every use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.ids import new_id
from gateway.oidc.errors import InvalidTokenError
from gateway.runtime import Runtime
from gateway.tokens.access import VERIFIED_CACHE_SIZE, AccessTokens
from gateway.tokens.dpop import DpopVerifier
from gateway.tokens.store import TokenStore
from tests.support.clock import MovableClock


def _checker(runtime: Runtime, clock: MovableClock) -> AccessTokens:
    store = TokenStore(runtime.redis)
    return AccessTokens(
        runtime.keys, store, DpopVerifier(store, clock), clock, issuer=runtime.settings.issuer
    )


def _token(runtime: Runtime, clock: MovableClock, lifetime: int = 300) -> tuple[str, str, str]:
    now = int(clock.now().timestamp())
    jti, grant = new_id("at"), new_id("grt")
    token = runtime.keys.sign(
        {
            "iss": runtime.settings.issuer,
            "sub": "someone",
            "aud": runtime.settings.issuer,
            "client_id": "cli_x",
            "iat": now,
            "exp": now + lifetime,
            "jti": jti,
            "grant_id": grant,
        },
        typ="at+jwt",
    )
    return token, grant, jti


async def test_a_remembered_token_is_refused_once_it_expires(runtime: Runtime) -> None:
    clock = MovableClock(datetime.now(UTC))
    access = _checker(runtime, clock)
    token, _, _ = _token(runtime, clock)
    assert (await access.verify(token)).claims["sub"] == "someone"
    clock.advance(seconds=301)
    with pytest.raises(InvalidTokenError, match="expired"):
        await access.verify(token)


async def test_a_remembered_token_is_refused_once_revoked(runtime: Runtime) -> None:
    clock = MovableClock(datetime.now(UTC))
    access = _checker(runtime, clock)
    token, grant, jti = _token(runtime, clock)
    await access.verify(token)
    await TokenStore(runtime.redis).revoke_access(grant, jti, 300)
    with pytest.raises(InvalidTokenError, match="revoked"):
        await access.verify(token)


async def test_a_changed_byte_is_checked_afresh_and_refused(runtime: Runtime) -> None:
    clock = MovableClock(datetime.now(UTC))
    access = _checker(runtime, clock)
    token, _, _ = _token(runtime, clock)
    await access.verify(token)
    head, body, signature = token.split(".")
    forged = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    assert access.signed_claims(forged) is None


async def test_the_memory_is_bounded(runtime: Runtime) -> None:
    clock = MovableClock(datetime.now(UTC))
    access = _checker(runtime, clock)
    first, _, _ = _token(runtime, clock)
    access.signed_claims(first)
    for _ in range(VERIFIED_CACHE_SIZE):
        access.signed_claims(_token(runtime, clock)[0])
    assert len(access._verified) == VERIFIED_CACHE_SIZE
    assert first not in access._verified
