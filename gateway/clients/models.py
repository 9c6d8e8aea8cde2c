"""Registered OAuth 2.0 / OpenID Connect clients (relying parties) and the rules they obey.

Metadata names follow RFC 7591 §2 and OpenID Connect Dynamic Client Registration 1.0 §2
wherever one exists. A :class:`ClientRegistration` validates when it is built, so holding
one proves every rule below passed; :meth:`ClientRegistration.build` turns a refusal into an
:class:`~gateway.clients.errors.InvalidClientRegistrationError` whose message names the field
and says what to do, so the admin API and the CLI say the same thing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from gateway.clients.errors import InvalidClientRegistrationError
from gateway.core.settings import is_loopback_host
from trust_levels.errors import InvalidVectorError
from trust_levels.models import Vector

MAX_URI_LENGTH = 2000
MAX_URIS = 50
MAX_KEYS = 10
MIN_RSA_BITS = 2048
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by single spaces.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 7517 §9.2, RFC 7518 §6.2.2 / §6.3.2 / §6.4.1, RFC 8037 §2: members only a private or
# symmetric key has.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_CURVES = {"EC": ("P-256", "P-384", "P-521"), "OKP": ("Ed25519",)}
_ERROR_TYPE = "client_registration"


class AuthMethod(StrEnum):
    """``token_endpoint_auth_method`` (RFC 7591 §2, OIDC Core §9; ``tls_client_auth``:
    RFC 8705 §2.1, an organisation certificate forwarded by the load balancer)."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name, not a secret
    TLS_CLIENT_AUTH = "tls_client_auth"

    @property
    def uses_secret(self) -> bool:
        return self in (AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST)


class GrantType(StrEnum):
    """``grant_types`` (RFC 7591 §2; RFC 8693 §2.1 for token exchange)."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant name
    CLIENT_CREDENTIALS = "client_credentials"
    TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant name


class IdTokenAlg(StrEnum):
    """``id_token_signed_response_alg`` (OIDC Registration §2); ES256 is the gateway's own."""

    ES256 = "ES256"
    RS256 = "RS256"
    PS256 = "PS256"


def _refuse(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic from prefixing "Value error, " to a message that already
    # names the field; the message is the context-free template, so braces in input are safe.
    return PydanticCustomError(_ERROR_TYPE, "{message}", {"message": message})


def _check_uri(label: str, value: str, *, loopback_http: bool) -> None:
    """The URI rules of RFC 6749 §3.1.2 and RFC 9700 §2.1 (and RFC 8252 §7.3 for loopback).

    The URI is stored exactly as given: the authorization endpoint compares redirect URIs by
    exact string match (RFC 9700 §2.1), so no normalisation happens here. That includes the
    port of a loopback URI: RFC 8252 §7.3 lets native apps vary it, but the clients here are
    web services that register the port they listen on.
    """
    shown = repr(value) if len(value) <= 120 else repr(value[:120] + "…")
    if len(value) > MAX_URI_LENGTH:
        raise _refuse(f"{label} is {len(value)} characters long; the limit is {MAX_URI_LENGTH}")
    if not value.isascii() or any(ch <= " " or ch == "\x7f" for ch in value):
        raise _refuse(
            f"{label} {shown} contains spaces, control or non-ASCII characters; "
            "percent-encode them (RFC 3986 §2.1) and write host names in punycode"
        )
    if "*" in value:
        raise _refuse(
            f"{label} {shown} contains a wildcard '*'; register every URI in full "
            "(RFC 9700 §2.1 requires exact matching)"
        )
    if "#" in value:
        raise _refuse(f"{label} {shown} must not contain a fragment ('#…') (RFC 6749 §3.1.2)")
    parts = urlsplit(value)
    if parts.scheme and parts.scheme not in ("https", "http"):
        raise _refuse(
            f"{label} {shown} must use https; other schemes ({parts.scheme}:) are not accepted"
        )
    if not parts.scheme or not parts.netloc:
        raise _refuse(
            f"{label} {shown} is not an absolute URI; write it in full, for example "
            "https://council.example/callback"
        )
    if "@" in parts.netloc:
        raise _refuse(f"{label} {shown} must not contain a user name or password ('…@')")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise _refuse(f"{label} {shown} has a port that is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise _refuse(f"{label} {shown} has no host name")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and loopback_http:
        # NOTE: plain http on loopback lets a developer run a relying party on their own
        # machine (RFC 8252 §7.3, RFC 9700 §2.1): the traffic never leaves it. "localhost" is
        # accepted too, though RFC 8252 §8.3 prefers the literal address, because developers
        # type it and the gateway itself never resolves the name.
        if is_loopback_host(parts.hostname):
            return
        raise _refuse(
            f"{label} {shown} must use https (http is allowed only on loopback hosts: "
            "127.0.0.1, [::1] or localhost)"
        )
    raise _refuse(f"{label} {shown} must use https")


def _check_uri_list(field: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        _check_uri(f"{field}[{index}]", value, loopback_http=True)
        if value in seen:
            raise _refuse(f"{field}[{index}] {value!r} is listed twice; list each URI once")
        seen.add(value)
    return values


def _rsa_bits(modulus: object) -> int:
    if not isinstance(modulus, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _check_jwk(label: str, key: object) -> str | None:
    """One public signing key of a JWK Set (RFC 7517 §4); returns its ``kid``."""
    if not isinstance(key, dict):
        raise _refuse(f"{label} must be a JSON object (a JWK, RFC 7517 §4)")
    private = [name for name in _PRIVATE_MEMBERS if name in key]
    if private:
        raise _refuse(
            f"{label} contains private or secret key material ({', '.join(private)}); register "
            "only the public key: remove the private members and keep the private key on your "
            "server"
        )
    kty = key.get("kty")
    if kty not in ("EC", "RSA", "OKP"):
        raise _refuse(
            f"{label} has kty {kty!r}; use an EC (P-256, P-384, P-521), RSA (2048 bits or "
            "more) or OKP (Ed25519) public key"
        )
    if kty in _CURVES and key.get("crv") not in _CURVES[kty]:
        raise _refuse(
            f"{label} has crv {key.get('crv')!r}; {kty} keys must use " + " or ".join(_CURVES[kty])
        )
    if kty == "RSA" and (bits := _rsa_bits(key.get("n"))) < MIN_RSA_BITS:
        raise _refuse(
            f"{label} is an RSA key of {bits} bits; use at least {MIN_RSA_BITS} bits "
            "(NIST SP 800-57 Part 1)"
        )
    if "use" in key and key["use"] != "sig":
        raise _refuse(f"{label} has use {key['use']!r}; a client authentication key has use 'sig'")
    kid = key.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise _refuse(f"{label} has a kid that is not a non-empty string")
    try:
        JWKRegistry.import_key(key)
    except binascii.Error:
        raise _refuse(
            f"{label} is not a valid {kty} public key: a member is not base64url (RFC 7518 §6)"
        ) from None
    except (JoseError, ValueError, TypeError) as exc:
        raise _refuse(f"{label} is not a valid {kty} public key: {exc}") from None
    return kid


def _check_jwks(jwks: dict[str, Any]) -> None:
    """A JWK Set (RFC 7517 §5) of public signing keys for ``private_key_jwt``
    (RFC 7523 §2.2, OIDC Core §9)."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise _refuse(
            'jwks must be a JWK Set: an object with a non-empty "keys" list, for example '
            '{"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "kid": "…"}]}'
        )
    if len(keys) > MAX_KEYS:
        raise _refuse(f"jwks holds {len(keys)} keys; the limit is {MAX_KEYS}")
    kids: list[str | None] = [_check_jwk(f"jwks.keys[{i}]", key) for i, key in enumerate(keys)]
    if len(keys) > 1 and None in kids:
        raise _refuse(
            f"jwks.keys[{kids.index(None)}] has no kid; when a set holds several keys each needs "
            "a kid so the gateway can pick the one that signed a client assertion"
        )
    for index, kid in enumerate(kids):
        if kid is not None and kids.index(kid) != index:
            raise _refuse(f"jwks.keys[{index}] repeats kid {kid!r}; give each key its own kid")


def _check_host(value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if "/" in host or (":" in host and not _is_ip(host)):
        raise _refuse(
            f"sector_identifier {value!r} must be a host name such as council.example, not a URL"
        )
    if _is_ip(host):
        return host
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise _refuse(
            f"sector_identifier {value!r} is not a host name; use letters, digits and "
            "hyphens in dot-separated labels, such as council.example"
        )
    return host


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _describe(error: ErrorDetails) -> dict[str, str]:
    location = ""
    for part in error["loc"]:
        if isinstance(part, int):
            location += f"[{part}]"
        else:
            location += f".{part}" if location else part
    if error["type"] == _ERROR_TYPE or not location:
        message = error["msg"]
    elif error["type"] == "extra_forbidden":
        message = f"{location} is not a client registration field; check its spelling"
    else:
        message = f"{location}: {error['msg']}"
    return {"location": location, "message": message}


def _invalid(exc: ValidationError) -> InvalidClientRegistrationError:
    errors = [_describe(error) for error in exc.errors()]
    return InvalidClientRegistrationError("; ".join(e["message"] for e in errors), errors=errors)


class _Metadata(BaseModel):
    """Shared configuration: unknown fields are refused, values are immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> Self:
        """Validate ``data``; every refusal becomes one
        :class:`~gateway.clients.errors.InvalidClientRegistrationError` listing them all."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc) from None


class ClientRegistration(_Metadata):
    """Client metadata as registered (RFC 7591 §2, OIDC Registration §2), checked for
    consistency (RFC 7591 §2.1) when built.

    ``token_endpoint_auth_method`` defaults to ``private_key_jwt`` rather than RFC 7591's
    ``client_secret_basic``: shared secrets are a development convenience here, and a
    production gateway refuses them.
    """

    client_name: str = Field(min_length=1, max_length=200)
    organisation_id: str = Field(min_length=1, max_length=64)
    redirect_uris: list[str] = Field(default_factory=list, max_length=MAX_URIS)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=MAX_URIS)
    backchannel_logout_uri: str | None = None
    grant_types: list[GrantType] = Field(
        default_factory=lambda: [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        min_length=1,
    )
    scope: str = Field(default="openid", max_length=1000)
    token_endpoint_auth_method: AuthMethod = AuthMethod.PRIVATE_KEY_JWT
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    sector_identifier: str | None = None
    min_level: str | None = None
    id_token_signed_response_alg: IdTokenAlg = IdTokenAlg.ES256
    first_party: bool = False
    require_par: bool = False
    require_dpop: bool = False

    @field_validator("client_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or any(not ch.isprintable() for ch in value):
            raise _refuse(
                "client_name must be printable text that people will recognise, such as "
                "'Anytown Council: Apply for a parking permit'"
            )
        return value

    @field_validator("redirect_uris")
    @classmethod
    def _redirect_uris(cls, values: list[str]) -> list[str]:
        return _check_uri_list("redirect_uris", values)

    @field_validator("post_logout_redirect_uris")
    @classmethod
    def _post_logout_uris(cls, values: list[str]) -> list[str]:
        """OIDC RP-Initiated Logout 1.0 §3.1: the same rules as redirect URIs."""
        return _check_uri_list("post_logout_redirect_uris", values)

    @field_validator("backchannel_logout_uri")
    @classmethod
    def _backchannel_uri(cls, value: str | None) -> str | None:
        """OIDC Back-Channel Logout 1.0 §2.2: absolute, no fragment."""
        if value is not None:
            _check_uri("backchannel_logout_uri", value, loopback_http=True)
        return value

    @field_validator("jwks_uri")
    @classmethod
    def _jwks_uri(cls, value: str | None) -> str | None:
        """RFC 7591 §2: fetched by the gateway, so https only, loopback included."""
        if value is not None:
            _check_uri("jwks_uri", value, loopback_http=False)
        return value

    @field_validator("grant_types")
    @classmethod
    def _unique_grants(cls, values: list[GrantType]) -> list[GrantType]:
        for index, grant in enumerate(values):
            if values.index(grant) != index:
                raise _refuse(f"grant_types[{index}] {grant.value!r} is listed twice")
        return values

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        """RFC 6749 §3.3: space-separated scope tokens of %x21 / %x23-5B / %x5D-7E."""
        if not _SCOPE.match(value):
            raise _refuse(
                f"scope {value!r} must be scope names separated by single spaces, such as "
                "'openid email'; a name may not contain spaces, '\"' or '\\' (RFC 6749 §3.3)"
            )
        tokens = value.split(" ")
        for token in tokens:
            if tokens.count(token) > 1:
                raise _refuse(f"scope lists {token!r} twice")
        return value

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_jwks(value)
        return value

    @field_validator("sector_identifier")
    @classmethod
    def _sector(cls, value: str | None) -> str | None:
        return None if value is None else _check_host(value)

    @field_validator("min_level")
    @classmethod
    def _min_level(cls, value: str | None) -> str | None:
        """Stored in canonical form (RFC 8485 §3), so comparisons need no re-parsing rules."""
        if value is None:
            return None
        try:
            return str(Vector.parse(value))
        except InvalidVectorError as exc:
            raise _refuse(f"min_level: {exc.detail}") from None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """RFC 7591 §2.1: grant types, redirect URIs and authentication must agree."""
        grants = set(self.grant_types)
        signs_in = GrantType.AUTHORIZATION_CODE in grants
        if signs_in and not self.redirect_uris:
            raise _refuse(
                "the authorization_code grant needs at least one redirect URI in redirect_uris "
                "(RFC 6749 §3.1.2); a client that only calls APIs uses client_credentials"
            )
        if not signs_in:
            for name in ("redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri"):
                if getattr(self, name):
                    raise _refuse(
                        f"{name} is used only when people sign in; add authorization_code to "
                        f"grant_types or remove {name}"
                    )
        if GrantType.REFRESH_TOKEN in grants and not grants & {
            GrantType.AUTHORIZATION_CODE,
            GrantType.TOKEN_EXCHANGE,
        }:
            raise _refuse(
                "refresh_token is issued only with authorization_code or token exchange; add "
                "one of them to grant_types or remove refresh_token (RFC 6749 §1.5)"
            )
        method = self.token_endpoint_auth_method
        has_jwks, has_uri = self.jwks is not None, self.jwks_uri is not None
        if method is AuthMethod.PRIVATE_KEY_JWT and has_jwks == has_uri:
            raise _refuse(
                "private_key_jwt needs exactly one of jwks (your public keys) or jwks_uri "
                "(an https URL that serves them) (RFC 7591 §2); "
                + ("both were given" if has_jwks else "neither was given")
            )
        if method.uses_secret and (has_jwks or has_uri):
            raise _refuse(
                f"{method.value} authenticates with a shared secret, so it takes no jwks or "
                "jwks_uri; remove them, or use private_key_jwt"
            )
        if method is AuthMethod.TLS_CLIENT_AUTH:
            # RFC 8705 §2.1.2: the binding is "a valid, unrevoked certificate the organisations
            # CA issued to this client's organisation"; the CA writes the subject itself, so
            # no tls_client_auth_subject_dn (or SAN) metadata is needed to pin it.
            if has_jwks or has_uri:
                raise _refuse(
                    "tls_client_auth authenticates with the organisation's certificate, so it "
                    "takes no jwks or jwks_uri; remove them"
                )
            if grants != {GrantType.CLIENT_CREDENTIALS}:
                raise _refuse(
                    "tls_client_auth is for back-office systems: grant_types must be "
                    "['client_credentials'] only; a client that signs people in uses "
                    "private_key_jwt"
                )
        hosts = self.redirect_hosts
        if self.sector_identifier is None and len(hosts) > 1:
            raise _refuse(
                f"redirect_uris span several hosts ({', '.join(hosts)}); set sector_identifier "
                "to the host name of the service they belong to (for example the council's "
                "main domain). People get a pairwise subject identifier per sector (OpenID "
                "Connect Core §8.1), so the gateway must know which hosts share one"
            )
        return self

    @property
    def redirect_hosts(self) -> list[str]:
        """The distinct host names of the redirect URIs, in the order they first appear."""
        hosts: list[str] = []
        for uri in self.redirect_uris:
            host = urlsplit(uri).hostname or ""
            if host not in hosts:
                hosts.append(host)
        return hosts

    @property
    def sector(self) -> str | None:
        """The sector for pairwise subjects (OIDC Core §8.1): the one given, else the single
        redirect host; ``None`` for a client without redirect URIs, whose sector is its id."""
        if self.sector_identifier is not None:
            return self.sector_identifier
        hosts = self.redirect_hosts
        return hosts[0] if hosts else None


class ClientUpdate(_Metadata):
    """A partial change (RFC 7592 §2.2 replaces all metadata; here only the fields given
    change). The merged registration is validated again as a whole."""

    client_name: str | None = None
    organisation_id: str | None = None
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    backchannel_logout_uri: str | None = None
    grant_types: list[GrantType] | None = None
    scope: str | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    sector_identifier: str | None = None
    min_level: str | None = None
    id_token_signed_response_alg: IdTokenAlg | None = None
    first_party: bool | None = None
    require_par: bool | None = None
    require_dpop: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, ``None`` included (that clears an optional field).

        Setting one of ``jwks`` / ``jwks_uri`` drops the other, and switching to a
        ``client_secret_*`` or ``tls_client_auth`` method drops both, unless the same update
        sets them: a key source is replaced, never accumulated.
        """
        changes = self.model_dump(exclude_unset=True)
        if "jwks" in changes and changes["jwks"] is not None:
            changes.setdefault("jwks_uri", None)
        if "jwks_uri" in changes and changes["jwks_uri"] is not None:
            changes.setdefault("jwks", None)
        method = changes.get("token_endpoint_auth_method")
        if method is not None and AuthMethod(method) is not AuthMethod.PRIVATE_KEY_JWT:
            changes.setdefault("jwks", None)
            changes.setdefault("jwks_uri", None)
        return changes


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client. ``secret_hash`` is the SHA-256 of a ``client_secret_*`` client's
    secret and is never shown; :meth:`to_json` leaves it out."""

    client_id: str
    organisation_id: str
    client_name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    grant_types: tuple[GrantType, ...]
    scope: str
    token_endpoint_auth_method: AuthMethod
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    sector_identifier: str
    min_level: str | None
    id_token_signed_response_alg: IdTokenAlg
    first_party: bool
    require_par: bool
    require_dpop: bool
    secret_hash: str | None
    created_at: datetime
    updated_at: datetime
    disabled: bool = False

    @classmethod
    def from_registration(
        cls,
        client_id: str,
        registration: ClientRegistration,
        *,
        secret_hash: str | None,
        created_at: datetime,
        updated_at: datetime,
        disabled: bool = False,
    ) -> Client:
        return cls(
            client_id=client_id,
            organisation_id=registration.organisation_id,
            client_name=registration.client_name,
            redirect_uris=tuple(registration.redirect_uris),
            post_logout_redirect_uris=tuple(registration.post_logout_redirect_uris),
            backchannel_logout_uri=registration.backchannel_logout_uri,
            grant_types=tuple(registration.grant_types),
            scope=registration.scope,
            token_endpoint_auth_method=registration.token_endpoint_auth_method,
            jwks=registration.jwks,
            jwks_uri=registration.jwks_uri,
            sector_identifier=registration.sector or client_id,
            min_level=registration.min_level,
            id_token_signed_response_alg=registration.id_token_signed_response_alg,
            first_party=registration.first_party,
            require_par=registration.require_par,
            require_dpop=registration.require_dpop,
            secret_hash=secret_hash,
            created_at=created_at,
            updated_at=updated_at,
            disabled=disabled,
        )

    def registration_data(self) -> dict[str, Any]:
        """The registered metadata, ready to merge with a :class:`ClientUpdate`.

        The resolved sector is carried explicitly so that changing redirect URIs never moves
        the client to another sector (which would change every person's ``sub``); the
        client-id fallback is left out so a client that gains redirect URIs takes their host.
        """
        data = {name: getattr(self, name) for name in ClientRegistration.model_fields}
        if self.sector_identifier == self.client_id:
            data["sector_identifier"] = None
        return data

    def to_json(self) -> dict[str, Any]:
        """RFC 7591 §3.2.1-style client information, without the secret or its hash."""
        return {
            "client_id": self.client_id,
            "organisation_id": self.organisation_id,
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "grant_types": [g.value for g in self.grant_types],
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method.value,
            "jwks": self.jwks,
            "jwks_uri": self.jwks_uri,
            "sector_identifier": self.sector_identifier,
            "min_level": self.min_level,
            "id_token_signed_response_alg": self.id_token_signed_response_alg.value,
            "first_party": self.first_party,
            "require_par": self.require_par,
            "require_dpop": self.require_dpop,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "disabled": self.disabled,
        }


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A client just created or changed, with its new secret when one was issued: the
    secret is shown this once and only its hash is kept."""

    client: Client
    secret: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The client, plus ``client_secret`` when one was issued (RFC 7591 §3.2.1)."""
        data = self.client.to_json()
        if self.secret is not None:
            data["client_secret"] = self.secret
        return data
