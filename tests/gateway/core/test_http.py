"""Every response carries the security headers; every error is an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.core.settings import Settings
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
