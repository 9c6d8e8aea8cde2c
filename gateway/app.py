"""The FastAPI application: middleware, error handling and every package's routes.

``create_app()`` is what ``govconnect serve`` runs in each worker (frozen after start-up,
see ``gateway.cli.serve.served_app``); the lifespan connects to the store and builds the
:class:`~gateway.runtime.Runtime` that routes reach through ``request.app.state.runtime``,
and runs the notification delivery worker (when notifications are queued for GOV.UK Notify)
and the back-channel logout worker in the background until shutdown.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway import __version__
from gateway.accounts import routes as account_routes
from gateway.admin import routes as admin_routes
from gateway.authorize import routes as authorize_routes
from gateway.clients import routes as client_routes
from gateway.core import problems
from gateway.core.clock import Clock
from gateway.core.http import EdgeMiddleware
from gateway.core.observability import configure_logging
from gateway.core.queue import running
from gateway.core.settings import Settings
from gateway.delivery import routes as delivery_routes
from gateway.delivery import worker as delivery_worker
from gateway.health import routes as health_routes
from gateway.logout import routes as logout_routes
from gateway.logout import worker as logout_worker
from gateway.moves import routes as move_routes
from gateway.oidc import responses as oauth_responses
from gateway.organisations import routes as organisation_routes
from gateway.organisations.client_cert import ForwardedCertificateMiddleware
from gateway.passkeys import routes as passkey_routes
from gateway.runtime import open_runtime
from gateway.sessions import routes as session_routes
from gateway.signing import routes as signing_routes
from gateway.tokens import routes as token_routes
from gateway.web import routes as web_routes
from messaging import routes as messaging_routes
from messaging import worker as messaging_worker
from payments import routes as payment_routes
from payments import worker as payments_worker
from trust_levels.agents import routes as agent_routes
from trust_levels.businesses import routes as business_routes
from trust_levels.proofing import routes as proofing_routes


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, *, freeze: bool = False
) -> FastAPI:
    """The gateway as an ASGI app. ``freeze`` (what ``govconnect serve`` asks for) moves
    everything start-up built out of the garbage collector's reach once it has started."""
    settings = settings or Settings()
    settings.check_production()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, clock) as runtime,
            running(runtime.notification_worker()),
            running(logout_worker.backchannel_worker(runtime)),
            running(delivery_worker.delivery_worker(runtime)),
            messaging_worker.sweeping(runtime),
            running(payments_worker.payments_worker(runtime)),
        ):
            app.state.runtime = runtime
            if freeze:
                # What start-up built (routes, schemas, templates, keys: some 190,000 objects)
                # lives as long as the process. Left in the collector's oldest generation it
                # is re-scanned at every full collection, a 100 ms pause that sets the p99;
                # frozen, a full collection takes about 3 ms (docs/performance.md). The gc
                # module documents freeze() for exactly this, after start-up. Tests, which
                # build many apps in one process, leave it off.
                gc.freeze()
            yield

    app = FastAPI(
        title="GovConnect",
        version=__version__,
        summary="Sign-in, signed delivery, secure messaging and payments for councils.",
        lifespan=lifespan,
        docs_url="/docs" if not settings.is_production else None,
        redoc_url=None,
        # The gateway reports through its own access log and Prometheus metrics; FastAPI's
        # OpenTelemetry hooks would otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    oauth_responses.install(app)
    # FastAPI matches routes in order, one by one, at about 3 µs a route (docs/performance.md):
    # the hottest API paths come first, the pages (a few per sign-in) after them. No two
    # routers serve the same path, so the order changes only the cost.
    for module in (
        token_routes,
        payment_routes,
        delivery_routes,
        messaging_routes,
        signing_routes,
        authorize_routes,
        health_routes,
        admin_routes,
        organisation_routes,
        client_routes,
        session_routes,
        account_routes,
        passkey_routes,
        logout_routes,
        business_routes,
        agent_routes,
        proofing_routes,
        move_routes,
    ):
        app.include_router(module.router)
    if not settings.is_production:
        app.include_router(web_routes.router)
        app.include_router(proofing_routes.dev_router)
    web_routes.install(app)
    https_issuer = urlsplit(settings.issuer).scheme == "https"
    # Request ids, body limit, security headers, access log and metrics are one layer, which
    # also serves POST /token and POST /api/v1/submissions without FastAPI's routing
    # (docs/performance.md).
    app.add_middleware(
        EdgeMiddleware,
        https_issuer=https_issuer,
        limit=settings.max_request_bytes,
        direct={**token_routes.DIRECT, **delivery_routes.DIRECT, **messaging_routes.DIRECT},
    )
    if settings.trusted_proxies:
        # NOTE: X-Forwarded-For is believed only from these addresses; from anyone else the
        # peer address is the client address, so a spoofed header changes nothing.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if settings.client_cert_header:
        # Outermost, so it sees the balancer's own address before ProxyHeadersMiddleware
        # replaces it with the forwarded one (RFC 9440 §2; docs/deployment.md).
        app.add_middleware(ForwardedCertificateMiddleware, trusted=settings.trusted_proxies)
    return app
