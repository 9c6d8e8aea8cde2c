"""The token exchange grant (RFC 8693): an agent user's access token, and the relationship under
which a client gave their organisation authority, exchanged for an access token that acts for
the client (DESIGN.md §2: "a token used by an agent carries the client as ``sub`` and the agent
in ``act``").

The request (RFC 8693 §2.1)::

    grant_type=urn:ietf:params:oauth:grant-type:token-exchange
    subject_token=<relationship id>
    subject_token_type=urn:govconnect:params:oauth:token-type:agent-relationship
    actor_token=<the agent user's access token from this gateway, issued to this client>
    actor_token_type=urn:ietf:params:oauth:token-type:access_token
    scope=<the service>

The subject token type is GovConnect's own URI (RFC 8693 §3 allows any absolute URI): the
subject is named by the relationship the client accepted, which the gateway resolves to the
client, rather than by a token the agent could only have if the client handed it over.

Errors follow RFC 8693 §2.2.2: an invalid or unacceptable subject or actor token is
``invalid_request``; a scope other than the relationship's service, or one the client is not
registered for, ``invalid_scope``; ``audience``/``resource`` other than the gateway,
``invalid_target``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.clients.models import Client
from gateway.core.clock import Clock
from gateway.oidc.errors import (
    InvalidDpopProofError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTokenError,
)
from gateway.tokens.access import AccessTokens
from gateway.tokens.errors import InvalidTargetError
from gateway.tokens.minting import TokenMinter
from gateway.tokens.models import TokenResponse
from trust_levels.agents.errors import AgentError, WrongServiceError
from trust_levels.agents.models import Delegation

ACCESS_TOKEN_TYPE_URI = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - RFC 8693 §3
RELATIONSHIP_TOKEN_TYPE_URI = "urn:govconnect:params:oauth:token-type:agent-relationship"  # noqa: S105


class Delegations(Protocol):
    """Agent relationships (``trust_levels.agents``), as the grant asks about them."""

    async def delegate(
        self, relationship_id: str, agent_account_id: str, service: str, client_id: str
    ) -> Delegation: ...

    async def client_of(self, relationship_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class ExchangeResponse(TokenResponse):
    """RFC 8693 §2.2.1: the token response plus ``issued_token_type``; never a refresh token."""

    issued_token_type: str = ACCESS_TOKEN_TYPE_URI

    def to_json(self) -> dict[str, Any]:
        # TokenResponse.to_json by name: zero-argument super() fails in a slots dataclass.
        return {**TokenResponse.to_json(self), "issued_token_type": self.issued_token_type}


def delegation_depth(act: object) -> int:
    """How many actors an ``act`` claim chains (RFC 8693 §4.1: each nested ``act`` is a prior
    actor); 0 for none."""
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth


def _required(form: Mapping[str, str], name: str, value: str | None = None) -> str:
    given = form.get(name)
    if not given:
        raise InvalidRequestError(f"The {name} parameter is required (RFC 8693 §2.1).")
    if value is not None and given != value:
        raise InvalidRequestError(f"The {name} must be {value} here.")
    return given


class TokenExchange:
    def __init__(
        self,
        minter: TokenMinter,
        access: AccessTokens,
        delegations: Delegations,
        clock: Clock,
        *,
        issuer: str,
        max_depth: int,
    ) -> None:
        self._minter = minter
        self._access = access
        self._delegations = delegations
        self._clock = clock
        self._issuer = issuer
        self._max_depth = max_depth

    async def exchange(
        self, client: Client, form: Mapping[str, str], resources: list[str], jkt: str | None
    ) -> ExchangeResponse:
        """RFC 8693 §2.1-2.2 for an authenticated ``client`` registered for the grant."""
        relationship_id = _required(form, "subject_token")
        _required(form, "subject_token_type", RELATIONSHIP_TOKEN_TYPE_URI)
        actor_token = _required(form, "actor_token")
        _required(form, "actor_token_type", ACCESS_TOKEN_TYPE_URI)
        requested = form.get("requested_token_type")
        if requested is not None and requested != ACCESS_TOKEN_TYPE_URI:
            raise InvalidRequestError(
                f"Only an access token ({ACCESS_TOKEN_TYPE_URI}) can be issued by this exchange."
            )
        targets = [*resources, *([form["audience"]] if "audience" in form else [])]
        if any(target != self._issuer for target in targets):
            raise InvalidTargetError(
                "A token acting for a client is issued for the gateway's own APIs only."
            )
        service = self._service(client, form.get("scope"))
        claims, agent_account_id = await self._actor(client, actor_token, jkt)
        try:
            delegation = await self._delegations.delegate(
                relationship_id, agent_account_id, service, client.client_id
            )
        except WrongServiceError as exc:
            raise InvalidScopeError(exc.detail) from None
        except AgentError as exc:
            raise InvalidRequestError(f"The subject_token cannot be used: {exc.detail}") from None
        act: dict[str, Any] = {
            "sub": self._minter.subject(client, agent_account_id),
            "org": delegation.agent_id,
        }
        if "act" in claims:
            act["act"] = claims["act"]
        lifetime = self._lifetime(delegation)
        access = self._minter.access_token(
            client,
            subject=self._minter.subject(client, delegation.client_account_id),
            scope=(service,),
            audience=self._issuer,
            # The relationship's id as the grant: revoking it revokes the family, which stops
            # every token exchanged under it (AccessTokens.verify).
            grant_id=delegation.relationship_id,
            jkt=jkt,
            person=None,
            act=act,
            lifetime=lifetime,
        )
        return ExchangeResponse(access, "DPoP" if jkt else "Bearer", lifetime, (service,))

    def _service(self, client: Client, scope: str | None) -> str:
        """The one service asked for, registered for this client (RFC 6749 §3.3)."""
        names = (scope or "").split()
        if len(names) != 1:
            raise InvalidScopeError(
                "Ask for exactly one scope: the service the relationship gives authority in."
            )
        if names[0] not in client.scope.split():
            raise InvalidScopeError(
                f"The client {client.client_id} is not registered for the scope {names[0][:64]}."
            )
        return names[0]

    async def _actor(
        self, client: Client, token: str, jkt: str | None
    ) -> tuple[dict[str, Any], str]:
        """The actor token's claims and the account of the person acting: its subject's
        account for a sign-in's token, or the client of the relationship an exchanged token
        acts under (a nested delegation, RFC 8693 §4.1, within ``max_delegation_depth``)."""
        try:
            verified = await self._access.verify(token)
        except InvalidTokenError as exc:
            raise InvalidRequestError(f"The actor_token is not valid: {exc.detail}") from None
        claims = verified.claims
        if claims["client_id"] != client.client_id:
            raise InvalidRequestError("The actor_token was issued to another client.")
        aud = claims.get("aud")
        if self._issuer not in (aud if isinstance(aud, list) else [aud]):
            raise InvalidRequestError("The actor_token is not meant for this gateway.")
        cnf = claims.get("cnf")
        bound = cnf.get("jkt") if isinstance(cnf, dict) else None
        if bound is not None and jkt != bound:
            raise InvalidDpopProofError(
                "The actor_token is DPoP-bound; send a DPoP proof made with its key (RFC 9449 §5)."
            )
        depth = delegation_depth(claims.get("act"))
        if depth == 0:
            if verified.record is None:
                raise InvalidRequestError(
                    "The actor_token must come from a person's sign-in, not client credentials."
                )
            return claims, verified.record.account_id
        if depth + 1 > self._max_depth:
            raise InvalidRequestError(
                "The actor_token already acts for someone; delegation this deep is not allowed "
                f"(at most {self._max_depth} actor(s))."
            )
        try:
            return claims, await self._delegations.client_of(str(claims["grant_id"]))
        except AgentError as exc:
            raise InvalidRequestError(f"The actor_token cannot be used: {exc.detail}") from None

    def _lifetime(self, delegation: Delegation) -> int:
        """The usual access-token lifetime, cut short where the relationship ends sooner, so
        no token outlives the authority it was issued under."""
        lifetime = self._minter.access_lifetime
        if delegation.ends_at is not None:
            left = int((delegation.ends_at - self._clock.now()).total_seconds())
            lifetime = max(1, min(lifetime, left))
        return lifetime
