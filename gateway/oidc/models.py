"""The authorization grant an authorization code stands for, and the claims scopes release."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# OIDC Core §5.4: the claims each scope asks for. ``address`` is listed because it is a
# standard scope; the gateway releases it only for accounts that hold an address.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "profile": ("name", "given_name", "family_name", "updated_at"),
    "address": ("address",),
}


@dataclass(frozen=True, slots=True)
class AuthorizationGrant:
    """What the person agreed to at the authorization endpoint, redeemed once at the token
    endpoint (RFC 6749 §4.1, RFC 7636 §4.4, OIDC Core §3.1.2).

    ``grant_id`` names every token issued from this grant (the refresh-token family), so a
    reused code can revoke them all (RFC 6749 §4.1.2, RFC 9700 §4.14).
    """

    grant_id: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    account_id: str
    sid: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str | None
    nonce: str | None
    code_challenge: str
    claims: dict[str, Any] | None
    dpop_jkt: str | None
    issued_at: datetime
    # The vector of trust reached (``vot``, RFC 8485 §5.2) and the business the person acts
    # for (its id, name, number and their role), when they chose one.
    vot: str | None = None
    org: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["auth_time"] = self.auth_time.isoformat()
        data["issued_at"] = self.issued_at.isoformat()
        data["scope"] = list(self.scope)
        data["amr"] = list(self.amr)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationGrant:
        return cls(
            **{
                **data,
                "auth_time": datetime.fromisoformat(data["auth_time"]),
                "issued_at": datetime.fromisoformat(data["issued_at"]),
                "scope": tuple(data["scope"]),
                "amr": tuple(data["amr"]),
            }
        )


@dataclass(frozen=True, slots=True)
class Redemption:
    """The outcome of presenting a code: the grant the first time; afterwards only the
    grant id, so the caller can revoke everything issued from it."""

    grant: AuthorizationGrant | None
    reused_grant_id: str | None = None
