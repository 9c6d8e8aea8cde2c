"""Fixtures of the client registry tests."""

from __future__ import annotations

import pytest

from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation


@pytest.fixture
async def organisation_id(runtime: Runtime) -> str:
    """A registered organisation the test's clients belong to."""
    return await new_organisation(runtime)
