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
from tests.messaging.support import (
    api_token,
    bearer,
    citizen_token,
    new_citizen,
    new_council,
    token_without_messages_scope,
    write_to,
)

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


REFUSALS = {
    "no token": 401,
    "a forged token": 401,
    "a revoked token": 401,
    "a revoked token and an unknown id": 401,
    "a revoked token and a malformed id": 401,
    "a person's token": 401,
    "a token without the messages scope": 403,
    "another council": 404,
    "an unknown id": 404,
    "a malformed id": 404,
    "an id over 64 characters": 422,
}


@pytest.mark.parametrize("what", list(REFUSALS))
async def test_each_refusal_is_the_same_problem_document(
    clients: tuple[httpx.AsyncClient, ...], http: httpx.AsyncClient, runtime: Runtime, what: str
) -> None:
    """The direct path reads the token's revocation in the conversation's own pipeline; it
    refuses what the routed path refuses, with the same problem, whatever the id."""
    kit = await new_council(runtime)
    citizen = await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen)
    token = await api_token(http, runtime, kit)
    path, headers = BASE + sent.conversation.id, bearer(token)
    if what == "no token":
        headers = {}
    elif what == "a forged token":
        headers = bearer(token[:-4] + "AAAA")
    elif what.startswith("a revoked token"):
        await runtime.tokens.revoke(kit.back_office.client, token, "access_token")
    elif what == "a person's token":
        headers = bearer(await citizen_token(http, runtime, kit, citizen))
    elif what == "a token without the messages scope":
        headers = bearer(await token_without_messages_scope(http, runtime, kit))
    elif what == "another council":
        headers = bearer(await api_token(http, runtime, await new_council(runtime)))
    if what.endswith("an unknown id"):
        path = BASE + "cnv_" + "A" * 22
    elif what.endswith("a malformed id"):
        path = BASE + "not-a-conversation"
    elif what == "an id over 64 characters":
        path = BASE + "c" * 65
    answer = await _both(clients, path, headers)
    assert answer["status"] == REFUSALS[what], answer
    assert answer["body"]["type"].startswith("urn:govconnect:problem:")


async def test_a_revoked_token_is_refused_before_anything_is_read_out(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The revocation answer rides with the conversation's, and is checked first: a revoked
    token gets no message and leaves no ``message.read`` evidence."""
    kit = await new_council(runtime)
    sent = await write_to(runtime, kit, await new_citizen(runtime), "Your refund is on its way.")
    token = await api_token(http, runtime, kit)
    await runtime.tokens.revoke(kit.back_office.client, token, "access_token")
    response = await http.get(BASE + sent.conversation.id, headers=bearer(token))
    assert response.status_code == 401
    assert "refund" not in response.text
    entries = await runtime.evidence.entries(0, 100_000)
    assert not [
        e for e in entries if e["action"] == "message.read" and e["subject"] == sent.conversation.id
    ]


def test_the_app_serves_conversations_directly(settings: Settings) -> None:
    """The edge middleware of the app as built holds the direct conversation endpoint."""
    assert ("GET", BASE + "{conversation_id}") in direct_endpoints(settings)
