"""Fixtures of the authorization endpoint tests: an organisation, and the gateway's issuer."""

from __future__ import annotations

import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation


@pytest.fixture
async def organisation_id(runtime: Runtime) -> str:
    return await new_organisation(runtime)


@pytest.fixture(scope="session")
def issuer(settings: Settings) -> str:
    """Every authorization response carries this as ``iss`` (RFC 9207)."""
    return settings.issuer
