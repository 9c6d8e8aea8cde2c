"""The administrators' identity-officer API over real HTTP: designate by email, list, remove,
each in the evidence log; refused without an admin token, for unknown people and
organisations, and for malformed bodies (RFC 9457 problem documents)."""

from __future__ import annotations

import httpx

from gateway.runtime import Runtime
from tests.support.evidence import recorded
from tests.trust_levels.proofing.support import new_person

OFFICERS = "/admin/v1/identity-officers"
PROBLEM = "application/problem+json"


async def test_an_admin_designates_lists_and_removes_an_officer(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], council_id: str
) -> None:
    person = await new_person(runtime)
    added = await http.post(
        OFFICERS,
        json={"account": person.email.upper(), "organisation_id": council_id},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["account_id"] == person.id
    assert added.json()["organisation_id"] == council_id

    listed = (await http.get(OFFICERS, headers=admin_headers)).json()["officers"]
    assert any(o["account_id"] == person.id for o in listed)
    [entry] = await recorded(runtime.evidence, "identity-officer.added", person.id)
    assert entry["actor"] == "admin-token:pytest"
    assert entry["details"] == {"organisation_id": council_id}

    removed = await http.delete(f"{OFFICERS}/{person.email}", headers=admin_headers)
    assert removed.status_code == 200, removed.text
    again = await http.delete(f"{OFFICERS}/{person.id}", headers=admin_headers)
    assert again.status_code == 404
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"] == "urn:govconnect:problem:identity-officer-not-found"


async def test_designating_needs_an_admin_token(
    http: httpx.AsyncClient, runtime: Runtime, council_id: str
) -> None:
    person = await new_person(runtime)
    body = {"account": person.email, "organisation_id": council_id}
    for headers in ({}, {"Authorization": "Bearer gcadm_forged"}):
        response = await http.post(OFFICERS, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
    assert all(o.account_id != person.id for o in await runtime.proofing.officers.list())


async def test_unknown_people_and_organisations_are_not_found(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], council_id: str
) -> None:
    person = await new_person(runtime)
    nobody = await http.post(
        OFFICERS,
        json={"account": "nobody-here@example.org", "organisation_id": council_id},
        headers=admin_headers,
    )
    assert nobody.status_code == 404
    assert nobody.json()["type"] == "urn:govconnect:problem:person-not-found"
    nowhere = await http.post(
        OFFICERS,
        json={"account": person.email, "organisation_id": "org_AAAAAAAAAAAAAAAAAAAAAA"},
        headers=admin_headers,
    )
    assert nowhere.status_code == 404
    assert nowhere.json()["type"] == "urn:govconnect:problem:organisation-not-found"


async def test_malformed_bodies_are_refused_with_problem_details(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str], council_id: str
) -> None:
    person = await new_person(runtime)
    for body in (
        {"account": person.email},
        {"account": person.email, "organisation_id": council_id, "role": "superuser"},
        {"account": "x" * 300, "organisation_id": council_id},
        ["not", "an", "object"],
    ):
        response = await http.post(OFFICERS, json=body, headers=admin_headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
