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

An agent's delegated pages have streams too: an agent user is told of a change to a client's
conversation only while a relationship for its service lets them read it (not for another
service, not outside the relationship's groups, not once it has ended), only on that
relationship's pages (never their own inbox's); the streams answer the 404 of their pages to
anyone else; the pages work with JavaScript off; and in Chromium an agent's open conversation
shows the banner when the council writes in it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
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
from messaging.store import MessagingStore
from tests.conftest import unique_client_address
from tests.messaging.support import (
    CouncilKit,
    api_token,
    bearer,
    new_citizen,
    new_council,
    new_staff,
    write_to,
)
from tests.support.accounts import PASSWORD, sign_in
from tests.support.browser import assert_accessible
from tests.support.servers import threaded_gateway
from tests.support.web import Browser
from tests.trust_levels.agents.support import SERVICE, Agency, accepted, agency, staff
from tests.trust_levels.businesses.support import Person
from trust_levels.agents.models import Relationship

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
        return self._post(base_url, "/api/messaging/v1/conversations", message)

    def write_again(self, base_url: str, conversation: str, body: str) -> None:
        """The council's back office writes in an existing conversation."""
        self._post(
            base_url, f"/api/messaging/v1/conversations/{conversation}/messages", {"body": body}
        )

    def _post(self, base_url: str, path: str, message: Mapping[str, object]) -> str:
        """Send through the API (a new Idempotency-Key each time); the conversation's id."""
        headers = bearer(self.token, **{"Idempotency-Key": str(uuid.uuid4())})
        with httpx.Client(base_url=base_url, timeout=30) as api:
            sent = api.post(path, json=message, headers=headers)
        assert sent.status_code == 201, sent.text
        return str(sent.json()["conversation"])


async def _council(http: httpx.AsyncClient, runtime: Runtime, service: str) -> Council:
    """A council whose team is for ``service``, with its back office's API token."""
    kit = await new_council(runtime, service)
    return Council(kit, await api_token(http, runtime, kit))


@pytest.fixture
async def council(http: httpx.AsyncClient, runtime: Runtime) -> Council:
    return await _council(http, runtime, "council-tax")


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


def _signed_in(open_browser: BrowserFactory, account: Account | Person) -> Browser:
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


# --- An agent's delegated views ----------------------------------------------------------------


@dataclass
class Delegation:
    """An agency, a relationship a client accepted for :data:`SERVICE`, the client, and a
    council whose team is for that service (``tax``) beside one whose team is not
    (``rates``), each with its back office's token and the client's pairwise sub."""

    firm: Agency
    relationship: Relationship
    client: Account
    tax: Council
    tax_sub: str
    rates: Council
    rates_sub: str

    @property
    def base(self) -> str:
        return f"/messages/for/{self.relationship.id}"


@pytest.fixture
async def delegation(http: httpx.AsyncClient, runtime: Runtime) -> Delegation:
    firm = await agency(runtime)
    relationship = await accepted(runtime, runtime.agents, firm)
    assert relationship.client_account_id is not None
    client = await runtime.accounts.get(relationship.client_account_id)
    tax, rates = (
        await _council(http, runtime, SERVICE),
        await _council(http, runtime, "council-tax"),
    )
    enrol = runtime.messaging.enrol
    tax_sub = await enrol(tax.kit.website.client, client.id)
    rates_sub = await enrol(rates.kit.website.client, client.id)
    return Delegation(firm, relationship, client, tax, tax_sub, rates, rates_sub)


async def _told(runtime: Runtime, account_id: str, after: str) -> list[dict[str, str]]:
    """The entries written to the account's live-update stream after ``after``."""
    return [fields for _, fields in await MessagingStore(runtime.redis).signals(account_id, after)]


async def test_agents_are_told_only_while_a_relationship_lets_them_read_the_conversation(
    runtime: Runtime,
) -> None:
    """The publishing side, on the real store: of an agency's users, only those the
    relationship permits (its groups) are told of the client's conversation in its service,
    with the relationship named; none of a conversation in another service; and none once
    the client has revoked it, while the client still is."""
    firm = await agency(runtime)
    permitted = await staff(runtime, firm, groups="Tax returns")
    outside = await staff(runtime, firm, groups="Payroll")
    relationship = await accepted(runtime, runtime.agents, firm, groups=frozenset({"Tax returns"}))
    assert relationship.client_account_id is not None
    client = await runtime.accounts.get(relationship.client_account_id)
    tax, rates = await new_council(runtime, SERVICE), await new_council(runtime)
    live = runtime.messaging.live
    agents = (permitted.account_id, outside.account_id, firm.admin.account_id)
    before = {account: await live.position(account) for account in (*agents, client.id)}

    other_service = await write_to(runtime, rates, client, "your council tax")
    covered = await write_to(runtime, tax, client, "your tax return")

    assert await _told(runtime, permitted.account_id, before[permitted.account_id]) == [
        {
            "conversation": covered.conversation.id,
            "side": "citizen",
            "change": "new",
            "relationship": relationship.id,
        }
    ]
    for account in agents[1:]:  # in no group the relationship names
        assert await _told(runtime, account, before[account]) == []
    told_client = await _told(runtime, client.id, before[client.id])
    assert [e["conversation"] for e in told_client] == [
        other_service.conversation.id,
        covered.conversation.id,
    ]
    assert all("relationship" not in e for e in told_client)

    await runtime.agents.revoke_as_client(client.id, relationship.id)
    ended = await live.position(permitted.account_id)
    again = await write_to(runtime, tax, client, "your tax return, amended")
    assert await _told(runtime, permitted.account_id, ended) == []
    told_client = await _told(runtime, client.id, before[client.id])
    assert told_client[-1]["conversation"] == again.conversation.id


async def test_an_agents_delegated_streams_tell_of_the_clients_conversations_only(
    runtime: Runtime, gateway_url: str, open_brisk: BrowserFactory, delegation: Delegation
) -> None:
    """The delegated inbox's stream tells of the client's conversation in the service, not of
    one in another service; the conversation's stream of a message in it; and the agent's
    own inbox stream of neither (only of the agent's own messages)."""
    d = delegation
    agent = _signed_in(open_brisk, d.firm.admin)
    agents_own_sub = await runtime.messaging.enrol(
        d.tax.kit.website.client, d.firm.admin.account_id
    )
    with ExitStack() as stack:
        inbox = Stream(stack, agent, d.base + "/events")
        own = Stream(stack, agent, "/messages/events")
        # Another service's first: were it told to the stream, it would come first.
        d.rates.write(gateway_url, d.rates_sub)
        covered = d.tax.write(gateway_url, d.tax_sub)
        assert inbox.next_event() == {"conversation": covered, "change": "new"}
        # The agent's own message next: were the client's told to their own inbox, it would
        # come first.
        theirs = d.tax.write(gateway_url, agents_own_sub)
        assert own.next_event() == {"conversation": theirs, "change": "new"}

        page = Stream(stack, agent, f"{d.base}/{covered}/events")
        d.tax.write_again(gateway_url, covered, "We have added a note.")
        assert page.next_event() == {"conversation": covered, "change": "new"}


async def test_delegated_streams_answer_404_where_their_pages_would_and_204_without_a_session(
    runtime: Runtime, gateway_url: str, open_brisk: BrowserFactory, delegation: Delegation
) -> None:
    d = delegation
    covered = d.tax.write(gateway_url, d.tax_sub)
    other_service = d.rates.write(gateway_url, d.rates_sub)
    agent = _signed_in(open_brisk, d.firm.admin)
    another_agency = await agency(runtime)
    outsider = _signed_in(open_brisk, another_agency.admin)  # an agent with no relationship
    guessed = "rel_" + secrets.token_urlsafe(16)

    for browser, path in (
        (outsider, f"{d.base}/events"),
        (outsider, f"{d.base}/{covered}/events"),
        (agent, f"{d.base}/{other_service}/events"),  # the relationship is for another service
        (agent, f"/messages/for/{guessed}/events"),
        (agent, f"/messages/for/{guessed}/{covered}/events"),
        (agent, f"{d.base}/cv_{secrets.token_urlsafe(16)}/events"),
    ):
        assert browser.get(path).status_code == 404, path
        assert browser.get(path.removesuffix("/events")).status_code == 404, path
    anonymous = open_brisk()
    for path in (f"{d.base}/events", f"{d.base}/{covered}/events"):
        assert anonymous.get(path).status_code == 204
    with ExitStack() as stack:
        for path in (f"{d.base}/events", f"{d.base}/{covered}/events"):
            Stream(stack, agent, path)
    # Once the client revokes the relationship, the streams are the pages' 404 too.
    await runtime.agents.revoke_as_client(d.client.id, d.relationship.id)
    for path in (f"{d.base}/events", f"{d.base}/{covered}/events"):
        assert agent.get(path).status_code == 404


async def test_the_delegated_pages_work_with_javascript_off_and_name_their_streams(
    gateway_url: str, open_browser: BrowserFactory, delegation: Delegation
) -> None:
    """With JavaScript off the pages read as before; the live region is there, hidden, for
    the script to use, and points at the page's own stream."""
    d = delegation
    covered = d.tax.write(gateway_url, d.tax_sub)
    agent = _signed_in(open_browser, d.firm.admin)
    inbox = agent.get(d.base)
    assert inbox.status_code == 200 and SUBJECT in inbox.text
    page = agent.get(f"{d.base}/{covered}")
    assert page.status_code == 200 and BODY in page.text
    for response, here in ((inbox, d.base), (page, f"{d.base}/{covered}")):
        assert f'data-stream="{here}/events"' in response.text
        assert "<div data-live-banner hidden>" in response.text
        assert '<script type="module" src="/messages/live.js"></script>' in response.text


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


@pytest.mark.browser
def test_an_agents_open_conversation_shows_the_councils_new_message_without_a_reload(
    page: Page, web_url: str, gateway_url: str, delegation: Delegation
) -> None:
    d = delegation
    conversation = d.tax.write(gateway_url, d.tax_sub)
    page.goto(f"{web_url}{d.base}/{conversation}")
    page.get_by_label("Email address").fill(d.firm.admin.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()
    expect(page.get_by_text(BODY)).to_be_visible()
    loaded = page.evaluate("performance.timeOrigin")

    d.tax.write_again(gateway_url, conversation, "We have added a note to your return.")

    expect(page.get_by_text("You have a new message.")).to_be_visible()
    assert page.evaluate("performance.timeOrigin") == loaded, "the page was not reloaded"
    assert_accessible(page, "an agent's conversation with the live-update banner")
    page.get_by_role("link", name="Refresh this page to see the latest").click()
    expect(page.get_by_text("We have added a note to your return.")).to_be_visible()
