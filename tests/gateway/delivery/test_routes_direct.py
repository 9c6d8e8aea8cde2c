"""POST /api/v1/submissions served directly by the edge middleware answers as the FastAPI
route does: two real servers of the same app, one with the direct dispatch and one without
it, get the same requests and give the same statuses, headers and documents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.gateway.core.support import comparable, direct_and_routed, direct_endpoints
from tests.gateway.delivery.support import Exchange, client_token, exchange, submit

PATH = "/api/v1/submissions"
LIMIT = 64 * 1024
# What differs between any two answers, whichever path served them.
VARYING_HEADERS = frozenset({"date", "x-request-id", "location", "content-length"})


@pytest.fixture(scope="module")
async def clients(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    limited = settings.model_copy(update={"max_request_bytes": LIMIT})
    async with direct_and_routed(limited) as both_clients:
        yield both_clients


def _comparable(response: httpx.Response) -> dict[str, Any]:
    found = comparable(response, varying_headers=VARYING_HEADERS)
    if response.status_code == 202:  # a new submission each: its ids and times differ
        found["body"] = sorted(found["body"])
    return found


async def _both(clients: tuple[httpx.AsyncClient, ...], **request: Any) -> dict[str, Any]:
    """The same request (each with its own Idempotency-Key) to both servers."""
    answers = []
    for client in clients:
        headers = {**request.get("headers", {}), "Idempotency-Key": str(uuid.uuid4())}
        sent = await client.post(PATH, **{**request, "headers": headers})
        answers.append(_comparable(sent))
    assert answers[0] == answers[1]
    return answers[0]


@pytest.fixture
async def ex(http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]) -> Exchange:
    return await exchange(http, runtime, admin_headers)


async def test_an_accepted_submission_is_answered_alike(
    clients: tuple[httpx.AsyncClient, ...], ex: Exchange
) -> None:
    answer = await _both(clients, json=ex.request(), headers=ex.sender.headers)
    assert answer["status"] == 202
    assert {"id", "receipt", "payload_sha256"} <= set(answer["body"])


@pytest.mark.parametrize(
    ("what", "status"),
    [
        ("no token", 401),
        ("a forged token", 401),
        ("a revoked token", 401),
        ("a revoked token and an unknown service", 401),
        ("a revoked token and malformed JSON", 422),
        ("a body the schema refuses", 400),
        ("an unknown service", 404),
        ("a body over the request limit", 413),
        ("malformed JSON", 422),
    ],
)
async def test_each_refusal_is_the_same_problem_document(
    clients: tuple[httpx.AsyncClient, ...], runtime: Runtime, ex: Exchange, what: str, status: int
) -> None:
    """The token's revocation is read in the submission's first pipeline: a revoked token
    is refused before the service is looked up, and only a request that cannot be read (here:
    not JSON) is refused before it (docs/receiving-submissions.md)."""
    headers = ex.sender.headers
    request: dict[str, Any] = {"json": ex.request(), "headers": headers}
    if what.startswith("a revoked token"):
        await runtime.tokens.revoke(ex.sender.kit.client, ex.sender.token, "access_token")
        what = what.partition(" and ")[2]  # what else is wrong with the request, if anything
    if what == "no token":
        request["headers"] = {}
    elif what == "a forged token":
        request["headers"] = {"Authorization": "Bearer " + ex.sender.token[:-4] + "AAAA"}
    elif what == "a body the schema refuses":
        request["json"] = ex.request(body={"unexpected": True})
    elif what == "an unknown service":
        request["json"] = ex.request(service="no-such-service")
    elif what == "a body over the request limit":
        request["json"] = ex.request(body={"notes": "x" * LIMIT})
    elif what == "malformed JSON":
        request = {
            "content": b"{not json",
            "headers": {**headers, "Content-Type": "application/json"},
        }
    answer = await _both(clients, **request)
    assert answer["status"] == status, answer
    assert answer["body"]["type"].startswith("urn:govconnect:problem:")


async def test_a_revoked_tokens_submission_is_not_kept(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    """Refused for revocation, a submission leaves nothing behind: the same Idempotency-Key
    with a fresh token is a first submission, not a replay."""
    await runtime.tokens.revoke(ex.sender.kit.client, ex.sender.token, "access_token")
    key = str(uuid.uuid4())
    refused = await submit(http, ex.sender.headers, ex.request(), key)
    assert refused.status_code == 401
    assert refused.json()["type"] == "urn:govconnect:problem:invalid-token"
    fresh = {"Authorization": f"Bearer {await client_token(http, runtime, ex.sender.kit)}"}
    accepted = await submit(http, fresh, ex.request(), key)
    assert accepted.status_code == 202, accepted.text
    assert "idempotent-replayed" not in accepted.headers


def test_the_app_serves_submissions_directly(settings: Settings) -> None:
    """The edge middleware of the app as built holds the direct submissions endpoint."""
    assert ("POST", PATH) in direct_endpoints(settings)
