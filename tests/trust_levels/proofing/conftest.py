"""Fixtures of the identity proofing tests: a council with identity officers."""

from __future__ import annotations

import pytest

from gateway.runtime import Runtime
from tests.trust_levels.proofing.support import new_council


@pytest.fixture
async def council_id(runtime: Runtime) -> str:
    return await new_council(runtime)
