"""The FastAPI application: middleware, error handling and every package's routes.

``create_app()`` is what ``govconnect serve`` runs in each worker; the lifespan connects to the
store and builds the :class:`~gateway.runtime.Runtime` that routes reach through
``request.app.state.runtime``, and runs the notification delivery worker (when notifications
are queued for GOV.UK Notify) and the back-channel logout worker in the background until
shutdown.
"""

from __future__ import annotations

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
from gateway.core.http import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from gateway.core.observability import ObservabilityMiddleware, configure_logging
from gateway.core.queue import running
from gateway.core.settings import Settings
from gateway.health import routes as health_routes
from gateway.logout import routes as logout_routes
from gateway.logout import worker as logout_worker
from gateway.oidc import responses as oauth_responses
from gateway.organisations import routes as organisation_routes
from gateway.runtime import open_runtime
from gateway.sessions import routes as session_routes
from gateway.signing import routes as signing_routes
from gateway.tokens import routes as token_routes
from gateway.web import routes as web_routes


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_production()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, clock) as runtime,
            running(runtime.notification_worker()),
            running(logout_worker.backchannel_worker(runtime)),
        ):
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="GovConnect",
        version=__version__,
        summary="Sign-in, signed delivery, secure messaging and payments for councils.",
        lifespan=lifespan,
        docs_url="/docs" if not settings.is_production else None,
        redoc_url=None,
    )
    problems.install(app)
    oauth_responses.install(app)
    # Starlette matches routes in order, one by one: the hottest API paths come first.
    for module in (
        token_routes,
        signing_routes,
        authorize_routes,
        health_routes,
        admin_routes,
        organisation_routes,
        client_routes,
        session_routes,
        account_routes,
        logout_routes,
    ):
        app.include_router(module.router)
    if not settings.is_production:
        app.include_router(web_routes.router)
    web_routes.install(app)
    https_issuer = urlsplit(settings.issuer).scheme == "https"
    # Outermost first in the list below is innermost in the stack: Starlette wraps in reverse.
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware, https_issuer=https_issuer)
    app.add_middleware(ObservabilityMiddleware)
    if settings.trusted_proxies:
        # NOTE: X-Forwarded-For is believed only from these addresses; from anyone else the
        # peer address is the client address, so a spoofed header changes nothing.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
