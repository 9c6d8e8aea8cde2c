"""Admin tokens and the principal an authenticated admin request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AdminToken:
    """A stored admin token: only the SHA-256 of the secret is kept."""

    id: str
    name: str
    created_at: str
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an administrative action, as written to the evidence log."""

    kind: str  # "admin-token" | "cli"
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class IssuedAdminToken:
    """A newly created token: the secret is shown once and never stored."""

    token: AdminToken
    secret: str
