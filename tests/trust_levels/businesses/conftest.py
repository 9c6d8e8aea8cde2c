"""A business service on the real test store with a clock the tests can move, and the
people and business most tests start from."""

from __future__ import annotations

import pytest

from gateway.runtime import Runtime
from tests.support.clock import MovableClock
from tests.trust_levels.businesses.support import Person, person
from trust_levels.businesses.models import Business, NewBusiness
from trust_levels.businesses.services import BusinessService
from trust_levels.businesses.store import BusinessStore


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def businesses(runtime: Runtime, clock: MovableClock) -> BusinessService:
    """The service as the runtime builds it, on a movable clock (invitations expire)."""
    return BusinessService(
        BusinessStore(runtime.redis),
        clock,
        runtime.evidence,
        runtime.accounts,
        runtime.notifier,
        issuer=runtime.settings.issuer,
    )


@pytest.fixture
async def owner(runtime: Runtime) -> Person:
    return await person(runtime)


@pytest.fixture
async def business(businesses: BusinessService, owner: Person) -> Business:
    """A sole trader's business (no number, so tests never clash) owned by ``owner``."""
    return await businesses.create(
        owner.account_id, NewBusiness.parse("Anytown Plumbing", "sole_trader", "", agent=False)
    )
