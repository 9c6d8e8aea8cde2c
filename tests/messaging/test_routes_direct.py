"""GET /api/messaging/v1/conversations/{id} served directly by the edge middleware answers as
the FastAPI route does: two real servers of the same app, one with the direct dispatch and one
without it, get the same requests and give the same statuses, headers and documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.gateway.core.support import comparable, direct_and_routed, direct_endpoints
from tests.messaging.support import api_token, bearer, new_citizen, new_council, write_to

BASE = "/api/messaging/v1/conversations/"
# What differs between any two answers, whichever path served them.
VARYING_HEADERS = frozenset({"date", "x-request-id", "content-length"})


@pytest.fixture(scope="module")
async def clients(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with direct_and_routed(settings) as both_clients:
        yield both_clients


async def _both(
    clients: tuple[httpx.AsyncClient, ...], path: str, headers: dict[str, str]
) -> dict[str, Any]:
    answers = [
        comparable(await client.get(path, headers=headers), varying_headers=VARYING_HEADERS)
        for client in clients
    ]
    assert answers[0] == answers[1]
    return answers[0]


async def test_an_opened_conversation_is_answered_alike(
    clients: tuple[httpx.AsyncClient, ...], http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    sent = await write_to(runtime, kit, await new_citizen(runtime), "Your bill is ready.")
    token = await api_token(http, runtime, kit)
    answer = await _both(clients, BASE + sent.conversation.id, bearer(token))
    assert answer["status"] == 200
    assert answer["body"]["messages"][0]["body"] == "Your bill is ready."


@pytest.mark.parametrize(
    "what",
    ["no token", "a forged token", "another council", "an unknown id", "an id over 64 characters"],
)
async def test_each_refusal_is_the_same_problem_document(
    clients: tuple[httpx.AsyncClient, ...], http: httpx.AsyncClient, runtime: Runtime, what: str
) -> None:
    kit = await new_council(runtime)
    sent = await write_to(runtime, kit, await new_citizen(runtime))
    token = await api_token(http, runtime, kit)
    path, headers = BASE + sent.conversation.id, bearer(token)
    if what == "no token":
        headers = {}
    elif what == "a forged token":
        headers = bearer(token[:-4] + "AAAA")
    elif what == "another council":
        headers = bearer(await api_token(http, runtime, await new_council(runtime)))
    elif what == "an unknown id":
        path = BASE + "cnv_" + "A" * 22
    else:
        path = BASE + "c" * 65
    answer = await _both(clients, path, headers)
    expected = {"no token": 401, "a forged token": 401, "an id over 64 characters": 422}
    assert answer["status"] == expected.get(what, 404), answer
    assert answer["body"]["type"].startswith("urn:govconnect:problem:")


def test_the_app_serves_conversations_directly(settings: Settings) -> None:
    """The edge middleware of the app as built holds the direct conversation endpoint."""
    assert ("GET", BASE + "{conversation_id}") in direct_endpoints(settings)
