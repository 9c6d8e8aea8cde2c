"""Property-based fuzzing of the authorization request's parameter parsers
(:mod:`gateway.authorize.parameters`, :mod:`gateway.authorize.levels`): ``vtr`` (RFC 8485
§5.1), ``claims`` (OIDC Core §5.5), ``acr_values``, ``max_age``, ``prompt``, ``dpop_jkt``
(RFC 9449 §10) and PKCE (RFC 7636 §4.3). Any value, including JSON nested deeper than
Python's stack, gives a result or ``invalid_request``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.authorize import levels, parameters
from tests.fuzz import strategies as hostile
from tests.fuzz.support import refused_or_accepted

values = st.one_of(hostile.hostile_json_text, hostile.json_values)

PARSERS: dict[str, Callable[[Any], Any]] = {
    "vtr": levels.parse_vtr,
    "claims": parameters.parse_claims,
    "max_age": parameters.parse_max_age,
    "prompt": lambda value: parameters.parse_prompt(value if isinstance(value, str) else None),
    "dpop_jkt": lambda value: parameters.parse_dpop_jkt(value if isinstance(value, str) else None),
    "pkce": lambda value: parameters.parse_pkce(str(value), "S256"),
    "acr": lambda value: levels.LevelRequest.of(
        tuple(str(value).split()[:20]), value if isinstance(value, dict) else None
    ),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(value=values)
async def test_parameter_parser_answers_or_refuses(name: str, value: Any) -> None:
    async def call() -> None:
        PARSERS[name](value)

    await refused_or_accepted(call)
