"""What the authorization endpoint works with: a validated request, where its answer goes,
the person's consents and what the endpoint does next.

Holding an :class:`AuthorizationRequest` proves every check of
:class:`~gateway.authorize.validation.RequestValidator` passed: it is built nowhere else
(except from the store, which only ever holds validated ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

AUTHORIZE_PATH = "/authorize"
PAR_PATH = "/par"
# RFC 9126 §2.2: the request_uri the PAR endpoint hands out.
PAR_URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
# The ``business`` scope asks who the person acts for; this choice means "for myself".
BUSINESS_SCOPE = "business"
PERSONAL = "self"


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where an authorization response goes: a registered redirect URI (compared exactly)
    and the client's ``state``, echoed on success and error alike (RFC 6749 §4.1.2)."""

    redirect_uri: str
    state: str | None

    def url(self, issuer: str, params: dict[str, str]) -> str:
        """The redirect URI with the response in its query (``response_mode=query``), plus
        ``state`` and ``iss`` (RFC 9207 §2) on every response.

        A query the registered URI already has is kept (RFC 6749 §3.1.2); the response's own
        parameters replace any of the same name there.
        """
        response = dict(params)
        if self.state is not None:
            response["state"] = self.state
        response["iss"] = issuer
        parts = urlsplit(self.redirect_uri)
        kept = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in response
        ]
        query = urlencode([*kept, *response.items()])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked OIDC authentication request (OIDC Core §3.1.2.1), from the query, a form
    post, a signed request object (RFC 9101) or a pushed request (RFC 9126).

    ``id_token_hint_sub`` is the ``sub`` of a verified ``id_token_hint``; ``started_at`` is
    when the browser arrived at the endpoint, so ``prompt=login`` and ``max_age`` can demand
    a sign-in later than it.
    """

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    id_token_hint_sub: str | None
    acr_values: tuple[str, ...]
    claims: dict[str, Any] | None
    dpop_jkt: str | None
    started_at: datetime
    pushed: bool = False
    # ``vtr`` (RFC 8485 §5.1): the vectors of trust the client accepts, canonical strings.
    vtr: tuple[str, ...] = ()
    # Whom the person chose to act for (``business`` scope): PERSONAL or a business id; None
    # until they chose.
    acting_for: str | None = None

    @property
    def target(self) -> ResponseTarget:
        return ResponseTarget(self.redirect_uri, self.state)

    @property
    def forces_sign_in(self) -> bool:
        """``prompt=login`` or ``select_account``, or ``max_age=0`` (OIDC Core §3.1.2.1)."""
        return bool(self.prompt & {"login", "select_account"}) or self.max_age == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": list(self.scope),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "prompt": sorted(self.prompt),
            "max_age": self.max_age,
            "login_hint": self.login_hint,
            "id_token_hint_sub": self.id_token_hint_sub,
            "acr_values": list(self.acr_values),
            "claims": self.claims,
            "dpop_jkt": self.dpop_jkt,
            "started_at": self.started_at.isoformat(),
            "pushed": self.pushed,
            "vtr": list(self.vtr),
            "acting_for": self.acting_for,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationRequest:
        return cls(
            **{
                **data,
                "scope": tuple(data["scope"]),
                "prompt": frozenset(data["prompt"]),
                "acr_values": tuple(data["acr_values"]),
                "vtr": tuple(data.get("vtr", ())),
                "started_at": datetime.fromisoformat(data["started_at"]),
            }
        )


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """The PAR endpoint's answer (RFC 9126 §2.2)."""

    request_uri: str
    expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {"request_uri": self.request_uri, "expires_in": self.expires_in}


@dataclass(frozen=True, slots=True)
class Consent:
    """The scopes a person let one client have, kept until they remove it."""

    client_id: str
    scopes: tuple[str, ...]
    granted_at: datetime

    def covers(self, scopes: tuple[str, ...]) -> bool:
        return set(scopes) <= set(self.scopes)

    def to_json(self) -> dict[str, Any]:
        return {"scopes": list(self.scopes), "granted_at": self.granted_at.isoformat()}

    @classmethod
    def from_json(cls, client_id: str, data: dict[str, Any]) -> Consent:
        return cls(client_id, tuple(data["scopes"]), datetime.fromisoformat(data["granted_at"]))


@dataclass(frozen=True, slots=True)
class ConnectedService:
    """A consent as the account page shows it: with the client's name."""

    consent: Consent
    client_name: str


class Interaction(StrEnum):
    """What the person must do before the client gets an answer."""

    SIGN_IN = "sign-in"
    STEP_UP = "step-up"  # a second factor (Cl.Cm)
    PASSKEY = "passkey"  # a phishing-resistant credential (Cl.Cm.Ch)
    PROVE_IDENTITY = "prove-identity"  # identity evidence for a higher P level
    BUSINESS = "business"  # choose whether to act for a business the person belongs to
    CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class Interact:
    """Send the browser to the page for ``kind``; the request waits under ``request_id``."""

    kind: Interaction
    request_id: str


@dataclass(frozen=True, slots=True)
class Respond:
    """Send the browser back to the client with this authorization response."""

    url: str


Outcome = Interact | Respond
