"""Admin tokens: shown once, stored as a digest, refused once revoked."""

from __future__ import annotations

import pytest

from gateway.admin.errors import AdminAuthenticationError
from gateway.admin.store import BY_DIGEST, TOKENS
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.support.evidence import recorded


async def test_a_new_token_authenticates_as_its_name(runtime: Runtime) -> None:
    issued = await runtime.admin.create_token("ops-alice", TEST_ACTOR)
    actor = await runtime.admin.authenticate(issued.secret)
    assert str(actor) == "admin-token:ops-alice"


@pytest.mark.parametrize(
    "secret",
    [None, "", "gcadm_" + "A" * 43, "Bearer x", "gcadm_" + "x" * 200],
    ids=["missing", "empty", "unknown", "wrong-prefix", "oversized"],
)
async def test_unknown_or_malformed_tokens_are_refused(
    runtime: Runtime, secret: str | None
) -> None:
    with pytest.raises(AdminAuthenticationError):
        await runtime.admin.authenticate(secret)


async def test_a_revoked_token_no_longer_authenticates(runtime: Runtime) -> None:
    issued = await runtime.admin.create_token("temp", TEST_ACTOR)
    await runtime.admin.revoke_token(issued.token.id, TEST_ACTOR)
    with pytest.raises(AdminAuthenticationError):
        await runtime.admin.authenticate(issued.secret)


async def test_the_secret_is_not_kept_in_the_store(runtime: Runtime) -> None:
    issued = await runtime.admin.create_token("digest-only", TEST_ACTOR)
    listed = [t.to_json() for t in await runtime.admin.tokens()]
    assert issued.secret not in repr(listed)
    stored = await runtime.redis.hgetall(TOKENS)
    stored |= await runtime.redis.hgetall(BY_DIGEST)
    assert issued.secret not in repr(stored)


async def test_token_creation_and_revocation_are_in_the_evidence_log(runtime: Runtime) -> None:
    issued = await runtime.admin.create_token("audited", TEST_ACTOR)
    await runtime.admin.revoke_token(issued.token.id, TEST_ACTOR)
    assert await recorded(runtime.evidence, "admin-token.created", issued.token.id)
    assert await recorded(runtime.evidence, "admin-token.revoked", issued.token.id)
