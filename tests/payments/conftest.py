"""Fixtures of the payment tests."""

from __future__ import annotations

import pytest

from gateway.runtime import Runtime
from tests.payments.support import Keyed, new_key


@pytest.fixture
async def keyed(runtime: Runtime) -> Keyed:
    """A test key of a new council service."""
    return await new_key(runtime)
