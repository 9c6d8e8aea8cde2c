"""Checking an authorization request, in the order that keeps errors safe to deliver.

OIDC Core §3.1.2.2 and RFC 6749 §4.1.2.1: first the client and its redirect URI. Until both
are proven, nothing is sent to any redirect URI; the person sees a page instead (an open
redirector is how phishing starts, RFC 9700 §4.11). After that, every error goes back to the
client's redirect URI with ``state`` and ``iss``.

Parameters arrive four ways: a query (GET), a form (POST, OIDC Core §3.1.2.1), a signed
request object (RFC 9101), or a pushed request (RFC 9126) named by its ``request_uri``. For
the last two, the parameters outside the signed or pushed request are ignored (RFC 9101 §6.3,
RFC 9126 §4), except ``client_id`` and ``request_uri``, which must agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gateway.authorize.errors import (
    RegistrationNotSupportedError,
    RequestRefused,
    RequestUriNotSupportedError,
)
from gateway.authorize.levels import MAX_ACR_VALUES, parse_vtr
from gateway.authorize.models import PAR_URN_PREFIX, AuthorizationRequest, ResponseTarget
from gateway.authorize.parameters import (
    MAX_LOGIN_HINT,
    MAX_NONCE,
    MAX_STATE,
    bounded,
    parse_claims,
    parse_dpop_jkt,
    parse_max_age,
    parse_pkce,
    parse_prompt,
    parse_scope,
    text,
)
from gateway.authorize.request_objects import RequestObjects
from gateway.authorize.store import RequestStore
from gateway.clients.errors import ClientError
from gateway.clients.models import Client, GrantType
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.oidc.errors import (
    InvalidRequestError,
    InvalidRequestObjectError,
    InvalidRequestUriError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from gateway.signing.errors import TokenVerificationError
from gateway.signing.services import KeyRing

Params = Mapping[str, Sequence[str]]
ID_TOKEN_ALGORITHMS = ("ES256", "RS256", "PS256")


def single_values(params: Params) -> tuple[dict[str, str], set[str]]:
    """The first value of each parameter, and the names sent more than once (RFC 6749 §3.1:
    "MUST NOT be included more than once")."""
    values = {name: found[0] for name, found in params.items() if found}
    repeated = {name for name, found in params.items() if len(found) > 1}
    return values, repeated


class RequestValidator:
    def __init__(
        self,
        clients: ClientService,
        objects: RequestObjects,
        store: RequestStore,
        keys: KeyRing,
        clock: Clock,
        *,
        issuer: str,
    ) -> None:
        self._clients = clients
        self._objects = objects
        self._store = store
        self._keys = keys
        self._clock = clock
        self._issuer = issuer

    async def front_channel(self, params: Params) -> AuthorizationRequest:
        """A request arriving at ``/authorize`` (OIDC Core §3.1.2.1)."""
        values, repeated = single_values(params)
        client = await self._client(values.get("client_id"), "client_id" in repeated)
        if "request_uri" in values:
            return await self._pushed(client, values)
        if client.require_par:
            raise RequestRefused(
                InvalidRequestError(
                    f"The client {client.client_id} must push its authorization requests to "
                    "the PAR endpoint and send only client_id and request_uri here (RFC 9126 §5)."
                ),
                self._query_target(client, values, repeated),
                page="par_required",
            )
        if "request" in values:
            fields = await self._opened(
                client, values, self._query_target(client, values, repeated)
            )
            return self._build(client, fields, set(), pushed=False)
        return self._build(client, values, repeated, pushed=False)

    async def back_channel(self, client: Client, params: Params) -> AuthorizationRequest:
        """A request pushed by an authenticated client to ``/par`` (RFC 9126 §2.1)."""
        values, repeated = single_values(params)
        if "request_uri" in values:
            raise RequestRefused(
                InvalidRequestError(
                    "request_uri must not be sent to the PAR endpoint (RFC 9126 §2.1)."
                )
            )
        if values.get("client_id", client.client_id) != client.client_id:
            raise RequestRefused(
                InvalidRequestError("The client_id differs from the authenticated client.")
            )
        if "request" in values:
            fields = await self._opened(client, values, None)
            return self._build(client, fields, set(), pushed=True)
        return self._build(client, values, repeated, pushed=True)

    async def _client(self, client_id: str | None, repeated: bool) -> Client:
        if not client_id or repeated:
            raise RequestRefused(
                InvalidRequestError("The request has no single client_id."), page="no_client"
            )
        try:
            return await self._clients.get_enabled(client_id)
        except ClientError:
            raise RequestRefused(
                InvalidRequestError(f"No enabled client has the client_id {client_id!r}."),
                page="unknown_client",
            ) from None

    @staticmethod
    def _query_target(
        client: Client, values: Mapping[str, str], repeated: set[str]
    ) -> ResponseTarget | None:
        """Where an error may go before the full request is read: only a registered redirect
        URI named once in the query."""
        uri = values.get("redirect_uri")
        if uri is None or "redirect_uri" in repeated or uri not in client.redirect_uris:
            return None
        state = values.get("state")
        return ResponseTarget(uri, state if state is None or len(state) <= MAX_STATE else None)

    async def _pushed(self, client: Client, values: Mapping[str, str]) -> AuthorizationRequest:
        """RFC 9126 §4: the pushed request replaces everything but client_id and request_uri."""
        uri = values["request_uri"]
        if not uri.startswith(PAR_URN_PREFIX):
            raise RequestRefused(
                RequestUriNotSupportedError(
                    "Only request_uri values from this gateway's PAR endpoint are accepted; "
                    "send the request in the query, as a signed request parameter, or push it "
                    "to the PAR endpoint."
                ),
                self._query_target(client, values, set()),
                page="request_uri",
            )
        pushed = await self._store.take_pushed(uri)
        if pushed is None or pushed.client_id != client.client_id:
            raise RequestRefused(
                InvalidRequestUriError(
                    "The request_uri is unknown, was used already or has expired; push the "
                    "request again and use the new request_uri once, within its lifetime."
                ),
                page="request_uri",
            )
        if pushed.redirect_uri not in client.redirect_uris:  # the registration changed since
            raise RequestRefused(
                InvalidRequestError("The redirect_uri is no longer registered."),
                page="redirect_uri",
            )
        return replace(pushed, started_at=self._clock.now())

    async def _opened(
        self, client: Client, values: Mapping[str, str], target: ResponseTarget | None
    ) -> dict[str, Any]:
        """The parameters of a signed request object (RFC 9101 §6.3: only these count)."""
        try:
            claims = await self._objects.open(values["request"], client)
        except InvalidRequestObjectError as exc:
            raise RequestRefused(exc, target, page="request_object") from None
        query_type = values.get("response_type")
        if query_type is not None and query_type != claims.get("response_type"):
            raise RequestRefused(
                InvalidRequestError(
                    "The response_type in the query differs from the request object's "
                    "(OIDC Core §6.1)."
                ),
                target,
            )
        return claims

    def _build(
        self, client: Client, fields: Mapping[str, Any], repeated: set[str], *, pushed: bool
    ) -> AuthorizationRequest:
        redirect_uri = fields.get("redirect_uri")
        if not isinstance(redirect_uri, str) or "redirect_uri" in repeated:
            raise RequestRefused(
                InvalidRequestError(
                    "The request needs exactly one redirect_uri (OIDC Core §3.1.2.1)."
                ),
                page="redirect_uri",
            )
        if redirect_uri not in client.redirect_uris:
            raise RequestRefused(
                InvalidRequestError(
                    "The redirect_uri is not registered for this client; it must equal one of "
                    "the registered redirect URIs exactly (RFC 9700 §2.1)."
                ),
                page="redirect_uri",
            )
        state = fields.get("state")
        state_ok = state is None or (isinstance(state, str) and len(state) <= MAX_STATE)
        target = ResponseTarget(redirect_uri, state if state_ok else None)
        try:
            if not state_ok:
                raise InvalidRequestError(f"state must be text of at most {MAX_STATE} characters.")
            return self._checked(client, fields, repeated, target, pushed=pushed)
        except OAuthError as exc:
            raise RequestRefused(exc, target) from None

    def _checked(
        self,
        client: Client,
        fields: Mapping[str, Any],
        repeated: set[str],
        target: ResponseTarget,
        *,
        pushed: bool,
    ) -> AuthorizationRequest:
        """Everything after the redirect URI, in OIDC Core §3.1.2.2 order; errors redirect."""
        if repeated:
            raise InvalidRequestError(
                f"{', '.join(sorted(repeated))} sent more than once (RFC 6749 §3.1)."
            )
        if "registration" in fields:
            raise RegistrationNotSupportedError("The registration parameter is not supported.")
        response_type = text(fields, "response_type")
        if response_type is None:
            raise InvalidRequestError("response_type is missing; use response_type=code.")
        if response_type != "code":
            raise UnsupportedResponseTypeError(
                f"response_type {response_type!r} is not supported; use response_type=code "
                "(the authorization code flow with PKCE)."
            )
        if GrantType.AUTHORIZATION_CODE not in client.grant_types:
            raise UnauthorizedClientError("This client is not registered for authorization_code.")
        if text(fields, "response_mode") not in (None, "query"):
            raise InvalidRequestError("response_mode must be query (or left out).")
        scope = parse_scope(client, text(fields, "scope"))
        code_challenge = parse_pkce(
            text(fields, "code_challenge"), text(fields, "code_challenge_method")
        )
        prompt = parse_prompt(text(fields, "prompt"))
        claims = parse_claims(fields.get("claims"))
        acr_values = tuple((text(fields, "acr_values") or "").split())
        if len(acr_values) > MAX_ACR_VALUES:
            raise InvalidRequestError(f"acr_values lists more than {MAX_ACR_VALUES} values.")
        vtr = parse_vtr(fields.get("vtr"))
        if vtr and acr_values:
            raise InvalidRequestError(
                "Send the level asked for as vtr or as acr_values, not both (RFC 8485 §5.1)."
            )
        login_hint = text(fields, "login_hint")
        return AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=target.redirect_uri,
            scope=scope,
            state=target.state,
            nonce=bounded(fields, "nonce", MAX_NONCE),
            code_challenge=code_challenge,
            prompt=prompt,
            max_age=parse_max_age(fields.get("max_age")),
            login_hint=login_hint if login_hint and len(login_hint) <= MAX_LOGIN_HINT else None,
            id_token_hint_sub=self._hint_subject(client, text(fields, "id_token_hint")),
            acr_values=acr_values,
            claims=claims,
            dpop_jkt=parse_dpop_jkt(text(fields, "dpop_jkt")),
            started_at=self._clock.now(),
            pushed=pushed,
            vtr=vtr,
        )

    def _hint_subject(self, client: Client, hint: str | None) -> str | None:
        """The ``sub`` of an ID token this gateway issued to this client (OIDC Core
        §3.1.2.1): the signature must hold, an expired token is still a good hint."""
        if hint is None:
            return None
        try:
            claims = self._keys.verify(hint, algorithms=ID_TOKEN_ALGORITHMS)["claims"]
        except TokenVerificationError:
            raise InvalidRequestError(
                "id_token_hint is not an ID token signed by this gateway."
            ) from None
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        sub = claims.get("sub")
        if claims.get("iss") != self._issuer or client.client_id not in audiences:
            raise InvalidRequestError(
                "id_token_hint was not issued by this gateway to this client."
            )
        if not isinstance(sub, str) or not sub:
            raise InvalidRequestError("id_token_hint has no sub.")
        return sub
