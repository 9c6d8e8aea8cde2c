"""RP-initiated logout decisions on the real store and key ring (RP-Initiated Logout 1.0):
a hint must be an ID token this gateway signed for the client, expired or not; a
post_logout_redirect_uri must be registered exactly; only a hint naming this very sign-in
spares the person the confirmation page."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.core.ids import new_id
from gateway.logout.errors import (
    InvalidIdTokenHintError,
    InvalidLogoutRequestError,
    UnknownLogoutClientError,
    UnregisteredLogoutUriError,
)
from gateway.logout.models import LogoutRequest
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod
from tests.conftest import TEST_ACTOR
from tests.gateway.logout.support import SIGNED_OUT_URI, id_token, register_client


async def test_a_valid_hint_names_the_client_and_sign_in_and_the_uri_gets_the_state(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await register_client(runtime, organisation_id)
    hint = id_token(runtime, client, new_id("acc"), "sid-1")
    plan = await runtime.logout.plan(
        LogoutRequest(id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT_URI, state="s p&q")
    )
    assert plan.client_id == client.client_id and plan.client_name == client.client_name
    assert plan.hint is not None and plan.hint.sid == "sid-1"
    assert plan.return_url() == f"{SIGNED_OUT_URI}?state=s+p%26q"


async def test_an_expired_hint_is_still_accepted(runtime: Runtime, organisation_id: str) -> None:
    """§2: relying parties keep the ID token for logout long after it expired."""
    client = await register_client(runtime, organisation_id)
    hint = id_token(runtime, client, new_id("acc"), "sid-1", lifetime=-86_400)
    plan = await runtime.logout.plan(LogoutRequest(id_token_hint=hint))
    assert plan.hint is not None and plan.client_id == client.client_id


async def test_a_registered_uri_with_a_query_keeps_it_and_adds_the_state(
    runtime: Runtime, organisation_id: str
) -> None:
    uri = "https://www.anytown.example/bye?from=govconnect"
    client = await register_client(runtime, organisation_id, post_logout_redirect_uris=[uri])
    plan = await runtime.logout.plan(
        LogoutRequest(client_id=client.client_id, post_logout_redirect_uri=uri, state="xyz")
    )
    assert plan.return_url() == f"{uri}&state=xyz" and plan.hint is None


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example"},
        {"aud": "cli_" + "B" * 22},
        {"aud": ["cli_" + "B" * 22, "cli_" + "C" * 22]},
        {"sub": None},
    ],
    ids=["another-issuer", "another-client", "no-single-audience", "no-subject"],
)
async def test_a_hint_with_the_wrong_claims_is_refused(
    runtime: Runtime, organisation_id: str, changes: dict[str, Any]
) -> None:
    client = await register_client(runtime, organisation_id)
    hint = id_token(runtime, client, new_id("acc"), "sid-1", **changes)
    with pytest.raises(InvalidLogoutRequestError):
        await runtime.logout.plan(LogoutRequest(id_token_hint=hint))


async def test_a_hint_not_signed_by_the_gateway_is_refused(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await register_client(runtime, organisation_id)
    genuine = id_token(runtime, client, new_id("acc"), "sid-1")
    header, payload, signature = genuine.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    forged = jwt.encode(
        {"alg": "ES256", "kid": runtime.keys.current().kid},
        {"iss": runtime.settings.issuer, "aud": client.client_id, "sub": "x"},
        ECKey.generate_key("P-256"),
    )
    for token in (tampered, forged, "not-a-jwt"):
        with pytest.raises(InvalidIdTokenHintError):
            await runtime.logout.plan(LogoutRequest(id_token_hint=token))


async def test_a_logout_or_access_token_is_not_an_id_token(
    runtime: Runtime, organisation_id: str
) -> None:
    """RFC 8725 §3.11: the same keys sign other tokens, told apart by typ."""
    client = await register_client(runtime, organisation_id)
    for typ in ("logout+jwt", "at+jwt"):
        hint = id_token(runtime, client, new_id("acc"), "sid-1", typ=typ)
        with pytest.raises(InvalidIdTokenHintError):
            await runtime.logout.plan(LogoutRequest(id_token_hint=hint))


async def test_a_hint_in_another_algorithm_than_the_client_registered_is_refused(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await register_client(runtime, organisation_id)
    hint = id_token(runtime, client, new_id("acc"), "sid-1", alg="RS256")
    with pytest.raises(InvalidIdTokenHintError):
        await runtime.logout.plan(LogoutRequest(id_token_hint=hint))


async def test_client_id_must_be_the_audience_of_the_hint(
    runtime: Runtime, organisation_id: str
) -> None:
    """§2: "the OP MUST verify that it matches the client_id used when issuing"."""
    client = await register_client(runtime, organisation_id)
    other = await register_client(runtime, organisation_id)
    hint = id_token(runtime, client, new_id("acc"), "sid-1")
    with pytest.raises(InvalidIdTokenHintError):
        await runtime.logout.plan(LogoutRequest(id_token_hint=hint, client_id=other.client_id))
    plan = await runtime.logout.plan(LogoutRequest(id_token_hint=hint, client_id=client.client_id))
    assert plan.client_id == client.client_id


@pytest.mark.parametrize(
    "uri",
    [
        SIGNED_OUT_URI + "/",
        SIGNED_OUT_URI + "?x=1",
        SIGNED_OUT_URI.upper(),
        "https://evil.example/signed-out",
    ],
)
async def test_a_uri_that_is_not_registered_exactly_is_refused(
    runtime: Runtime, organisation_id: str, uri: str
) -> None:
    client = await register_client(runtime, organisation_id)
    with pytest.raises(UnregisteredLogoutUriError):
        await runtime.logout.plan(
            LogoutRequest(client_id=client.client_id, post_logout_redirect_uri=uri)
        )


async def test_a_uri_without_hint_or_client_id_is_refused(runtime: Runtime) -> None:
    with pytest.raises(UnregisteredLogoutUriError):
        await runtime.logout.plan(LogoutRequest(post_logout_redirect_uri=SIGNED_OUT_URI))


async def test_an_unknown_or_disabled_client_is_refused(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await register_client(runtime, organisation_id)
    await runtime.clients.disable(client.client_id, TEST_ACTOR)
    for client_id in (client.client_id, "cli_" + "Z" * 22, "nonsense"):
        with pytest.raises(UnknownLogoutClientError):
            await runtime.logout.plan(LogoutRequest(client_id=client_id))


def test_a_repeated_or_oversized_parameter_is_refused() -> None:
    """RFC 6749 §3.1: parameters must not be repeated; unknown ones are ignored."""
    with pytest.raises(InvalidLogoutRequestError):
        LogoutRequest.from_parameters([("state", "a"), ("state", "b")])
    with pytest.raises(InvalidLogoutRequestError):
        LogoutRequest.from_parameters([("state", "x" * 5000)])
    parsed = LogoutRequest.from_parameters([("state", "a"), ("ui_locales", "cy en"), ("x", "y")])
    assert parsed == LogoutRequest(state="a", ui_locales="cy en")


async def test_only_a_hint_naming_this_sign_in_proves_the_request(
    runtime: Runtime, organisation_id: str
) -> None:
    client = await register_client(runtime, organisation_id)
    account = new_id("acc")
    session = await runtime.sessions.sign_in(
        await runtime.sessions.start("192.0.2.1", "test"), account, [AuthMethod.PASSWORD]
    )

    async def proves(hint: str | None) -> bool:
        plan = await runtime.logout.plan(
            LogoutRequest(id_token_hint=hint, client_id=None if hint else client.client_id)
        )
        return runtime.logout.proves(plan, session)

    assert await proves(id_token(runtime, client, account, session.sid))
    assert not await proves(id_token(runtime, client, account, "another-sign-in"))
    assert not await proves(None)
    # A hint without sid is matched on the person's pairwise subject for that client.
    assert await proves(id_token(runtime, client, account, None))
    assert not await proves(id_token(runtime, client, new_id("acc"), None))
    signed_out = replace(session, account_id=None)
    plan = await runtime.logout.plan(
        LogoutRequest(id_token_hint=id_token(runtime, client, account, session.sid))
    )
    assert not runtime.logout.proves(plan, signed_out)
