"""What the token endpoint issues and keeps: endpoint addresses, the family record behind a
grant, the token response and a verified access token."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gateway.oidc.models import AuthorizationGrant

# Paths under the issuer; discovery (OIDC Discovery §3, RFC 8414 §2) publishes them.
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a secret
USERINFO_PATH = "/userinfo"
REVOCATION_PATH = "/revoke"
INTROSPECTION_PATH = "/introspect"

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 §2.1 media type
ACCESS_TOKEN_ALGORITHMS = ("ES256",)  # the gateway signs access tokens with its ES256 key
OPENID = "openid"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The absolute URLs of the back-channel endpoints, built from the issuer (never from a
    request's Host header)."""

    issuer: str

    @property
    def token(self) -> str:
        return self.issuer + TOKEN_PATH

    @property
    def userinfo(self) -> str:
        return self.issuer + USERINFO_PATH

    @property
    def revocation(self) -> str:
        return self.issuer + REVOCATION_PATH

    @property
    def introspection(self) -> str:
        return self.issuer + INTROSPECTION_PATH


@dataclass(frozen=True, slots=True)
class FamilyRecord:
    """What every token of one grant is issued from (RFC 9700 §4.14.2: the refresh-token
    family). ``expires_at`` ends the family: no refresh token of it is valid after."""

    grant_id: str
    client_id: str
    account_id: str
    scope: tuple[str, ...]
    sid: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str | None
    claims: dict[str, Any] | None
    dpop_jkt: str | None
    expires_at: datetime
    vot: str | None = None
    org: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, grant: AuthorizationGrant, dpop_jkt: str | None, expires_at: datetime
    ) -> FamilyRecord:
        return cls(
            grant_id=grant.grant_id,
            client_id=grant.client_id,
            account_id=grant.account_id,
            scope=grant.scope,
            sid=grant.sid,
            auth_time=grant.auth_time,
            amr=grant.amr,
            acr=grant.acr,
            claims=grant.claims,
            dpop_jkt=dpop_jkt,
            expires_at=expires_at,
            vot=grant.vot,
            org=grant.org,
        )

    def dumps(self) -> str:
        data = asdict(self)
        data["auth_time"] = self.auth_time.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str) -> FamilyRecord:
        data = json.loads(raw)
        return cls(
            **{
                **data,
                "scope": tuple(data["scope"]),
                "amr": tuple(data["amr"]),
                "auth_time": datetime.fromisoformat(data["auth_time"]),
                "expires_at": datetime.fromisoformat(data["expires_at"]),
            }
        )


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 9449 §5)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: tuple[str, ...]
    refresh_token: str | None = None
    id_token: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.id_token is not None:
            body["id_token"] = self.id_token
        return body


def scope_of(claims: dict[str, Any]) -> tuple[str, ...]:
    """The scopes an access token was granted (RFC 9068 §2.2.3: one space-separated string)."""
    return tuple(str(claims.get("scope", "")).split())


@dataclass(frozen=True, slots=True)
class VerifiedAccessToken:
    """An access token whose signature, type, issuer, audience, lifetime, revocation state
    and (for a DPoP-bound token) proof of possession were all checked: holding one proves it
    (RFC 9068 §4, RFC 9449 §7)."""

    claims: dict[str, Any]
    record: FamilyRecord | None

    @property
    def scope(self) -> tuple[str, ...]:
        return scope_of(self.claims)

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])
