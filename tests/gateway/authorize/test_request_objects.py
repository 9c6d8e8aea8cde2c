"""Signed request objects (RFC 9101): verified with the client's registered keys and an
algorithm allow-list; their parameters replace the query's."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc.jwk import ECKey

from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    callback,
    relying_party,
    request_object,
    request_params,
    visit,
)
from tests.support.accounts import create_account
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]


async def test_a_signed_request_object_is_used_and_the_query_ignored(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    signed = request_params(rp)
    token = request_object(rp, issuer, signed)
    query = {"client_id": rp.client_id, "response_type": "code", "request": token, "state": "q"}
    answer = callback(visit(browser, "/authorize?" + urlencode(query)))
    assert answer["state"] == signed["state"]
    grant = (await runtime.codes.redeem(answer["code"])).grant
    assert grant is not None and grant.nonce == signed["nonce"]


def _query(client_id: str, token: str, **extra: str) -> str:
    return "/authorize?" + urlencode({"client_id": client_id, "request": token, **extra})


async def test_a_request_object_signed_by_another_key_is_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    rp = await relying_party(runtime, organisation_id)
    token = request_object(rp, issuer, request_params(rp), key=ECKey.generate_key("P-256"))

    # With no registered redirect URI outside the (unproven) object: a page, no redirect.
    page = visit(open_browser(), _query(rp.client_id, token))
    assert page.status_code == 400 and "location" not in page.headers
    assert "invalid_request_object" in page.text

    # With a registered one in the query: the error goes there.
    answer = callback(
        visit(open_browser(), _query(rp.client_id, token, redirect_uri=REDIRECT_URI, state="s"))
    )
    assert answer["error"] == "invalid_request_object" and answer["state"] == "s"


def _unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` JWT (RFC 7519 §6.1): what the allow-list must never accept."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize(
    "change",
    ["unsigned", "wrong-audience", "wrong-issuer", "expired", "nested-request-uri"],
)
async def test_request_objects_that_do_not_hold_are_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str, change: str
) -> None:
    rp = await relying_party(runtime, organisation_id)
    params: dict[str, Any] = request_params(rp)
    if change == "unsigned":
        token = _unsigned({"iss": rp.client_id, "aud": issuer, **params})
    elif change == "wrong-audience":
        token = request_object(rp, "https://other-provider.example", params)
    elif change == "wrong-issuer":
        token = request_object(rp, issuer, {**params, "iss": "someone-else"})
    elif change == "expired":
        token = request_object(rp, issuer, {**params, "exp": 1_000_000})
    else:
        token = request_object(rp, issuer, {**params, "request_uri": "https://x.example/r"})
    answer = callback(visit(open_browser(), _query(rp.client_id, token, redirect_uri=REDIRECT_URI)))
    assert answer["error"] == "invalid_request_object"
