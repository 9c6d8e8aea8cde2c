"""POST /token served directly by the edge middleware answers exactly as the FastAPI route
does: the same status, headers and documents for tokens and for every kind of error, the
same access log line and the same metrics.

Two real servers of the same app run side by side, one with the direct dispatch and one
without it, and every request goes to both.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from gateway.tokens.models import TOKEN_PATH
from tests.gateway.core.support import comparable, direct_and_routed
from tests.gateway.tokens.support import Kit, secret_client

LIMIT = 4096
API: dict[str, Any] = {
    "grant_types": ["client_credentials"],
    "redirect_uris": [],
    "scope": "permits fines",
}
FORM = "application/x-www-form-urlencoded"
# What differs between any two responses, whichever path served them.
VARYING_MEMBERS = frozenset({"access_token", "request_id"})


@pytest.fixture(scope="module")
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_request_bytes": LIMIT})


@pytest.fixture(scope="module")
async def clients(limited: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with direct_and_routed(limited) as both_clients:
        yield both_clients


@pytest.fixture
async def kit(runtime: Runtime, organisation_id: str) -> Kit:
    return await secret_client(runtime, organisation_id, **API)


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", "Content-Type": FORM}


async def both(
    clients: tuple[httpx.AsyncClient, ...], method: str = "POST", **request: Any
) -> dict[str, Any]:
    """Send one request to both servers; the comparable parts of the two answers, which
    must be equal."""
    direct, routed = [
        comparable(
            await client.request(method, TOKEN_PATH, **request), varying_members=VARYING_MEMBERS
        )
        for client in clients
    ]
    assert direct == routed
    return direct


async def test_a_token_is_issued_with_the_same_headers_and_document(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit
) -> None:
    assert kit.secret is not None
    answer = await both(
        clients,
        content=b"grant_type=client_credentials",
        headers=basic(kit.client_id, kit.secret),
    )
    assert answer["status"] == 200
    headers = dict(answer["headers"])
    assert headers["cache-control"] == "no-store" and headers["pragma"] == "no-cache"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert answer["body"] == {"token_type": "Bearer", "expires_in": 300, "scope": "permits fines"}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"grant_type=client_credentials", "invalid_client"),  # a wrong secret
        (b"grant_type=password", "invalid_client"),  # authenticated before the grant is read
    ],
)
async def test_a_forged_secret_is_refused_alike(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit, content: bytes, error: str
) -> None:
    answer = await both(clients, content=content, headers=basic(kit.client_id, "forged" * 7))
    assert answer["status"] == 401 and answer["body"]["error"] == error
    assert dict(answer["headers"])["www-authenticate"] == 'Basic realm="govconnect"'


@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        (b"grant_type=client_credentials", "application/json", "invalid_request"),
        (b"grant_type=client_credentials&grant_type=refresh_token", FORM, "invalid_request"),
        (b"grant_type=urn:example:unknown", FORM, "unsupported_grant_type"),
        (b"scope=permits", FORM, "invalid_request"),
        (b"grant_type=client_credentials&scope=openid", FORM, "invalid_scope"),
        (b"\xff\xfe=\x00", FORM, "invalid_request"),
    ],
)
async def test_malformed_requests_get_the_same_oauth_error(
    clients: tuple[httpx.AsyncClient, ...],
    kit: Kit,
    content: bytes,
    content_type: str,
    error: str,
) -> None:
    assert kit.secret is not None
    headers = {**basic(kit.client_id, kit.secret), "Content-Type": content_type}
    answer = await both(clients, content=content, headers=headers)
    assert answer["status"] == 400 and answer["body"]["error"] == error


async def test_a_replayed_or_garbage_dpop_proof_is_refused_alike(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit
) -> None:
    assert kit.secret is not None
    headers = {**basic(kit.client_id, kit.secret), "DPoP": "not.a.proof"}
    answer = await both(clients, content=b"grant_type=client_credentials", headers=headers)
    assert answer["status"] == 400 and answer["body"]["error"] == "invalid_dpop_proof"


async def test_a_declared_oversized_body_is_refused_before_reading_alike(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit
) -> None:
    assert kit.secret is not None
    answer = await both(
        clients, content=b"x" * (LIMIT + 1), headers=basic(kit.client_id, kit.secret)
    )
    assert answer["status"] == 413
    assert answer["body"]["type"] == "urn:govconnect:problem:request-too-large"


async def test_a_chunked_oversized_body_is_cut_off_alike(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit
) -> None:
    """No Content-Length to refuse up front: the running count stops the body."""
    assert kit.secret is not None

    async def chunks() -> AsyncIterator[bytes]:
        yield b"grant_type=client_credentials&scope="
        for _ in range(LIMIT // 512 + 1):
            yield b"p" * 512

    answers = []
    for client in clients:
        response = await client.post(
            TOKEN_PATH, content=chunks(), headers=basic(kit.client_id, kit.secret)
        )
        answers.append(comparable(response, varying_members=VARYING_MEMBERS))
    assert answers[0] == answers[1]
    assert answers[0]["status"] == 413 and "4096-byte limit" in answers[0]["body"]["detail"]


async def test_other_methods_still_reach_the_router(
    clients: tuple[httpx.AsyncClient, ...],
) -> None:
    answer = await both(clients, "GET")
    assert answer["status"] == 405
    assert answer["body"]["type"] == "urn:govconnect:problem:method-not-allowed"


async def test_a_caller_request_id_is_kept_and_a_hostile_one_replaced(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit
) -> None:
    assert kit.secret is not None
    direct = clients[0]
    headers = basic(kit.client_id, kit.secret)
    kept = await direct.post(
        TOKEN_PATH,
        content=b"grant_type=client_credentials",
        headers={**headers, "X-Request-ID": "council-run-42"},
    )
    assert kept.status_code == 200 and kept.headers["x-request-id"] == "council-run-42"
    hostile = await direct.post(
        TOKEN_PATH, content=b"grant_type=nope", headers={**headers, "X-Request-ID": "a\tb<"}
    )
    assert hostile.headers["x-request-id"] not in {"a\tb<", "council-run-42"}
    assert hostile.json()["request_id"] == hostile.headers["x-request-id"]


async def test_the_direct_path_writes_the_access_log_and_counts_the_request(
    clients: tuple[httpx.AsyncClient, ...], kit: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    assert kit.secret is not None
    labels = {"method": "POST", "route": TOKEN_PATH, "status": "200"}
    before = REGISTRY.get_sample_value("govconnect_http_requests_total", labels) or 0.0
    timed = {"method": "POST", "route": TOKEN_PATH}
    observed = REGISTRY.get_sample_value("govconnect_http_request_duration_seconds_count", timed)
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = await clients[0].post(
            TOKEN_PATH,
            content=b"grant_type=client_credentials",
            headers=basic(kit.client_id, kit.secret),
        )
    assert response.status_code == 200
    lines = [r for r in caplog.records if r.name == "gateway.access"]
    assert [(r.method, r.route, r.status) for r in lines] == [("POST", TOKEN_PATH, 200)]  # type: ignore[attr-defined]
    assert lines[0].request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert lines[0].duration_ms >= 0  # type: ignore[attr-defined]
    assert REGISTRY.get_sample_value("govconnect_http_requests_total", labels) == before + 1
    after = REGISTRY.get_sample_value("govconnect_http_request_duration_seconds_count", timed)
    assert after == (observed or 0.0) + 1
