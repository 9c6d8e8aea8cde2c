"""Request ids, structured JSON logs and Prometheus metrics.

Each request gets an id (a caller's ``X-Request-ID`` is kept when it is short and plain,
otherwise a fresh one); the id is on every log line written while serving the request, on
problem responses and in the ``X-Request-ID`` response header. Metrics are labelled by the
route's path template, never the raw path, so ids in URLs cannot explode the label space.
:class:`gateway.core.http.EdgeMiddleware` calls these for every request.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gateway.core.requestctx import current_request_id

access_log = logging.getLogger("gateway.access")
REQUEST_ID_HEADER = b"x-request-id"

REQUESTS = Counter(
    "govconnect_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
LATENCY = Histogram(
    "govconnect_http_request_duration_seconds",
    "Time to serve an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


# What every LogRecord carries by itself; anything else on a record came in ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__
) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message``, then every
    ``extra`` field (the request id among them), ``exc_info`` and ``stack_info`` when set.

    The fields and their names are python-json-logger's with the renames this gateway used;
    building the object directly costs about a quarter of what its general formatter did, and
    the access log writes one line per request (docs/performance.md). The time's seconds
    part is formatted once per second.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _RECORD_ATTRIBUTES:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


def configure_logging(level: str) -> None:
    """One JSON object per line on stderr, each with the request id where there is one."""
    # The logging HOWTO's "Optimization" section: none of these is in the JSON lines, and
    # finding the caller walks the stack on every record (a measurable share of a request).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log repeats ours without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def request_id(incoming: bytes | None) -> str:
    """The caller's ``X-Request-ID`` when it is short and plain, otherwise a fresh one."""
    if (
        incoming
        and len(incoming) <= 64
        and all(chr(b).isalnum() or chr(b) in "-_." for b in incoming)
    ):
        return incoming.decode()
    return secrets.token_hex(8)


def route_template(scope: Scope) -> str:
    """The path template of the route that served ``scope`` (the metrics label)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


# The labelled series, looked up once per label set (``labels()`` validates its arguments and
# takes a lock on every call). It holds what prometheus_client keeps anyway, one entry per
# series, and the route label is a template, so it grows no further than the metrics do.
_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one served request, and write its access log line."""
    series = _series.get((method, route, status))
    if series is None:
        series = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _series[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


def metrics_response(_: Request) -> Response:
    """Prometheus text exposition; merges every worker's figures in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
