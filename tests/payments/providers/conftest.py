"""Fixtures of the card provider tests: the Stripe stand-in served over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn

from payments.providers.stripe import StripeProvider
from payments.providers.stripe_local import StripeStandIn
from tests.support.servers import free_port


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    """A Stripe account of the test's own, served by uvicorn on a free loopback port; its
    base URL is ``stripe_api.base_url``."""
    stand_in = StripeStandIn()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            stand_in.app(), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="stripe-stand-in", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the Stripe stand-in did not start"
        time.sleep(0.02)
    stand_in.base_url = f"http://127.0.0.1:{port}"
    try:
        yield stand_in
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
async def stripe_provider(stripe_api: StripeStandIn) -> AsyncIterator[StripeProvider]:
    """The provider with the stand-in's secret key, pointed at it."""
    provider = StripeProvider(stripe_api.secret_key, api_base=stripe_api.base_url)
    yield provider
    await provider.aclose()
