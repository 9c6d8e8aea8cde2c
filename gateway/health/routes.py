"""``/healthz`` (the process answers), ``/readyz`` (it can do its job) and ``/metrics``.

Public: they reveal the store kind and AOF policy, which an operator needs and an attacker
learns nothing useful from; the store URL is shown without its password.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from gateway.core.errors import GovConnectError
from gateway.core.observability import metrics_response
from gateway.runtime import Runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process is serving (public)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="Readiness: the store answers and the signing keys are loaded (public)"
)
async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    body: dict[str, Any] = {"status": "ready"}
    try:
        status = await runtime.store_status()
        body["store"] = {
            "kind": status.kind,
            "url": status.url,
            "aof": status.aof,
            "ping_ms": round(status.ping_ms, 3),
        }
    except Exception as exc:
        body["status"] = "unavailable"
        body["store"] = {"kind": runtime.target.kind, "error": type(exc).__name__}
    try:
        body["keys"] = {"current": runtime.keys.current().kid}
    except GovConnectError as exc:
        body["status"] = "unavailable"
        body["keys"] = {"error": exc.detail}
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


@router.get("/metrics", summary="Prometheus metrics (public)", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return metrics_response(request)
