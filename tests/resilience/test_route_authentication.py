"""Every route of the app says who may call it (DESIGN.md §6: "every route declares its
authentication"), and what it says agrees with the dependency that enforces it.

A route declares its authentication in its docstring or its OpenAPI summary with one of the
project's phrases (:data:`DECLARATIONS`), or it is on :data:`FRAMEWORK_PUBLIC` with the reason
it needs none. A new route without either fails here, so nobody adds an endpoint without
deciding who may call it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from gateway.admin.routes import require_admin
from gateway.app import create_app
from gateway.core.settings import Settings
from gateway.web.pages import signed_in_session

# The project's ways of saying who may call a route (case-insensitive, on text whose
# whitespace is collapsed, so a phrase may wrap in a docstring).
ADMIN = re.compile(r"\badmin token\b", re.IGNORECASE)
SIGNED_IN = re.compile(r"\bsigned[- ]in (session|person|at\b)", re.IGNORECASE)
DECLARATIONS = re.compile(
    rf"\bpublic\b|no authentication|{ADMIN.pattern}|{SIGNED_IN.pattern}|"
    r"client-authenticated|client authentication|access token|client token|officer token|"
    r"citizen's token|bearer api key",
    re.IGNORECASE,
)

# Paths served by the framework or as static files, with why no authentication is right.
FRAMEWORK_PUBLIC = {
    "/openapi.json": "FastAPI's OpenAPI document: the shape of the public API, no data",
    "/docs": "Swagger UI for the OpenAPI document; not mounted in production",
    "/docs/oauth2-redirect": "Swagger UI's OAuth redirect helper; not mounted in production",
    "/govuk": "GOV.UK Frontend's static styles, fonts and scripts",
}


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: str
    declaration: str
    calls: frozenset[Callable[..., Any]]


def _calls(dependant: Dependant | None) -> Iterator[Callable[..., Any]]:
    """Every dependency function the route runs, however deeply nested."""
    if dependant is None:
        return
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _endpoints(tmp_path: Path) -> list[Endpoint]:
    # Development mode, so the development-only routers (the outbox, the stand-in identity
    # provider) are walked too.
    app = create_app(Settings(data_dir=tmp_path / "var", pki_dir=tmp_path / "pki"))
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.append(Endpoint(route.path or "", "*", "", frozenset()))
            continue
        endpoint = route.endpoint
        summary = getattr(route, "summary", None) or ""
        doc = inspect.getdoc(endpoint) or "" if endpoint is not None else ""
        dependant = getattr(route, "dependant", None)
        found.append(
            Endpoint(
                route.path or "",
                ",".join(sorted(route.methods or ())),
                " ".join(f"{summary} {doc}".split()),
                frozenset(_calls(dependant)),
            )
        )
    return found


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> list[Endpoint]:
    return _endpoints(tmp_path_factory.mktemp("routes"))


def test_the_walk_reaches_every_router(endpoints: list[Endpoint]) -> None:
    """The walk sees routes from each kind of router (a broken walk would pass vacuously)."""
    paths = {endpoint.path for endpoint in endpoints}
    assert {"/token", "/authorize", "/admin/v1/clients", "/v1/payments", "/sign-in"} <= paths
    assert len(endpoints) > 150


def test_every_route_declares_its_authentication(endpoints: list[Endpoint]) -> None:
    undeclared = [
        f"{endpoint.methods} {endpoint.path}"
        for endpoint in endpoints
        if endpoint.path not in FRAMEWORK_PUBLIC and not DECLARATIONS.search(endpoint.declaration)
    ]
    assert undeclared == [], "routes that do not say who may call them"


def test_framework_public_list_names_only_routes_that_exist(endpoints: list[Endpoint]) -> None:
    """A stale entry would quietly excuse a future route of the same path."""
    assert set(FRAMEWORK_PUBLIC) <= {endpoint.path for endpoint in endpoints}


def test_admin_routes_say_admin_token_and_only_they_do(endpoints: list[Endpoint]) -> None:
    """The declaration agrees with the enforcement: a route that runs ``require_admin`` says
    "admin token", and none that says so skips it."""
    mismatched = [
        f"{endpoint.methods} {endpoint.path}"
        for endpoint in endpoints
        if (require_admin in endpoint.calls)
        != bool(re.search("admin token", endpoint.declaration, re.IGNORECASE))
    ]
    assert mismatched == []


def test_routes_needing_a_signed_in_session_say_so(endpoints: list[Endpoint]) -> None:
    """A route behind ``SignedInSession`` names the signed-in session or person, never
    "public" alone."""
    mismatched = [
        f"{endpoint.methods} {endpoint.path}"
        for endpoint in endpoints
        if signed_in_session in endpoint.calls and not SIGNED_IN.search(endpoint.declaration)
    ]
    assert mismatched == []


def test_every_admin_api_path_requires_the_admin_token(endpoints: list[Endpoint]) -> None:
    """Nothing under ``/admin/`` is reachable without ``require_admin``."""
    unguarded = [
        f"{endpoint.methods} {endpoint.path}"
        for endpoint in endpoints
        if endpoint.path.startswith("/admin/") and require_admin not in endpoint.calls
    ]
    assert unguarded == []
