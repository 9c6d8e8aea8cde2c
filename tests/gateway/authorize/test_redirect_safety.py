"""Until the client and its redirect URI are proven, nothing is sent anywhere: the person
sees a page (RFC 6749 §4.1.2.1, RFC 9700 §2.1, §4.11). After that, every error goes back to
the registered redirect URI with ``state`` and ``iss`` (RFC 9207)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.core.ids import new_id
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    authorize_path,
    callback,
    relying_party,
    request_params,
    visit,
)
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]
ATTACKER = "https://attacker.example/steal"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/extra",
        REDIRECT_URI + "?next=https://attacker.example",
        REDIRECT_URI + "/",
        "https://permits.anytown.example/Callback",
        "https://PERMITS.anytown.example/callback",
        ATTACKER,
        None,
    ],
    ids=["extra-path", "extra-query", "trailing-slash", "path-case", "host-case", "other", "none"],
)
async def test_a_redirect_uri_that_is_not_exactly_registered_gets_a_page_not_a_redirect(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, redirect_uri: str | None
) -> None:
    rp = await relying_party(runtime, organisation_id)
    response = visit(open_browser(), authorize_path(request_params(rp, redirect_uri=redirect_uri)))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "We cannot send you back to the service" in response.text
    assert "invalid_request" in response.text  # the details for the service's developers


async def test_an_unknown_client_with_an_attackers_redirect_uri_gets_a_page(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id)
    params = request_params(rp, client_id=new_id("cli"), redirect_uri=ATTACKER)
    response = visit(open_browser(), authorize_path(params))
    assert response.status_code == 400 and "location" not in response.headers
    assert "not registered with GovConnect" in response.text


async def test_a_disabled_client_gets_a_page(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id)
    await runtime.clients.disable(rp.client_id, TEST_ACTOR)
    response = visit(open_browser(), authorize_path(request_params(rp)))
    assert response.status_code == 400 and "location" not in response.headers


async def test_a_bad_response_type_with_an_attackers_redirect_uri_gets_a_page(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id)
    params = request_params(rp, response_type="token", redirect_uri=ATTACKER)
    response = visit(open_browser(), authorize_path(params))
    assert response.status_code == 400 and "location" not in response.headers


async def test_a_repeated_redirect_uri_gets_a_page(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id)
    path = authorize_path(request_params(rp)) + "&redirect_uri=" + ATTACKER
    response = visit(open_browser(), path)
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"scope": "email"}, "invalid_scope"),
        ({"scope": "openid phone"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "create"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"claims": '{"id_token": {"acr": {"essential": "yes"}}}'}, "invalid_request"),
        ({"nonce": "n" * 4097}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request_uri": "https://rp.example/request.jwt"}, "request_uri_not_supported"),
        ({"registration": "{}"}, "registration_not_supported"),
        ({"dpop_jkt": "not-a-thumbprint"}, "invalid_request"),
        ({"vtr": "Cl.Cm"}, "invalid_request"),
        ({"vtr": '["Cl.Cm.P9"]'}, "invalid_request"),
        ({"vtr": '["Cl.Cm"]', "acr_values": "Cl.Cm"}, "invalid_request"),
    ],
    ids=[
        "token",
        "hybrid",
        "no-response-type",
        "no-pkce",
        "plain-pkce",
        "no-pkce-method",
        "malformed-challenge",
        "no-openid",
        "unregistered-scope",
        "none-with-login",
        "unknown-prompt",
        "negative-max-age",
        "claims-not-json",
        "claims-malformed",
        "nonce-too-long",
        "fragment-mode",
        "foreign-request-uri",
        "registration",
        "bad-dpop-jkt",
        "vtr-not-json",
        "vtr-unknown-level",
        "vtr-with-acr-values",
    ],
)
async def test_errors_after_the_redirect_uri_is_proven_go_back_with_state_and_iss(
    runtime: Runtime,
    organisation_id: str,
    open_browser: OpenBrowser,
    issuer: str,
    overrides: dict[str, str | None],
    error: str,
) -> None:
    rp = await relying_party(runtime, organisation_id)
    params = request_params(rp, **overrides)
    answer = callback(visit(open_browser(), authorize_path(params)))
    assert answer["error"] == error
    assert answer["error_description"]
    assert answer["state"] == params["state"]
    assert answer["iss"] == issuer
    assert "code" not in answer


async def test_a_repeated_parameter_is_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id)
    answer = callback(visit(open_browser(), authorize_path(request_params(rp)) + "&scope=openid"))
    assert answer["error"] == "invalid_request" and "scope" in answer["error_description"]


async def test_prompt_none_without_a_session_answers_login_required(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    rp = await relying_party(runtime, organisation_id, first_party=True)
    params = request_params(rp, prompt="none")
    answer = callback(visit(open_browser(), authorize_path(params)))
    assert answer == {
        "error": "login_required",
        "error_description": answer["error_description"],
        "state": params["state"],
        "iss": issuer,
    }


async def test_a_query_the_registered_redirect_uri_has_is_kept(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """RFC 6749 §3.1.2: the registered URI's own query stays, the response is added to it."""
    registered = REDIRECT_URI + "?council=anytown"
    rp = await relying_party(runtime, organisation_id, redirect_uris=[registered])
    params = request_params(rp, redirect_uri=registered, prompt="none")
    response = visit(open_browser(), authorize_path(params))
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?council=anytown&")
    assert "error=login_required" in location
