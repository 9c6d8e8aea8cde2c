"""Opaque identifiers: a readable prefix and 128 random bits (unguessable, RFC 4086 §8)."""

from __future__ import annotations

import re
import secrets

_ID = re.compile(r"^[a-z]{2,8}_[A-Za-z0-9_-]{22}$")


def new_id(prefix: str) -> str:
    """``org_…``, ``cli_…``: the prefix tells a reader what the id names."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def looks_like_id(value: str, prefix: str) -> bool:
    """Cheap shape check before a store lookup, so junk never reaches Redis."""
    return value.startswith(prefix + "_") and _ID.match(value) is not None
