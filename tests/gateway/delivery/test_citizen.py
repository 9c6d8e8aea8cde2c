"""A council website submitting for a signed-in citizen with the citizen's access token: the
citizen's pairwise id for the recipient and the level reached travel in the envelope, and a
service's level is enforced (RFC 9470 when the sign-in falls short)."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.delivery.envelope import open_envelope
from gateway.delivery.services import recipient_sector
from gateway.runtime import Runtime
from gateway.tokens.store import family_key
from tests.conftest import TEST_ACTOR
from tests.gateway.delivery.support import Exchange, add_service, party, submit
from tests.gateway.tokens.support import exchange as exchange_code
from tests.gateway.tokens.support import issue_code, key_client
from tests.support.accounts import PASSWORD


@pytest.fixture(scope="module")
async def citizen(runtime: Runtime) -> Account:
    return await runtime.accounts.create(
        f"citizen-{secrets.token_hex(5)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=None,
        actor=TEST_ACTOR,
    )


async def _website_for(
    http: httpx.AsyncClient,
    runtime: Runtime,
    admin_headers: dict[str, str],
    citizen: Account,
    *,
    min_level: str | None,
    acr: str = "Cl.Cm",
) -> tuple[Exchange, dict[str, str]]:
    """A council website (a web client of the sender organisation) holding the citizen's
    access token, and a routing rule to a back office."""
    back_office = await party(http, runtime)
    website_org = await party(http, runtime)
    website = await key_client(runtime, website_org.org_id)
    issued = await issue_code(runtime, website, citizen, scope=("openid",), acr=acr)
    token = await exchange_code(http, runtime, website, issued)
    assert token.status_code == 200, token.text
    name = await add_service(http, admin_headers, min_level=min_level)
    rule = {"sender": website_org.org_id, "service": name, "recipient": back_office.org_id}
    added = await http.post("/admin/v1/routes", json=rule, headers=admin_headers)
    ex = Exchange(website_org, back_office, name, added.json()["id"])
    return ex, {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_the_citizens_pairwise_id_and_level_travel_in_the_envelope(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    ex, headers = await _website_for(http, runtime, admin_headers, citizen, min_level="Cl.Cm")
    response = await submit(http, headers, ex.request())
    assert response.status_code == 202, response.text
    stored = await runtime.delivery.submissions.stored(response.json()["id"])
    assert stored is not None
    payload = open_envelope(stored.envelope, runtime.keys.jwks()).submission
    subject = payload["subject"]
    expected = runtime.subjects.subject(recipient_sector(ex.recipient.org_id), citizen.id)
    assert subject["sub"] == expected and subject["acr"] == "Cl.Cm"
    assert isinstance(subject["auth_time"], int)
    assert payload["sender"]["organisation"] == ex.sender.org_id


async def test_two_recipients_see_different_ids_for_one_citizen(runtime: Runtime) -> None:
    one = runtime.subjects.subject(recipient_sector("org_one"), "acct_x")
    two = runtime.subjects.subject(recipient_sector("org_two"), "acct_x")
    assert one != two


async def test_a_sign_in_below_the_services_level_is_refused_with_rfc_9470(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    ex, headers = await _website_for(
        http, runtime, admin_headers, citizen, min_level="Cl.Cm.P2", acr="Cl.Cm"
    )
    response = await submit(http, headers, ex.request())
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"
    assert 'acr_values="Cl.Cm.P2"' in response.headers["www-authenticate"]


async def test_a_back_office_token_cannot_send_a_service_that_demands_a_citizens_level(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    ex, _ = await _website_for(http, runtime, admin_headers, citizen, min_level="Cl")
    response = await submit(http, ex.sender.headers, ex.request())
    assert response.status_code == 403
    assert response.json()["type"] == "urn:govconnect:problem:level-not-met"


async def test_a_citizens_token_whose_sign_in_is_gone_is_not_taken_for_the_websites_own(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    """A person's token (it carries ``auth_time``) whose grant is no longer on record (its
    family expired or was removed) is refused, not treated as the website's client
    credentials token."""
    ex, headers = await _website_for(http, runtime, admin_headers, citizen, min_level=None)
    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    await runtime.redis.delete(family_key(claims["grant_id"]))
    response = await submit(http, headers, ex.request())
    assert response.status_code == 401
    assert "sign in again" in response.json()["detail"]


async def test_a_citizens_token_cannot_read_the_recipients_inbox(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    _, headers = await _website_for(http, runtime, admin_headers, citizen, min_level=None)
    response = await http.get("/api/v1/inbox", headers=headers)
    assert response.status_code == 401


async def test_a_citizen_sees_only_the_submissions_sent_for_them(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], citizen: Account
) -> None:
    """Another citizen signed in to the same council website gets a 404 for the first
    citizen's submission, exactly as for an id that does not exist; the website's own
    client (no citizen) still sees every submission it sent."""
    back_office = await party(http, runtime)
    website_org = await party(http, runtime)
    website = await key_client(runtime, website_org.org_id)
    name = await add_service(http, admin_headers, min_level=None)
    rule = {"sender": website_org.org_id, "service": name, "recipient": back_office.org_id}
    added = await http.post("/admin/v1/routes", json=rule, headers=admin_headers)
    ex = Exchange(website_org, back_office, name, added.json()["id"])
    other = await runtime.accounts.create(
        f"neighbour-{secrets.token_hex(5)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=None,
        actor=TEST_ACTOR,
    )

    async def bearer(account: Account) -> dict[str, str]:
        issued = await issue_code(runtime, website, account, scope=("openid",), acr="Cl.Cm")
        token = await exchange_code(http, runtime, website, issued)
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    mine, theirs = await bearer(citizen), await bearer(other)
    sent = await submit(http, mine, ex.request())
    assert sent.status_code == 202, sent.text
    path = f"/api/v1/submissions/{sent.json()['id']}"
    assert (await http.get(path, headers=mine)).status_code == 200
    refused = await http.get(path, headers=theirs)
    missing = await http.get("/api/v1/submissions/sbm_AAAAAAAAAAAAAAAAAAAAAA", headers=theirs)
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"].replace(sent.json()["id"], "") == missing.json()[
        "detail"
    ].replace("sbm_AAAAAAAAAAAAAAAAAAAAAA", "")
    assert (await http.get(path, headers=ex.sender.headers)).status_code == 200
