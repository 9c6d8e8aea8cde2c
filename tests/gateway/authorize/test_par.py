"""Pushed authorization requests (RFC 9126): client-authenticated, validated like /authorize
but answered as JSON, used once and briefly, required where the client is registered so."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import urlencode

import httpx

from gateway.authorize.store import pushed_key
from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    RelyingParty,
    authorize_path,
    callback,
    relying_party,
    request_params,
    visit,
)
from tests.support.accounts import create_account
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]


def _basic(rp: RelyingParty) -> dict[str, str]:
    assert rp.secret is not None
    token = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _push(
    http: httpx.AsyncClient, rp: RelyingParty, params: dict[str, str]
) -> httpx.Response:
    return await http.post("/par", data=params, headers=_basic(rp))


def _front(rp: RelyingParty, request_uri: str, **extra: str) -> str:
    return "/authorize?" + urlencode(
        {"client_id": rp.client_id, "request_uri": request_uri, **extra}
    )


async def test_a_pushed_request_is_used_once_and_its_parameters_win(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    rp = await relying_party(runtime, organisation_id, secret=True, first_party=True)
    browser = open_browser()
    create_account(browser)
    params = request_params(rp)
    pushed = await _push(http, rp, params)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["cache-control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < body["expires_in"] <= 60

    # Parameters outside the pushed request are ignored (RFC 9126 §4).
    front = _front(
        rp, body["request_uri"], state="forged", redirect_uri="https://attacker.example/"
    )
    answer = callback(visit(browser, front))
    assert answer["state"] == params["state"]
    grant = (await runtime.codes.redeem(answer["code"])).grant
    assert grant is not None and grant.nonce == params["nonce"]

    again = visit(browser, _front(rp, body["request_uri"]))
    assert again.status_code == 400 and "location" not in again.headers
    assert "invalid_request_uri" in again.text


async def test_an_expired_request_uri_is_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    rp = await relying_party(runtime, organisation_id, secret=True, first_party=True)
    request_uri = (await _push(http, rp, request_params(rp))).json()["request_uri"]
    # Expiry is Redis's own TTL; let it lapse now rather than wait the minute.
    await runtime.redis.pexpire(pushed_key(request_uri), 1)
    while await runtime.redis.exists(pushed_key(request_uri)):
        pass
    response = visit(open_browser(), _front(rp, request_uri))
    assert response.status_code == 400 and "This sign-in link has expired" in response.text


async def test_a_request_uri_is_only_for_the_client_that_pushed_it(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    pusher = await relying_party(runtime, organisation_id, secret=True)
    other = await relying_party(runtime, organisation_id, secret=True)
    request_uri = (await _push(http, pusher, request_params(pusher))).json()["request_uri"]
    response = visit(open_browser(), _front(other, request_uri))
    assert response.status_code == 400 and "location" not in response.headers


async def test_par_needs_client_authentication(
    runtime: Runtime, organisation_id: str, http: httpx.AsyncClient
) -> None:
    rp = await relying_party(runtime, organisation_id, secret=True)
    response = await http.post("/par", data=request_params(rp))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:nope".encode()).decode()}
    response = await http.post("/par", data=request_params(rp), headers=wrong)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_par_answers_errors_as_json_not_redirects(
    runtime: Runtime, organisation_id: str, http: httpx.AsyncClient
) -> None:
    rp = await relying_party(runtime, organisation_id, secret=True)
    cases = [
        (request_params(rp, code_challenge=None), "invalid_request"),
        (request_params(rp, redirect_uri=REDIRECT_URI + "/x"), "invalid_request"),
        (request_params(rp, scope="openid phone"), "invalid_scope"),
        (request_params(rp, response_type="token"), "unsupported_response_type"),
        (
            {**request_params(rp), "request_uri": "urn:ietf:params:oauth:request_uri:x"},
            "invalid_request",
        ),
    ]
    for params, error in cases:
        response = await _push(http, rp, params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"] == error
        assert "location" not in response.headers


async def test_a_client_that_must_use_par_is_refused_without_it(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    rp = await relying_party(
        runtime, organisation_id, secret=True, first_party=True, require_par=True
    )
    browser = open_browser()
    create_account(browser)
    plain = callback(visit(browser, authorize_path(request_params(rp))))
    assert plain["error"] == "invalid_request" and "PAR" in plain["error_description"]

    request_uri = (await _push(http, rp, request_params(rp))).json()["request_uri"]
    assert "code" in callback(visit(browser, _front(rp, request_uri)))
