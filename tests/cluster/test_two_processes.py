"""Two gateway processes share everything through the store (DESIGN.md §1.3): each request of
one sign-in, one pushed request, one DPoP replay and one throttled attacker goes to the other
process than the one before, and each behaves as on one process.

A transport that sends every request to the next process in turn stands in for a load
balancer with no session affinity; the pages and tokens are driven by the same helpers as the
single-process tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import httpx
import pytest

from gateway.runtime import Runtime
from tests.conftest import unique_client_address
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    authorize_path,
    callback,
    pkce_pair,
    relying_party,
    request_params,
    sign_in_here,
    visit,
)
from tests.gateway.clients.support import new_organisation
from tests.gateway.tokens.support import (
    Kit,
    dpop_proof,
    error_of,
    new_ec_key,
    post_token,
    secret_client,
)
from tests.support.accounts import create_account
from tests.support.servers import GatewayProcess
from tests.support.web import Browser

Pair = tuple[GatewayProcess, GatewayProcess]


class RoundRobin:
    """Which process each request went to: the next one every time."""

    def __init__(self, gateways: Pair) -> None:
        self._ports = itertools.cycle([gateway.port for gateway in gateways])
        self.served: list[int] = []

    def route(self, request: httpx.Request) -> None:
        port = next(self._ports)
        self.served.append(port)
        request.url = request.url.copy_with(port=port)
        request.headers["Host"] = f"127.0.0.1:{port}"


class _Transport(httpx.HTTPTransport):
    def __init__(self, balancer: RoundRobin) -> None:
        super().__init__()
        self._balancer = balancer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._balancer.route(request)
        return super().handle_request(request)


class _AsyncTransport(httpx.AsyncHTTPTransport):
    def __init__(self, balancer: RoundRobin) -> None:
        super().__init__()
        self._balancer = balancer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._balancer.route(request)
        return await super().handle_async_request(request)


def balanced_browser(gateways: Pair, ip: str | None = None) -> tuple[Browser, RoundRobin]:
    """A page client (one cookie jar) whose every request goes to the other process."""
    balancer = RoundRobin(gateways)
    browser = Browser(gateways[0].base_url, {"X-Forwarded-For": ip or unique_client_address()})
    browser.client.close()
    browser.client = httpx.Client(
        base_url=gateways[0].base_url,
        headers=browser.headers,
        follow_redirects=True,
        timeout=30,
        transport=_Transport(balancer),
    )
    return browser, balancer


@pytest.fixture
def browsers(two_gateways: Pair) -> Iterator[list[tuple[Browser, RoundRobin]]]:
    opened: list[tuple[Browser, RoundRobin]] = []
    yield opened
    for browser, _ in opened:
        browser.close()


@pytest.fixture
async def api(two_gateways: Pair) -> AsyncIterator[tuple[httpx.AsyncClient, RoundRobin]]:
    """A back-channel client (a council's server) whose requests alternate too."""
    balancer = RoundRobin(two_gateways)
    async with httpx.AsyncClient(
        base_url=two_gateways[0].base_url, timeout=30, transport=_AsyncTransport(balancer)
    ) as client:
        yield client, balancer


def both_served(balancer: RoundRobin, gateways: Pair) -> bool:
    return {gateway.port for gateway in gateways} <= set(balancer.served)


async def test_one_sign_in_goes_back_and_forth_between_two_processes(
    two_gateways: Pair,
    runtime: Runtime,
    browsers: list[tuple[Browser, RoundRobin]],
    api: tuple[httpx.AsyncClient, RoundRobin],
) -> None:
    """Account, /authorize, the sign-in form, the code exchange and the refreshes, each step
    on the other process: the session, the pending request, the code and the refresh token
    family are all in the store, so a replayed refresh token or code is caught by the other
    process, and the family it revokes is revoked for both."""
    rp = await relying_party(runtime, await new_organisation(runtime), first_party=True)
    kit = Kit(rp.client, key=rp.key, kid="rp-key")
    maker = balanced_browser(two_gateways)
    browser = balanced_browser(two_gateways)
    browsers.extend([maker, browser])
    email = create_account(maker[0])
    verifier, challenge = pkce_pair()
    params = request_params(rp, login_hint=email, code_challenge=challenge)

    page = visit(browser[0], authorize_path(params))
    assert page.status_code == 200 and page.url.path == "/authorize/sign-in", page.text[:300]
    answer = callback(sign_in_here(browser[0], page, email))
    assert answer["state"] == params["state"]
    assert both_served(browser[1], two_gateways)

    http, balancer = api
    code = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    tokens = await post_token(http, runtime, kit, code)
    assert tokens.status_code == 200, tokens.text

    refresh = {"grant_type": "refresh_token"}
    first = tokens.json()["refresh_token"]
    rotated = await post_token(http, runtime, kit, {**refresh, "refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    replay = await post_token(http, runtime, kit, {**refresh, "refresh_token": first})
    assert replay.status_code == 400 and error_of(replay) == "invalid_grant"
    # The replay revoked the whole family, on whichever process holds its newest token.
    newest = rotated.json()["refresh_token"]
    revoked = await post_token(http, runtime, kit, {**refresh, "refresh_token": newest})
    assert revoked.status_code == 400 and error_of(revoked) == "invalid_grant"
    replayed_code = await post_token(http, runtime, kit, code)
    assert replayed_code.status_code == 400 and error_of(replayed_code) == "invalid_grant"
    assert both_served(balancer, two_gateways)


async def test_a_pushed_request_made_on_one_process_is_used_once_on_the_other(
    two_gateways: Pair,
    runtime: Runtime,
    browsers: list[tuple[Browser, RoundRobin]],
    api: tuple[httpx.AsyncClient, RoundRobin],
) -> None:
    rp = await relying_party(
        runtime, await new_organisation(runtime), secret=True, first_party=True
    )
    kit = Kit(rp.client, secret=rp.secret)
    browser = balanced_browser(two_gateways)
    browsers.append(browser)
    create_account(browser[0])
    http, _ = api
    params = request_params(rp)
    pushed = await post_token(http, runtime, kit, params, path="/par")
    assert pushed.status_code == 201, pushed.text
    front = "/authorize?" + urlencode(
        {"client_id": rp.client_id, "request_uri": pushed.json()["request_uri"]}
    )

    answer = callback(visit(browser[0], front))
    assert answer["state"] == params["state"]
    again = visit(browser[0], front)
    assert again.status_code == 400 and "invalid_request_uri" in again.text
    assert both_served(browser[1], two_gateways)


async def test_a_dpop_proof_used_on_one_process_is_refused_by_the_other(
    two_gateways: Pair, runtime: Runtime, api: tuple[httpx.AsyncClient, RoundRobin]
) -> None:
    kit = await secret_client(
        runtime,
        await new_organisation(runtime),
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="permits",
    )
    http, balancer = api
    proof = dpop_proof(new_ec_key(), "POST", runtime.settings.issuer + "/token")
    credentials = {"grant_type": "client_credentials"}
    first = await post_token(http, runtime, kit, credentials, dpop=proof)
    assert first.status_code == 200, first.text
    again = await post_token(http, runtime, kit, credentials, dpop=proof)
    assert again.status_code == 400 and error_of(again) == "invalid_dpop_proof"
    assert "used before" in again.text
    assert balancer.served[0] != balancer.served[1]


def test_the_sign_in_throttle_counts_failures_on_both_processes_together(
    two_gateways: Pair, browsers: list[tuple[Browser, RoundRobin]]
) -> None:
    """Three wrong passwords are free; the fourth starts a 30-second wait, so the fifth is
    refused with 429. Counted per process, neither would have seen its fourth failure yet."""
    owner = balanced_browser(two_gateways)
    attacker = balanced_browser(two_gateways)
    browsers.extend([owner, attacker])
    email = create_account(owner[0])
    attacker[0].get("/sign-in")  # then every post (and its CSRF token) alternates
    statuses = []
    for attempt in range(5):
        response = attacker[0].post("/sign-in", {"email": email, "password": f"guess {attempt}"})
        statuses.append(response.status_code)
        wait = re.search(r"Wait (\d+) seconds", response.text)
        if response.status_code == 429:
            assert wait is not None, response.text[:500]
    assert 429 in statuses, statuses
    assert 200 not in statuses
    assert both_served(attacker[1], two_gateways)
