"""The officers' API over real HTTP, with gateway access tokens from the real token
endpoint: an officer at Cl.Cm.Ch records and withdraws evidence; a lower token gets RFC 9470
``insufficient_user_authentication``; a non-officer, the officer themselves as subject, and
malformed or out-of-range scores are refused with problem details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.gateway.tokens.support import exchange, issue_code, key_client
from tests.support.evidence import recorded
from tests.trust_levels.proofing.support import new_officer, new_person

EVIDENCE = "/staff/api/identity/evidence"
PROBLEM = "application/problem+json"
PASSPORT_BODY: dict[str, Any] = {
    "kind": "passport",
    "evidence": [{"strength": 3, "validity": 2}],
    "fraud": 1,
    "verification": 2,
}


async def _token(
    http: httpx.AsyncClient, runtime: Runtime, council_id: str, account: Account, acr: str
) -> dict[str, str]:
    """A person's access token, issued by /token from a code at ``acr``."""
    kit = await key_client(runtime, council_id, scope="openid email")
    issued = await issue_code(runtime, kit, account, acr=acr)
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def officer_headers(
    http: httpx.AsyncClient, runtime: Runtime, council_id: str
) -> tuple[str, dict[str, str]]:
    officer = await new_officer(runtime, council_id)
    account = await runtime.accounts.get(officer.account_id)
    return officer.account_id, await _token(http, runtime, council_id, account, "Cl.Cm.Ch")


async def test_an_officer_records_lists_and_withdraws_evidence(
    http: httpx.AsyncClient, runtime: Runtime, officer_headers: tuple[str, dict[str, str]]
) -> None:
    officer_id, headers = officer_headers
    person = await new_person(runtime)
    recorded_now = await http.post(
        EVIDENCE, json={**PASSPORT_BODY, "account": person.email}, headers=headers
    )
    assert recorded_now.status_code == 201, recorded_now.text
    record = recorded_now.json()
    assert record["recorded_by"]["name"] == officer_id

    listed = await http.get(EVIDENCE, params={"account": person.id}, headers=headers)
    assert listed.status_code == 200
    assert listed.json()["confidence"] == {"level": "P1", "profile": "L1A"}

    withdrawn = await http.post(
        f"{EVIDENCE}/{record['id']}/withdraw",
        json={"account": person.id, "reason": "Wrong passport scanned"},
        headers=headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    after = (await http.get(EVIDENCE, params={"account": person.id}, headers=headers)).json()
    assert after["confidence"] == {"level": "P0", "profile": None}
    assert after["evidence"][0]["status"] == "withdrawn"
    [entry] = await recorded(runtime.evidence, "identity-evidence.withdrawn", person.id)
    assert entry["actor"].startswith(f"officer:{officer_id}@")


async def test_a_token_below_the_high_level_is_asked_to_step_up(
    http: httpx.AsyncClient, runtime: Runtime, council_id: str
) -> None:
    """RFC 9470 §3: the officer's medium sign-in is not enough; the answer says what is."""
    officer = await new_officer(runtime, council_id)
    account = await runtime.accounts.get(officer.account_id)
    headers = await _token(http, runtime, council_id, account, "Cl.Cm")
    person = await new_person(runtime)
    response = await http.post(
        EVIDENCE, json={**PASSPORT_BODY, "account": person.id}, headers=headers
    )
    assert response.status_code == 401, response.text
    assert "insufficient_user_authentication" in response.headers["www-authenticate"]
    assert await runtime.proofing.evidence.records(person.id) == []


async def test_a_non_officer_is_refused_even_at_the_high_level(
    http: httpx.AsyncClient, runtime: Runtime, council_id: str
) -> None:
    citizen = await new_person(runtime)
    headers = await _token(http, runtime, council_id, citizen, "Cl.Cm.Ch")
    person = await new_person(runtime)
    response = await http.post(
        EVIDENCE, json={**PASSPORT_BODY, "account": person.id}, headers=headers
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:govconnect:problem:not-an-identity-officer"
    listing = await http.get(EVIDENCE, params={"account": person.id}, headers=headers)
    assert listing.status_code == 403


async def test_requests_without_a_person_token_are_refused(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        response = await http.post(EVIDENCE, json=PASSPORT_BODY, headers=headers)
        assert response.status_code == 401


async def test_an_officer_cannot_record_their_own_evidence(
    http: httpx.AsyncClient, officer_headers: tuple[str, dict[str, str]]
) -> None:
    officer_id, headers = officer_headers
    response = await http.post(
        EVIDENCE, json={**PASSPORT_BODY, "account": officer_id}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:govconnect:problem:own-identity-evidence"


@pytest.mark.parametrize(
    ("change", "status", "problem"),
    [
        ({"evidence": [{"strength": 5, "validity": 2}]}, 400, "invalid-gpg45-score"),
        ({"evidence": [{"strength": 0, "validity": 2}]}, 400, "invalid-gpg45-score"),
        ({"verification": 9}, 400, "invalid-gpg45-score"),
        ({"fraud": -1}, 400, "invalid-gpg45-score"),
        ({"evidence": []}, 422, "invalid-input"),
        ({"evidence": [{"strength": 2, "validity": 2}] * 5}, 422, "invalid-input"),
        ({"evidence": [{"strength": "strong", "validity": 2}]}, 422, "invalid-input"),
        ({"kind": "library_card"}, 422, "invalid-input"),
        ({"kind": "council_record"}, 400, "invalid-identity-evidence"),
        ({"expires_on": "2001-01-01"}, 400, "invalid-identity-evidence"),
        ({"scores_override": True}, 422, "invalid-input"),
    ],
)
async def test_malformed_scores_are_refused_with_problem_details(
    http: httpx.AsyncClient,
    runtime: Runtime,
    officer_headers: tuple[str, dict[str, str]],
    change: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    _, headers = officer_headers
    person = await new_person(runtime)
    body = {**PASSPORT_BODY, "account": person.id, **change}
    response = await http.post(EVIDENCE, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"urn:govconnect:problem:{problem}"
    assert await runtime.proofing.evidence.records(person.id) == []
