"""Live updates of open messaging pages by server-sent events (messaging/live.py), over real
HTTP and in Chromium.

The streams run on one gateway and the council's API calls on another, sharing only Redis,
as several gateway processes would. What is proven: a citizen's stream tells of a council's
message to them and of nothing sent to anyone else, and carries no content; a staff stream
tells of the citizen's reply and the citizen's of the council opening it; a reconnect with
``Last-Event-ID`` gets what happened while it was away; another citizen, another team's staff
and a guessed id get the page's 404, no session gets 204 (the browser stops reconnecting); a
session holds a bounded number of streams; a stream ends when its session ends and after its
lifetime; and in Chromium an open inbox shows the banner without a reload, passing axe.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, expect

from gateway.accounts.models import Account
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from gateway.sessions.models import handle_of
from gateway.sessions.services import TOUCH_INTERVAL
from gateway.sessions.store import SessionStore
from tests.conftest import unique_client_address
from tests.messaging.support import (
    CouncilKit,
    api_token,
    bearer,
    new_citizen,
    new_council,
    new_staff,
)
from tests.support.accounts import PASSWORD, sign_in
from tests.support.browser import assert_accessible
from tests.support.servers import threaded_gateway
from tests.support.web import Browser

BrowserFactory = Callable[..., Browser]
BODY = "Your council tax reduction has been approved."
SUBJECT = "Council tax reduction"
# A stream that stays silent this many blocks (heartbeats, twice a second) has missed what it
# waited for: a generous bound, never a measure of speed.
MAX_BLOCKS = 60


@dataclass
class Council:
    kit: CouncilKit
    token: str

    def write(self, base_url: str, sub: str, body: str = BODY) -> str:
        """The council's back office sends a new conversation through the API; its id."""
        message = {
            "team": self.kit.team.id,
            "to": {"sub": sub},
            "subject": SUBJECT,
            "reference": "CTR-" + secrets.token_hex(3),
            "body": body,
        }
        headers = bearer(self.token, **{"Idempotency-Key": str(uuid.uuid4())})
        with httpx.Client(base_url=base_url, timeout=30) as api:
            sent = api.post("/api/messaging/v1/conversations", json=message, headers=headers)
        assert sent.status_code == 201, sent.text
        return str(sent.json()["conversation"])


@pytest.fixture
async def council(http: httpx.AsyncClient, runtime: Runtime) -> Council:
    kit = await new_council(runtime)
    return Council(kit, await api_token(http, runtime, kit))


async def _enrolled(runtime: Runtime, council: Council) -> tuple[Account, str]:
    """A citizen who signed in to the council's website: the account and its pairwise sub."""
    citizen = await new_citizen(runtime)
    return citizen, await runtime.messaging.enrol(council.kit.website.client, citizen.id)


@pytest.fixture(scope="module")
def brisk_settings(web_settings: Settings) -> Settings:
    """Streams that send a heartbeat (and check the session) twice a second, so a stream
    that misses what it waits for fails the test soon."""
    return web_settings.model_copy(
        update={"messaging_live_heartbeat_seconds": 0.5, "messaging_live_seconds": 30.0}
    )


@pytest.fixture(scope="module")
def brisk_url(brisk_settings: Settings) -> Iterator[str]:
    with threaded_gateway(brisk_settings) as base_url:
        yield base_url


@pytest.fixture
def open_brisk(brisk_url: str) -> Iterator[BrowserFactory]:
    """Page clients of the brisk gateway, each from a client address of its own."""
    opened: list[Browser] = []

    def factory() -> Browser:
        opened.append(Browser(brisk_url, {"X-Forwarded-For": unique_client_address()}))
        return opened[-1]

    yield factory
    for browser in opened:
        browser.close()


def _signed_in(open_browser: BrowserFactory, account: Account) -> Browser:
    browser = open_browser()
    sign_in(browser, account.email)
    return browser


@dataclass
class Stream:
    """A page's ``text/event-stream``, read block by block (WHATWG HTML §9.2.6), and
    reconnected with ``Last-Event-ID`` when it ends, as a browser does."""

    stack: ExitStack
    browser: Browser
    path: str
    last_id: str = ""
    comments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Open the stream and wait for its first block: it has read where the reader's
        changes stand, so anything from now on reaches it."""
        self.connect()
        first = self.next_block()
        assert first is not None and self.last_id, first

    def connect(self, headers: dict[str, str] | None = None) -> None:
        response = self.stack.enter_context(
            self.browser.client.stream("GET", self.path, headers=headers)
        )
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self.blocks = _blocks(response)

    def next_block(self) -> list[str] | None:
        block = next(self.blocks, None)
        if block is not None:
            ids = [line[len("id: ") :] for line in block if line.startswith("id: ")]
            self.last_id = ids[-1] if ids else self.last_id
            self.comments += [line[1:].strip() for line in block if line.startswith(":")]
        return block

    def next_event(self) -> dict[str, str]:
        """The next ``changed`` event's data (failing after many silent heartbeats)."""
        for _ in range(MAX_BLOCKS):
            block = self.next_block()
            if block is None:  # the stream's lifetime was up
                self.connect({"Last-Event-ID": self.last_id})
            elif "event: changed" in block:
                data = [line[len("data: ") :] for line in block if line.startswith("data: ")]
                parsed: dict[str, str] = json.loads("".join(data))
                return parsed
        raise AssertionError("no event after many heartbeats")

    def end(self) -> str:
        """Read to the end of the stream (failing if it does not end); why it ended."""
        for _ in range(MAX_BLOCKS):
            if self.next_block() is None:
                assert self.comments and self.comments[-1].startswith("ended, "), self.comments
                return self.comments[-1].removeprefix("ended, ")
        raise AssertionError("the stream did not end")


def _blocks(response: httpx.Response) -> Iterator[list[str]]:
    block: list[str] = []
    for line in response.iter_lines():
        if line:
            block.append(line)
        elif block:
            yield block
            block = []


async def test_a_citizens_stream_tells_of_a_council_message_to_them_and_nothing_else(
    runtime: Runtime, gateway_url: str, open_brisk: BrowserFactory, council: Council
) -> None:
    citizen, sub = await _enrolled(runtime, council)
    _, someone_elses_sub = await _enrolled(runtime, council)
    browser = _signed_in(open_brisk, citizen)
    with ExitStack() as stack:
        stream = Stream(stack, browser, "/messages/events")
        # Another citizen's message first: were it told to this stream, it would come first.
        theirs = council.write(gateway_url, someone_elses_sub)
        ours = council.write(gateway_url, sub)
        event = stream.next_event()
    assert event == {"conversation": ours, "change": "new"}
    assert theirs != ours


async def test_staff_are_told_of_a_reply_and_the_citizen_of_the_council_opening_it(
    runtime: Runtime,
    gateway_url: str,
    http: httpx.AsyncClient,
    open_brisk: BrowserFactory,
    council: Council,
) -> None:
    citizen, sub = await _enrolled(runtime, council)
    staff = await new_staff(runtime, council.kit)
    conversation = council.write(gateway_url, sub)
    resident = _signed_in(open_brisk, citizen)
    officer = _signed_in(open_brisk, staff)
    here = f"/messages/{conversation}"
    assert resident.get(here).status_code == 200  # opened: the council's message is read
    with ExitStack() as stack:
        team = Stream(stack, officer, "/staff/messages/events")
        replied = resident.post(here + "/reply", {"body": "Thank you."})
        assert "Your message has been sent" in replied.text
        assert team.next_event() == {"conversation": conversation, "change": "new"}

        page = Stream(stack, resident, here + "/events")
        # The council's system reads the conversation: the citizen's reply is now opened.
        read = await http.get(
            f"/api/messaging/v1/conversations/{conversation}", headers=bearer(council.token)
        )
        assert read.status_code == 200, read.text
        assert page.next_event() == {"conversation": conversation, "change": "updated"}


async def test_a_reconnect_with_last_event_id_gets_what_it_missed(
    runtime: Runtime, gateway_url: str, open_brisk: BrowserFactory, council: Council
) -> None:
    citizen, sub = await _enrolled(runtime, council)
    browser = _signed_in(open_brisk, citizen)
    with ExitStack() as stack:
        stream = Stream(stack, browser, "/messages/events")
        first = council.write(gateway_url, sub)
        assert stream.next_event()["conversation"] == first
    second = council.write(gateway_url, sub)  # while no stream is open
    with ExitStack() as stack:
        stream.stack = stack
        stream.connect({"Last-Event-ID": stream.last_id})
        assert stream.next_event() == {"conversation": second, "change": "new"}


async def test_streams_answer_404_to_anyone_the_page_would_and_204_without_a_session(
    runtime: Runtime, gateway_url: str, open_brisk: BrowserFactory, council: Council
) -> None:
    citizen, sub = await _enrolled(runtime, council)
    staff = await new_staff(runtime, council.kit)
    conversation = council.write(gateway_url, sub)
    other_council = await new_council(runtime)
    stranger = _signed_in(open_brisk, await new_citizen(runtime))
    outsider = _signed_in(open_brisk, await new_staff(runtime, other_council))
    guessed = "cv_" + secrets.token_urlsafe(16)

    assert stranger.get(f"/messages/{conversation}/events").status_code == 404
    assert stranger.get(f"/messages/{guessed}/events").status_code == 404
    assert stranger.get("/staff/messages/events").status_code == 404  # on no team
    assert outsider.get(f"/staff/messages/{conversation}/events").status_code == 404
    assert outsider.get(f"/staff/messages/{guessed}/events").status_code == 404
    anonymous = open_brisk()
    for path in ("/messages/events", f"/messages/{conversation}/events", "/staff/messages/events"):
        assert anonymous.get(path).status_code == 204
    # The rightful readers get their streams.
    with ExitStack() as stack:
        for reader, path in (
            (citizen, f"/messages/{conversation}/events"),
            (staff, f"/staff/messages/{conversation}/events"),
        ):
            Stream(stack, _signed_in(open_brisk, reader), path)


async def test_a_session_holds_a_bounded_number_of_streams(
    runtime: Runtime, open_brisk: BrowserFactory, brisk_settings: Settings
) -> None:
    browser = _signed_in(open_brisk, await new_citizen(runtime))
    with ExitStack() as stack:
        # Kept: a stream whose reader is dropped closes its connection.
        streams = [
            Stream(stack, browser, "/messages/events")
            for _ in range(brisk_settings.messaging_live_streams_per_session)
        ]
        with browser.client.stream("GET", "/messages/events") as refused:
            assert refused.status_code == 429
            assert json.loads(refused.read())["type"].endswith("live-streams-exceeded")
        # The open ones go on: the next block of each is a heartbeat.
        assert all(stream.next_block() == [": heartbeat"] for stream in streams)
    # Closed streams give their places back, once the server has seen the browser go.
    for _ in range(100):
        with browser.client.stream("GET", "/messages/events") as response:
            if response.status_code == 200:
                break
            assert response.status_code == 429
        await asyncio.sleep(0.1)
    assert response.status_code == 200


async def test_a_stream_ends_when_its_session_ends(
    runtime: Runtime, open_brisk: BrowserFactory
) -> None:
    browser = _signed_in(open_brisk, await new_citizen(runtime))
    with ExitStack() as stack:
        stream = Stream(stack, browser, "/messages/events")
        browser.submit("/account", "/sign-out", {})
        assert stream.end() == "session"
    assert browser.get("/messages/events").status_code == 204  # the browser stops


async def test_a_stream_ends_after_its_lifetime(runtime: Runtime, brisk_settings: Settings) -> None:
    short = brisk_settings.model_copy(update={"messaging_live_seconds": 1.0})
    citizen = await new_citizen(runtime)
    with threaded_gateway(short) as base_url, ExitStack() as stack:
        browser = Browser(base_url, {"X-Forwarded-For": unique_client_address()})
        stack.callback(browser.close)
        sign_in(browser, citizen.email)
        stream = Stream(stack, browser, "/messages/events")
        assert stream.end() == "lifetime"


async def test_a_stream_does_not_keep_an_idle_session_alive(
    runtime: Runtime, open_brisk: BrowserFactory
) -> None:
    """An open page's stream is not the person's activity: the session's last-seen time,
    set back past the interval at which a page load would renew it, stays as it was."""
    browser = _signed_in(open_brisk, await new_citizen(runtime))
    cookie = next(v for k, v in browser.client.cookies.items() if k.endswith("gc_session"))
    idle_since = runtime.clock.now() - 2 * TOUCH_INTERVAL
    await SessionStore(runtime.redis).touch(handle_of(cookie), idle_since, 3600)
    with ExitStack() as stack:
        Stream(stack, browser, "/messages/events")
    session = await runtime.sessions.peek(cookie)
    assert session is not None and session.last_seen == idle_since
    browser.get("/messages")  # a page the person opens does renew it
    session = await runtime.sessions.peek(cookie)
    assert session is not None and session.last_seen > idle_since


# --- In Chromium ------------------------------------------------------------------------------


@dataclass
class Scene:
    council: Council
    citizen: Account
    sub: str


@pytest.fixture
async def scene(runtime: Runtime, council: Council) -> Scene:
    citizen, sub = await _enrolled(runtime, council)
    return Scene(council, citizen, sub)


@pytest.mark.browser
def test_an_open_inbox_shows_a_new_message_banner_without_a_reload(
    page: Page, web_url: str, gateway_url: str, scene: Scene
) -> None:
    page.goto(f"{web_url}/messages")
    page.get_by_label("Email address").fill(scene.citizen.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your messages")).to_be_visible()
    expect(page.get_by_text("You have no messages here.")).to_be_visible()
    loaded = page.evaluate("performance.timeOrigin")

    scene.council.write(gateway_url, scene.sub)

    expect(page.get_by_text("You have a new message.")).to_be_visible()
    assert page.evaluate("performance.timeOrigin") == loaded, "the page was not reloaded"
    assert_accessible(page, "inbox with the live-update banner")
    page.get_by_role("link", name="Refresh this page to see the latest").click()
    expect(page.get_by_role("link", name=SUBJECT)).to_be_visible()
    assert_accessible(page, "inbox after refreshing")
