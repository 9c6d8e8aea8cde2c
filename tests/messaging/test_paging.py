"""Keyset pages of the council API's conversation list over real HTTP and a real Redis:
every conversation once and in order across pages, through ties of any size and across teams;
the team filter carried by the cursor; malformed or mismatched cursors and out-of-range limits
refused as problems; a cursor that grants nothing to another council; and what a walk sees of
a conversation written in while it pages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.runtime import Runtime
from messaging.models import NewTeam, Owner, OwnerKind, PageCursor, Team
from messaging.store import MessagingStore
from tests.messaging.support import (
    CouncilKit,
    api_token,
    bearer,
    new_citizen,
    new_council,
    write_to,
)

BASE = "/api/messaging/v1"
# Inbox scores in whole seconds after this moment, so each is an exact number of ms.
EPOCH = datetime(2031, 1, 1, tzinfo=UTC)


async def _conversations(runtime: Runtime, kit: CouncilKit, count: int) -> list[str]:
    """``count`` new conversations of the kit's team with one citizen."""
    citizen = await new_citizen(runtime)
    return [(await write_to(runtime, kit, citizen)).conversation.id for _ in range(count)]


async def _file(runtime: Runtime, team: Team, seconds: dict[str, int]) -> dict[str, int]:
    """File each conversation in the team's inbox at ``EPOCH`` plus its seconds, as a new
    message would; their scores (ms)."""
    store = MessagingStore(runtime.redis)
    owner = Owner(OwnerKind.TEAM, team.id)
    for conversation_id, second in seconds.items():
        await store.file(owner, conversation_id, EPOCH + timedelta(seconds=second))
    base = int(EPOCH.timestamp()) * 1000
    return {c: base + s * 1000 for c, s in seconds.items()}


def _newest_first(scores: dict[str, int]) -> list[str]:
    """The order the API promises: score, then id byte by byte, both descending."""
    return sorted(scores, key=lambda c: (scores[c], c.encode()), reverse=True)


async def _page(http: httpx.AsyncClient, token: str, url: str) -> tuple[list[str], str | None]:
    """One page's conversation ids and its next link, checking the Link header matches."""
    response = await http.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    following = response.json()["next"]
    link = response.headers.get("link")
    assert link == (None if following is None else f'<{following}>; rel="next"')
    return [c["id"] for c in response.json()["conversations"]], following


async def _walk(http: httpx.AsyncClient, token: str, url: str) -> list[list[str]]:
    """Every page from ``url``, following next links to the end."""
    pages: list[list[str]] = []
    following: str | None = url
    while following is not None:
        assert len(pages) < 50, "the walk does not end"
        ids, following = await _page(http, token, following)
        pages.append(ids)
    return pages


async def _second_team(runtime: Runtime, kit: CouncilKit) -> CouncilKit:
    """The same council with another team of its organisation."""
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=kit.org_id, name="Housing team", service="housing"), "cli:pytest"
    )
    return dataclasses.replace(kit, team=team)


def _before(link: str) -> str:
    return parse_qs(urlsplit(link).query)["before"][0]


async def _problem(http: httpx.AsyncClient, token: str, url: str) -> tuple[int, str, str]:
    response = await http.get(url, headers=bearer(token))
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    return response.status_code, body["type"], body["detail"]


async def test_walking_pages_of_two_lists_each_conversation_once_newest_first_through_ties(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    housing = await _second_team(runtime, kit)
    tax_ids = await _conversations(runtime, kit, 4)
    housing_ids = await _conversations(runtime, housing, 3)
    # Ties within a team and across the two (bulk sends file many in one ms).
    scores = await _file(runtime, kit.team, dict(zip(tax_ids, [5, 5, 5, 3], strict=True)))
    scores |= await _file(runtime, housing.team, dict(zip(housing_ids, [5, 3, 1], strict=True)))
    token = await api_token(http, runtime, kit)

    pages = await _walk(http, token, f"{BASE}/conversations?limit=2")

    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [c for page in pages for c in page] == _newest_first(scores)


async def test_the_team_filter_pages_one_team_and_the_next_link_keeps_team_and_limit(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    housing = await _second_team(runtime, kit)
    tax = await _file(runtime, kit.team, dict.fromkeys(await _conversations(runtime, kit, 5), 7))
    await _file(runtime, housing.team, dict.fromkeys(await _conversations(runtime, housing, 2), 8))
    token = await api_token(http, runtime, kit)

    first, following = await _page(http, token, f"{BASE}/conversations?team={kit.team.id}&limit=2")
    assert following is not None
    query = parse_qs(urlsplit(following).query)
    assert query["team"] == [kit.team.id] and query["limit"] == ["2"]
    rest = await _walk(http, token, following)

    assert first + [c for page in rest for c in page] == _newest_first(tax)


async def test_the_default_page_is_fifty_and_a_short_list_has_no_next_page(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    scores = await _file(runtime, kit.team, dict.fromkeys(await _conversations(runtime, kit, 3), 1))
    token = await api_token(http, runtime, kit)

    ids, following = await _page(http, token, f"{BASE}/conversations")

    assert ids == _newest_first(scores) and following is None


async def test_a_tie_larger_than_a_page_continues_after_its_cursor_conversation_moved(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The cursor names a place, not a conversation that must still be there: a new message
    moving the last listed conversation to the top loses none of the rest."""
    kit = await new_council(runtime)
    tied = await _file(runtime, kit.team, dict.fromkeys(await _conversations(runtime, kit, 5), 2))
    order = _newest_first(tied)
    token = await api_token(http, runtime, kit)
    first, following = await _page(http, token, f"{BASE}/conversations?limit=2")
    assert first == order[:2] and following is not None

    await _file(runtime, kit.team, {first[-1]: 9})
    rest = await _walk(http, token, following)

    assert [c for page in rest for c in page] == order[2:]


async def test_a_conversation_written_in_during_a_walk_is_listed_first_by_the_next_walk(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """What docs/messaging.md promises a council syncing by walks: a conversation that gets a
    new message moves above the cursor, so this walk does not list it (again, or at all if
    it had not reached it), and the next walk from the first page lists it first."""
    kit = await new_council(runtime)
    scores = await _file(
        runtime, kit.team, dict(zip(await _conversations(runtime, kit, 6), range(6), strict=True))
    )
    order = _newest_first(scores)
    token = await api_token(http, runtime, kit)
    first, following = await _page(http, token, f"{BASE}/conversations?limit=2")
    assert following is not None
    seen, not_yet = first[0], order[-1]

    await _file(runtime, kit.team, {seen: 20, not_yet: 21})
    rest = [c for page in await _walk(http, token, following) for c in page]
    again, _ = await _page(http, token, f"{BASE}/conversations?limit=2")

    assert rest == order[2:-1]
    assert again == [not_yet, seen]


async def test_a_malformed_cursor_is_a_400_problem_that_says_what_to_do(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    await _conversations(runtime, kit, 1)
    token = await api_token(http, runtime, kit)
    good = PageCursor(1, "cnv_" + "A" * 22, None)
    malformed = [
        "!!not-base64!!",
        "bm90IGpzb24",  # base64url of "not json"
        PageCursor(-1, good.conversation_id, None).encode(),
        PageCursor(1, "msg_" + "A" * 22, None).encode(),
        PageCursor(1, "cnv_short", None).encode(),
        good.encode()[:-3],
        good.encode() + "AAAA",
    ]
    for cursor in malformed:
        status, kind, detail = await _problem(http, token, f"{BASE}/conversations?before={cursor}")
        assert (status, kind) == (400, "urn:govconnect:problem:invalid-cursor"), cursor
        assert "next link" in detail
    assert (
        await http.get(f"{BASE}/conversations?before={good.encode()}", headers=bearer(token))
    ).status_code == 200


async def test_a_cursor_used_with_another_team_filter_is_a_400_problem(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    housing = await _second_team(runtime, kit)
    await _file(runtime, kit.team, dict.fromkeys(await _conversations(runtime, kit, 2), 1))
    await _file(runtime, housing.team, dict.fromkeys(await _conversations(runtime, housing, 2), 1))
    token = await api_token(http, runtime, kit)
    _, of_tax = await _page(http, token, f"{BASE}/conversations?team={kit.team.id}&limit=1")
    _, of_all = await _page(http, token, f"{BASE}/conversations?limit=1")
    assert of_tax is not None and of_all is not None

    for url in (
        f"{BASE}/conversations?team={housing.team.id}&before={_before(of_tax)}",
        f"{BASE}/conversations?before={_before(of_tax)}",
        f"{BASE}/conversations?team={kit.team.id}&before={_before(of_all)}",
    ):
        status, kind, detail = await _problem(http, token, url)
        assert (status, kind) == (400, "urn:govconnect:problem:invalid-cursor"), url
        assert "same team parameter" in detail


async def test_a_limit_out_of_range_is_refused_as_other_parameters_are(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    kit = await new_council(runtime)
    token = await api_token(http, runtime, kit)
    for limit in ("0", "201", "-1", "ten"):
        status, kind, _ = await _problem(http, token, f"{BASE}/conversations?limit={limit}")
        assert (status, kind) == (422, "urn:govconnect:problem:invalid-input"), limit
    ids, _ = await _page(http, token, f"{BASE}/conversations?limit=200")
    assert ids == []


async def test_another_council_never_sees_the_first_councils_conversations_by_any_cursor(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The cursor is not signed because it grants nothing: whatever cursor a council sends,
    its own cursors or ones made up, only its own teams' inboxes are read."""
    first = await new_council(runtime)
    theirs = await _file(
        runtime,
        first.team,
        dict(zip(await _conversations(runtime, first, 3), [4, 4, 3], strict=True)),
    )
    second = await new_council(runtime)
    ours = await _file(
        runtime, second.team, dict.fromkeys(await _conversations(runtime, second, 1), 1)
    )
    first_token = await api_token(http, runtime, first)
    second_token = await api_token(http, runtime, second)
    links: list[str] = []
    for query in ("limit=1", f"team={first.team.id}&limit=1"):
        following: str | None = f"{BASE}/conversations?{query}"
        while following is not None:
            _, following = await _page(http, first_token, following)
            links += [following] if following is not None else []
    assert len(links) == 4
    top = 2**53 - 1
    links += [
        f"{BASE}/conversations?before={PageCursor(top, next(iter(theirs)), None).encode()}",
        f"{BASE}/conversations?team={first.team.id}"
        f"&before={PageCursor(top, next(iter(theirs)), first.team.id).encode()}",
    ]

    for link in links:
        listed = [c for page in await _walk(http, second_token, link) for c in page]
        assert not set(listed) & set(theirs), link
        assert set(listed) <= set(ours), link
