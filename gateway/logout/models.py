"""Logout requests, the plan the gateway makes for one, and back-channel logout jobs.

Holding a :class:`VerifiedHint` proves the ``id_token_hint`` passed its checks; holding a
:class:`LogoutPlan` proves its ``redirect_uri`` is registered, exactly, for its client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.logout.errors import InvalidLogoutRequestError

# OIDC Back-Channel Logout 1.0 §2.4: the event a logout token carries; §2.4 (explicit typing,
# RFC 8725 §3.11) the media type in its ``typ`` header.
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a media type, not a password
# §2.4 leaves the lifetime to the OP; two minutes covers clock skew and one slow delivery.
# Each attempt signs a fresh token, so retries over hours never send an expired one.
LOGOUT_TOKEN_LIFETIME_SECONDS = 120

# RP-Initiated Logout 1.0 §2 parameters, and how long each may be. An ID token of this
# gateway is well under 4 KiB; state is the relying party's own opaque value.
_LIMITS = {
    "id_token_hint": 8192,
    "logout_hint": 1024,
    "client_id": 64,
    "post_logout_redirect_uri": 2000,
    "state": 2048,
    "ui_locales": 256,
}


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """The parameters of a logout request (RP-Initiated Logout 1.0 §2), as sent.

    ``ui_locales`` and ``logout_hint`` are accepted; the gateway speaks English only for now
    and knows who is signed in from its own session, so neither changes what happens.
    """

    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None
    ui_locales: str | None = None
    logout_hint: str | None = None

    @classmethod
    def from_parameters(cls, items: Iterable[tuple[str, Any]]) -> LogoutRequest:
        """Build from query or form parameters; a repeated or oversized parameter is refused
        (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than
        once"). Unknown parameters are ignored (RFC 6749 §3.1) and empty ones are absent."""
        found: dict[str, str] = {}
        for name, value in items:
            if name not in _LIMITS:
                continue
            if not isinstance(value, str):
                raise InvalidLogoutRequestError(f"{name} must be text.")
            if name in found:
                raise InvalidLogoutRequestError(f"{name} was sent more than once.")
            if len(value) > _LIMITS[name]:
                raise InvalidLogoutRequestError(
                    f"{name} is {len(value)} characters long; the limit is {_LIMITS[name]}."
                )
            if value:
                found[name] = value
        return cls(**found)

    def parameters(self) -> dict[str, str]:
        """The parameters that were sent, to pass the request on unchanged."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True, slots=True)
class VerifiedHint:
    """What an ``id_token_hint`` says, once its signature, ``typ``, ``alg``, ``iss`` and
    ``aud`` were checked (RP-Initiated Logout 1.0 §2; ``exp`` is deliberately not)."""

    client_id: str
    subject: str
    sid: str | None
    sector: str


@dataclass(frozen=True, slots=True)
class LogoutPlan:
    """What the gateway will do for a logout request: whom it came from, where to send the
    person afterwards (a URI registered for that client, RP-Initiated Logout 1.0 §3) and the
    ``state`` to hand back with them."""

    client_id: str | None
    client_name: str | None
    redirect_uri: str | None
    state: str | None
    hint: VerifiedHint | None

    def return_url(self) -> str | None:
        """The post-logout redirect URI with ``state`` added to its query (§3), or None."""
        if self.redirect_uri is None:
            return None
        if self.state is None:
            return self.redirect_uri
        parts = urlsplit(self.redirect_uri)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("state", self.state)])
        return urlunsplit(parts._replace(query=query))

    def confirmation(self) -> dict[str, str]:
        """What the confirmation page keeps in the session: the request without its hint
        (the person's confirmation stands in for it), to be planned again on confirming."""
        kept = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": self.redirect_uri,
            "state": self.state,
        }
        return {name: value for name, value in kept.items() if value is not None}


JOB_FORMAT = 1


@dataclass(frozen=True, slots=True)
class BackchannelJob:
    """One logout token to deliver: sign-in ``sid`` of ``account_id`` ended, and the relying
    party ``client_id`` had been handed it (Back-Channel Logout 1.0 §2.5).

    The token is signed at each attempt, not here, so that a retry hours later still carries
    a fresh ``iat``/``exp``; the URI is read from the registry at each attempt too, so only
    the currently registered ``backchannel_logout_uri`` is ever called.
    """

    client_id: str
    account_id: str
    sid: str
    queued_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "v": JOB_FORMAT,
            "client_id": self.client_id,
            "account_id": self.account_id,
            "sid": self.sid,
            "queued_at": self.queued_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackchannelJob:
        """Refuses (``KeyError``, ``ValueError``, ``TypeError``) an entry of another format."""
        if data.get("v") != JOB_FORMAT:
            raise ValueError(f"job format {data.get('v')!r} is not {JOB_FORMAT}")
        return cls(
            client_id=str(data["client_id"]),
            account_id=str(data["account_id"]),
            sid=str(data["sid"]),
            queued_at=datetime.fromisoformat(data["queued_at"]),
        )
