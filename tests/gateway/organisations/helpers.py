"""Unique, valid organisation details, so tests sharing one store never collide on a code."""

from __future__ import annotations

import secrets
from typing import Any


def council_code() -> str:
    return "E" + "".join(secrets.choice("0123456789") for _ in range(8))


def department_code() -> str:
    return "T-" + secrets.token_hex(6).upper()


def council(**overrides: Any) -> dict[str, Any]:
    """A JSON body for POST /admin/v1/organisations."""
    body: dict[str, Any] = {
        "name": "Test Borough Council",
        "kind": "council",
        "code": council_code(),
        "contact_email": "digital@test-borough.example",
        "endpoints": {"submissions": "https://test-borough.example/govconnect"},
    }
    body.update(overrides)
    return body
