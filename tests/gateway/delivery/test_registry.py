"""The registry of services and routing rules through the admin API (DESIGN.md §3: per-service
access rights, X-Road style), and its refusals."""

from __future__ import annotations

import httpx

from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.support import SCHEMA, add_service


async def test_a_service_is_registered_listed_and_shown_with_its_schema(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    name = await add_service(http, admin_headers, min_level="Cl.Cm.P2", retention_days=30)
    shown = await http.get(f"/admin/v1/services/{name}/1", headers=admin_headers)
    assert shown.status_code == 200
    assert shown.json()["schema"] == SCHEMA
    assert shown.json()["min_level"] == "Cl.Cm.P2" and shown.json()["retention_days"] == 30
    listed = await http.get("/admin/v1/services", headers=admin_headers)
    assert name in {s["name"] for s in listed.json()["services"]}


async def test_a_schema_that_is_not_a_json_schema_is_refused(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"name": "broken-schema", "version": "1", "title": "x", "schema": {"type": 12}}
    response = await http.post("/admin/v1/services", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:govconnect:problem:invalid-service"


async def test_a_schema_with_a_remote_reference_is_refused_not_fetched(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = {"$ref": "http://127.0.0.1:9/never-fetched.json"}
    body = {"name": "remote-ref", "version": "1", "title": "x", "schema": schema}
    response = await http.post("/admin/v1/services", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text


async def test_a_version_is_registered_once(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    name = await add_service(http, admin_headers)
    again = {"name": name, "version": "1", "title": "Again", "schema": SCHEMA}
    response = await http.post("/admin/v1/services", json=again, headers=admin_headers)
    assert response.status_code == 409
    newer = await http.post(
        "/admin/v1/services", json={**again, "version": "2"}, headers=admin_headers
    )
    assert newer.status_code == 201


async def test_routing_rules_are_added_once_listed_and_removed(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    sender, recipient = await new_organisation(runtime), await new_organisation(runtime)
    name = await add_service(http, admin_headers)
    rule = {"sender": sender, "service": name, "recipient": recipient}
    added = await http.post("/admin/v1/routes", json=rule, headers=admin_headers)
    assert added.status_code == 201
    duplicate = await http.post("/admin/v1/routes", json=rule, headers=admin_headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["route_id"] == added.json()["id"]
    listed = await http.get("/admin/v1/routes", headers=admin_headers)
    assert added.json() in listed.json()["routes"]
    removed = await http.delete(f"/admin/v1/routes/{added.json()['id']}", headers=admin_headers)
    assert removed.status_code == 200
    assert not await runtime.delivery.registry.allows(sender, name, recipient)
    gone = await http.delete(f"/admin/v1/routes/{added.json()['id']}", headers=admin_headers)
    assert gone.status_code == 404


async def test_a_rule_for_an_unknown_service_or_organisation_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    org = await new_organisation(runtime)
    name = await add_service(http, admin_headers)
    unknown_service = {"sender": org, "service": "no-such-service", "recipient": org}
    response = await http.post("/admin/v1/routes", json=unknown_service, headers=admin_headers)
    assert response.status_code == 404
    unknown_org = {"sender": org, "service": name, "recipient": "org_" + "x" * 22}
    response = await http.post("/admin/v1/routes", json=unknown_org, headers=admin_headers)
    assert response.status_code == 404


async def test_the_registry_needs_an_admin_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/admin/v1/services")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
