"""Fixtures of the payment tests."""

from __future__ import annotations

import json
import secrets

import pytest
from openapi_core import OpenAPI

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.payments.support import SPEC, Contract, Keyed, new_key


@pytest.fixture
async def keyed(runtime: Runtime) -> Keyed:
    """A test key of a new council service."""
    return await new_key(runtime)


@pytest.fixture
def queue_name() -> str:
    """A webhook queue of the test's own."""
    return f"test-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def spec(settings: Settings) -> Contract:
    """The GOV.UK Pay public API specification, to validate real responses against."""
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    # The specification names no server; ours is the issuer.
    document["servers"] = [{"url": settings.issuer}]
    return Contract(OpenAPI.from_dict(document), settings.issuer)
