"""Fixtures of the logout tests: an organisation for their clients, and a relying party's
back-channel logout endpoint over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.logout.receiver import Receiver, running_receiver


@pytest.fixture
async def organisation_id(runtime: Runtime) -> str:
    return await new_organisation(runtime)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started
