"""The app's routers never claim one another's paths, so the order ``create_app`` includes
them in (hottest API first, for speed) cannot change which route answers a request."""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.routing import BaseRoute, Route

from gateway.app import create_app
from gateway.core.settings import Settings

# A path parameter of any convertor (str, int, path) matches "1".
_PARAMETER = re.compile(r"\{[^}]+\}")


def _routes(routes: list[BaseRoute], router: int) -> Iterator[tuple[int, Route]]:
    """Every endpoint route with the index of the top-level router it belongs to."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes, router)
        elif isinstance(route, Route):
            yield router, route


def test_no_route_answers_a_path_of_another_routers_route(settings: Settings) -> None:
    app = create_app(settings)
    routes = [
        found for index, top in enumerate(app.router.routes) for found in _routes([top], index)
    ]
    clashes = []
    for router, route in routes:
        sample = _PARAMETER.sub("1", route.path_format)
        for other_router, other in routes:
            shared = (route.methods or set()) & (other.methods or set())
            if other_router != router and shared and other.path_regex.match(sample):
                clashes.append(f"{sorted(shared)} {sample}: {route.path} and {other.path}")
    assert len(routes) > 200
    assert clashes == []
