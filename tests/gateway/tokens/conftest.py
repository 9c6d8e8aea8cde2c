"""Fixtures of the token endpoint tests: an organisation and a verified account."""

from __future__ import annotations

import secrets

import pytest

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import PASSWORD


@pytest.fixture
async def organisation_id(runtime: Runtime) -> str:
    return await new_organisation(runtime)


@pytest.fixture(scope="session")
async def account(runtime: Runtime) -> Account:
    """A verified citizen, made once: accounts are slow to make (argon2id)."""
    return await runtime.accounts.create(
        f"citizen-{secrets.token_hex(5)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=None,
        actor=TEST_ACTOR,
    )
