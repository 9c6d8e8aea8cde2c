"""Validating submission bodies against a service's JSON Schema with jsonschema-rs.

The draft is the schema's own ``$schema`` (JSON Schema 2020-12 §8.1.1), 2020-12 when it names
none. A schema is checked against its meta-schema when the service is registered, so a
registered service always compiles. Compiled validators are cached per service key and schema
digest: compiling is far slower than validating.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

import jsonschema_rs

from gateway.delivery.errors import InvalidServiceError, SchemaValidationError

MAX_ERRORS = 20


def check_schema(schema: dict[str, Any]) -> None:
    """Raise :class:`InvalidServiceError` unless ``schema`` is a valid JSON Schema that
    jsonschema-rs can compile (no remote ``$ref``: the gateway fetches nothing)."""
    try:
        jsonschema_rs.meta.validate(schema)
        _compile(json.dumps(schema, sort_keys=True))
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidServiceError(
            f"The schema is not a JSON Schema the gateway can use: {first_line}"
        ) from None


def validate(schema: dict[str, Any], body: Any) -> None:
    """Raise :class:`SchemaValidationError` listing each place ``body`` breaks ``schema``
    (JSON Pointer to the value, the rule, a message), at most :data:`MAX_ERRORS`."""
    validator = _compile(json.dumps(schema, sort_keys=True))
    errors = []
    for error in validator.iter_errors(body):
        errors.append(
            {
                "pointer": _pointer(error.instance_path),
                "keyword": str(error.schema_path[-1]) if error.schema_path else "",
                "message": error.message,
            }
        )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise SchemaValidationError(
            f"The body does not match the service's schema ({len(errors)} "
            f"{'problem' if len(errors) == 1 else 'problems'}; see errors).",
            errors,
        )


def schema_digest(schema: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=256)
def _compile(text: str) -> Any:
    # NOTE: validate_formats stays off (the JSON Schema default: "format" annotates), so a
    # schema author who needs a checked format writes a pattern; this keeps two validators
    # of one schema from disagreeing on what, say, "email" accepts. offline: a remote $ref
    # is refused, never fetched, so a schema cannot make the gateway send requests.
    return jsonschema_rs.validator_for(json.loads(text), offline=True)


def _pointer(path: Any) -> str:
    """RFC 6901 JSON Pointer of a location in the body."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
