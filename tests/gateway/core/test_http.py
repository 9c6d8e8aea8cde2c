"""Every response carries the security headers; every error is an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
from prometheus_client import REGISTRY
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.app import create_app
from gateway.core.settings import Settings
from tests.gateway.core.support import serving, with_direct
from tests.support.servers import threaded_gateway

PROBLEM = "application/problem+json"


async def test_healthz_answers(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_the_store_and_aof_policy(http: httpx.AsyncClient) -> None:
    body = (await http.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["store"]["kind"] in {"embedded", "external", "cluster"}
    assert body["store"]["aof"] in {"always", "everysec", "no", "off", "unknown"}
    assert body["store"]["ping_ms"] >= 0
    assert body["keys"]["current"]


@pytest.mark.parametrize("path", ["/healthz", "/no/such/page"])
async def test_security_headers_on_success_and_error(http: httpx.AsyncClient, path: str) -> None:
    headers = (await http.get(path)).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers  # plain http: HSTS would be ignored


async def test_hsts_is_sent_when_the_issuer_is_https(settings: Settings) -> None:
    https_settings = settings.model_copy(update={"issuer": "https://gateway.example.gov.uk"})
    with threaded_gateway(https_settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_unknown_path_is_a_problem_with_guidance(http: httpx.AsyncClient) -> None:
    response = await http.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:govconnect:problem:not-found"
    assert body["status"] == 404 and "Check the path" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


async def test_wrong_method_is_a_problem(http: httpx.AsyncClient) -> None:
    response = await http.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_a_plain_request_id_is_kept_and_a_hostile_one_replaced(
    http: httpx.AsyncClient,
) -> None:
    kept = await http.get("/healthz", headers={"X-Request-ID": "council-abc-123"})
    assert kept.headers["x-request-id"] == "council-abc-123"
    hostile = "<script>alert(1)</script>" + "x" * 80
    replaced = await http.get("/healthz", headers={"X-Request-ID": hostile})
    assert replaced.headers["x-request-id"] not in {hostile, "council-abc-123"}
    assert replaced.headers["x-request-id"].isalnum()


@pytest.fixture
async def small_limit_gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    limited = settings.model_copy(update={"max_request_bytes": 1024})
    with threaded_gateway(limited) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            yield client


async def test_a_declared_oversized_body_is_refused_before_reading(
    small_limit_gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await small_limit_gateway.post(
        "/admin/v1/organisations", content=b"x" * 5000, headers=admin_headers
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert "1024-byte limit" in response.json()["detail"]


async def test_a_chunked_body_is_cut_off_at_the_limit(
    small_limit_gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b'{"name": "' + b"x" * 100

    response = await small_limit_gateway.post(
        "/admin/v1/organisations",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:govconnect:problem:request-too-large"


async def test_metrics_are_exposed_for_prometheus(http: httpx.AsyncClient) -> None:
    await http.get("/healthz")
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert (
        'govconnect_http_requests_total{method="GET",route="/healthz",status="200"}'
        in response.text
    )


# --- endpoints the edge middleware dispatches itself ---------------------------------------


async def _unexpected(_: Request) -> Response:
    raise RuntimeError("a bug")


async def _store_down(_: Request) -> Response:
    raise redis.ConnectionError("connection refused")


async def _gone(_: Request) -> Response:
    raise HTTPException(404)


async def _echo_item(request: Request) -> Response:
    return Response(str(request.path_params["item_id"]))


@pytest.fixture(scope="module")
def direct_url(settings: Settings) -> Iterator[str]:
    """The gateway with three failing endpoints and one with a path parameter dispatched
    directly."""
    app = with_direct(
        create_app(settings),
        {
            ("POST", "/unexpected"): _unexpected,
            ("POST", "/store"): _store_down,
            ("GET", "/gone"): _gone,
            ("GET", "/items/{item_id}"): _echo_item,
        },
    )
    with serving(app) as base_url:
        yield base_url


async def test_a_direct_endpoints_bug_is_a_500_problem_with_every_edge_header(
    direct_url: str,
) -> None:
    """Routing would send the error to the app's catch-all handler; so does the direct path,
    and the answer still carries the security headers and the request id."""
    async with httpx.AsyncClient(base_url=direct_url) as client:
        response = await client.post("/unexpected")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["type"] == "urn:govconnect:problem:internal-error" and "a bug" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]
    labels = {"method": "POST", "route": "/unexpected", "status": "500"}
    assert REGISTRY.get_sample_value("govconnect_http_requests_total", labels) == 1.0


async def test_a_direct_endpoint_fails_closed_when_the_store_is_down(direct_url: str) -> None:
    async with httpx.AsyncClient(base_url=direct_url) as client:
        response = await client.post("/store")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["type"] == "urn:govconnect:problem:store-unavailable"


async def test_a_direct_endpoints_http_exception_gets_the_problem_for_its_status(
    direct_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=direct_url) as client:
        response = await client.get("/gone")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:govconnect:problem:not-found"


async def test_a_direct_path_parameter_is_one_short_segment_labelled_by_its_template(
    direct_url: str,
) -> None:
    """The segment reaches the endpoint; the metrics label is the template, so ids cannot
    grow the series; a longer path or an over-long segment is left to FastAPI (here a 404)."""
    async with httpx.AsyncClient(base_url=direct_url) as client:
        found = await client.get("/items/itm_42")
        deeper = await client.get("/items/itm_42/more")
        too_long = await client.get("/items/" + "i" * 65)
        empty = await client.get("/items/")
    assert found.status_code == 200 and found.text == "itm_42"
    assert found.headers["x-content-type-options"] == "nosniff"
    assert {deeper.status_code, too_long.status_code, empty.status_code} == {404}
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    assert REGISTRY.get_sample_value("govconnect_http_requests_total", labels) == 1.0
    literal = {**labels, "route": "/items/itm_42"}
    assert REGISTRY.get_sample_value("govconnect_http_requests_total", literal) is None


async def test_a_route_that_sets_its_own_cache_control_keeps_it(http: httpx.AsyncClient) -> None:
    """The edge adds no-store only where the route said nothing (the JWKS may be cached)."""
    response = await http.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] != "no-store"
    assert response.headers.get_list("cache-control") == [response.headers["cache-control"]]
