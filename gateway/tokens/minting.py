"""Making the tokens: JWT access tokens (RFC 9068), ID tokens (OIDC Core §2, §3.1.3.6) and
opaque refresh tokens, all signed by the gateway's key ring (DESIGN.md §1.6)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.authorize.levels import TRUSTMARK_PATH
from gateway.clients.models import Client
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.oidc.subjects import PairwiseSubjects
from gateway.signing.services import KeyRing
from gateway.tokens.models import ACCESS_TOKEN_TYPE, FamilyRecord

_GRANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def epoch(moment: datetime) -> int:
    """NumericDate (RFC 7519 §2)."""
    return int(moment.timestamp())


def left_half_hash(value: str) -> str:
    """``at_hash`` (OIDC Core §3.1.3.6): base64url of the left half of the SHA-256 of the
    access token; SHA-256 because every ID token algorithm here (ES256, RS256, PS256) uses it."""
    raw = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode()


def new_refresh_token(grant_id: str) -> str:
    """``<grant id>.<256 random bits>``: the grant id lets the store find the family in one
    slot; the random part is the secret (RFC 6749 §10.10)."""
    return f"{grant_id}.{secrets.token_urlsafe(32)}"


def refresh_grant_id(token: str) -> str | None:
    """The family a refresh token claims to belong to; None if it is not shaped like one."""
    grant_id, dot, secret = token.rpartition(".")
    if not dot or not _GRANT_ID.match(grant_id) or len(secret) != 43:
        return None
    return grant_id


class TokenMinter:
    def __init__(
        self,
        keys: KeyRing,
        subjects: PairwiseSubjects,
        clock: Clock,
        *,
        issuer: str,
        access_lifetime: int,
        id_lifetime: int,
    ) -> None:
        self._keys = keys
        self._subjects = subjects
        self._clock = clock
        self._issuer = issuer
        self.access_lifetime = access_lifetime
        self._id_lifetime = id_lifetime

    def subject(self, client: Client, account_id: str) -> str:
        """The pairwise ``sub`` for the client's sector (OIDC Core §8.1)."""
        return self._subjects.subject(client.sector_identifier, account_id)

    def access_token(
        self,
        client: Client,
        *,
        subject: str,
        scope: tuple[str, ...],
        audience: str,
        grant_id: str,
        jkt: str | None,
        person: FamilyRecord | None,
        act: Mapping[str, Any] | None = None,
        lifetime: int | None = None,
        x5t: str | None = None,
    ) -> str:
        """An RFC 9068 JWT: ``typ`` at+jwt, the §2.2 claims, ``cnf.jkt`` when DPoP-bound
        (RFC 9449 §6.1), and ``grant_id`` naming the family, so revoking the grant reaches
        the token. ``act`` names who acts for the subject (RFC 8693 §4.1); ``lifetime``
        shortens the usual one (an agent's authority that ends sooner); ``x5t`` binds the
        token to a client certificate (``cnf.x5t#S256``, RFC 8705 §3.1)."""
        now = epoch(self._clock.now())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + (self.access_lifetime if lifetime is None else lifetime),
            "jti": new_id("at"),
            "scope": " ".join(scope),
            "grant_id": grant_id,
        }
        if person is not None:
            claims["auth_time"] = epoch(person.auth_time)
            claims["amr"] = list(person.amr)
            if person.acr is not None:
                claims["acr"] = person.acr
            if person.org is not None:
                claims["org"] = person.org
        if act is not None:
            claims["act"] = dict(act)
        cnf = {"jkt": jkt, "x5t#S256": x5t}
        if jkt is not None or x5t is not None:
            claims["cnf"] = {name: value for name, value in cnf.items() if value is not None}
        return self._keys.sign(claims, typ=ACCESS_TOKEN_TYPE)

    def id_token(
        self,
        client: Client,
        record: FamilyRecord,
        *,
        access_token: str,
        nonce: str | None,
        extra: Mapping[str, Any],
    ) -> str:
        """OIDC Core §2 and §3.1.3.6, signed with the client's registered algorithm."""
        now = epoch(self._clock.now())
        claims: dict[str, Any] = {
            **extra,
            "iss": self._issuer,
            "sub": self.subject(client, record.account_id),
            "aud": client.client_id,
            "iat": now,
            "exp": now + self._id_lifetime,
            "auth_time": epoch(record.auth_time),
            "amr": list(record.amr),
            "sid": record.sid,
            "at_hash": left_half_hash(access_token),
        }
        if record.acr is not None:
            claims["acr"] = record.acr
        if record.vot is not None:
            # RFC 8485 §5.2-5.3: the vector reached and where its trustmark is published.
            claims["vot"] = record.vot
            claims["vtm"] = self._issuer + TRUSTMARK_PATH
        if record.org is not None:
            claims["org"] = record.org
        if nonce is not None:
            claims["nonce"] = nonce
        return self._keys.sign(claims, alg=client.id_token_signed_response_alg.value, typ="JWT")
