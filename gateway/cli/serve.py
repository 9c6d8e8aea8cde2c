"""``govconnect serve``: run the gateway with uvicorn, owning the embedded store if any."""

from __future__ import annotations

import os
import shutil
import threading
from typing import Annotated

import typer
import uvicorn

from gateway.cli.common import fail, settings
from gateway.core.errors import ConfigurationError
from gateway.core.observability import configure_logging
from gateway.core.redis import EmbeddedRedis


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
) -> None:
    """Serve the gateway. With no GOVCONNECT_REDIS_URL, an embedded Redis runs beside it."""
    config = settings()
    try:
        config.check_production()
    except ConfigurationError as exc:
        fail(exc.detail)
    configure_logging(config.log_level)
    worker_count = workers or config.workers
    embedded = None if config.redis_url else EmbeddedRedis(config.redis_dir)
    stop = threading.Event()
    if embedded is not None:
        try:
            embedded.ensure_running()
        except ConfigurationError as exc:
            fail(exc.detail)
        embedded.watch(stop)
    if worker_count > 1:
        # prometheus_client merges the workers' figures from files in this folder.
        metrics_dir = config.data_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    try:
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=host or config.host,
            port=port or config.port,
            workers=worker_count,
            log_config=None,
            access_log=False,
            server_header=False,
            # The app itself believes X-Forwarded-For only from GOVCONNECT_TRUSTED_PROXIES;
            # uvicorn's own handling (which trusts 127.0.0.1 by default) stays off.
            proxy_headers=False,
        )
    finally:
        stop.set()
        if embedded is not None:
            embedded.stop()
