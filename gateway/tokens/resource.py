"""The gateway's own APIs as an OAuth resource server: a person's access token, and the level
it carries checked against a policy.

A token is presented with ``Bearer`` (RFC 6750 §2.1) or ``DPoP`` (RFC 9449 §7.1) and must be
meant for the gateway (its issuer as audience, RFC 9068 §4). The level is the token's own: the
``acr`` asserted at sign-in, reached at ``auth_time``, fresh only within the level's freshness
limit. A token that falls short is answered with RFC 9470 §3's
``insufficient_user_authentication``, naming the ``acr_values`` (and ``max_age``) a new sign-in
must reach, so the client can send the person back to ``/authorize`` with exactly those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from gateway.core.deps import RuntimeDep
from gateway.core.redis import RedisPipeline
from gateway.oidc.errors import InsufficientUserAuthenticationError, InvalidTokenError
from gateway.organisations.client_cert import forwarded
from gateway.runtime import Runtime
from gateway.tokens.access import PresentedToken
from gateway.tokens.dpop import single_proof
from gateway.tokens.models import VerifiedAccessToken
from gateway.tokens.store import RevocationRead
from trust_levels.assurance import (
    NO_CONFIDENCE,
    Assurance,
    Confidence,
    Freshness,
    PrincipalKind,
    Reached,
)
from trust_levels.errors import InvalidVectorError
from trust_levels.models import CredentialStrength, Vector
from trust_levels.policies import Policy

UserTokenCheck = Callable[..., Awaitable[VerifiedAccessToken]]


def token_assurance(claims: dict[str, Any], freshness: Freshness, now: datetime) -> Assurance:
    """What a token shows: its ``acr`` (a vector) reached at its ``auth_time``, and who acts
    (RFC 8693 §4.1 ``act``: an agent; ``org``: a member for a business)."""
    try:
        vector = Vector.parse(str(claims.get("acr", "")))
    except InvalidVectorError:
        vector = None
    auth_time = claims.get("auth_time")
    reached: tuple[Reached, ...] = ()
    confidence = NO_CONFIDENCE
    if vector is not None and isinstance(auth_time, int):
        at = datetime.fromtimestamp(auth_time, UTC)
        reached = tuple(
            Reached(strength, at)
            for strength in reversed(CredentialStrength)
            if strength <= vector.credential
        )
        confidence = Confidence(vector.identity)
    principal = PrincipalKind.CITIZEN
    if "act" in claims:
        principal = PrincipalKind.AGENT
    elif "org" in claims:
        principal = PrincipalKind.BUSINESS
    return Assurance(reached, confidence, now, freshness, principal)


async def presented_token(
    request: Request, runtime: Runtime, *, missing: str
) -> VerifiedAccessToken:
    """The access token in the ``Authorization`` header (``Bearer``, RFC 6750 §2.1, or
    ``DPoP`` with its proof, RFC 9449 §7.1), verified for the gateway's own API at this URL,
    with the forwarded client certificate where the token is bound to one (RFC 8705 §3);
    ``missing`` tells the caller what to send when there is none."""
    return await runtime.tokens.settle(await presented_unsettled(request, runtime, missing=missing))


async def presented_unsettled(
    request: Request, runtime: Runtime, *, missing: str
) -> PresentedToken:
    """:func:`presented_token` but for revocation, which the caller must read, in a pipeline
    of its own store, before it uses or answers anything (:class:`PresentedToken`)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not value.strip():
        raise InvalidTokenError(missing)
    return await runtime.tokens.presented_at_resource(
        value.strip(),
        scheme=scheme.lower(),
        proof=single_proof(request.headers.getlist("dpop")),
        method=request.method,
        url=runtime.settings.issuer + request.url.path,
        certificate=forwarded(request.scope),
    )


@dataclass(frozen=True)
class SystemTokenRead:
    """The revocation reads of a system's token (client credentials, or exchanged for an
    agent: no person signed in behind it), carried in another store's pipeline
    (:class:`~gateway.core.redis.RidingRead`): the token is refused before anything that
    pipeline read is used if it was revoked, or if its grant is a person's sign-in
    (``refusal`` tells the caller which token to send instead)."""

    presented: PresentedToken
    refusal: str

    @classmethod
    def of(cls, presented: PresentedToken, refusal: str) -> SystemTokenRead:
        """The reads for ``presented``; a person's token is refused at once."""
        if presented.for_person:
            raise InvalidTokenError(refusal)
        return cls(presented, refusal)

    @property
    def size(self) -> int:
        return self.presented.revocation.size

    def queue(self, pipe: RedisPipeline) -> None:
        self.presented.revocation.queue(pipe)

    def take(self, answers: Sequence[Any]) -> None:
        self.check(self.presented.settle(RevocationRead.family(answers)))

    def check(self, verified: VerifiedAccessToken) -> None:
        if verified.record is not None:  # a person's grant, whatever the claims say
            raise InvalidTokenError(self.refusal)


def require_user(policy: Policy | None = None) -> UserTokenCheck:
    """A FastAPI dependency: the verified access token of a person (never a client's own
    client-credentials token), at least at ``policy``'s level."""

    async def check(request: Request, runtime: RuntimeDep) -> VerifiedAccessToken:
        verified = await presented_token(
            request,
            runtime,
            missing="Send a person's access token in the Authorization header (Bearer or DPoP).",
        )
        if verified.record is None:
            raise InvalidTokenError(
                "This API acts for a person: use an access token from a sign-in, not one from "
                "client credentials."
            )
        if policy is not None:
            standing = token_assurance(
                verified.claims, runtime.levels.freshness, runtime.clock.now()
            )
            shortfall = policy.unmet(standing)
            if shortfall is not None:
                extensions: dict[str, Any] = {}
                if shortfall.vector is not None:
                    extensions["acr_values"] = str(shortfall.vector)
                if shortfall.max_age is not None:
                    extensions["max_age"] = int(shortfall.max_age.total_seconds())
                elif shortfall.credential is not None:
                    limit = runtime.levels.freshness.limit(shortfall.credential)
                    extensions["max_age"] = int(limit.total_seconds())
                raise InsufficientUserAuthenticationError(
                    f"The access token's sign-in is not enough here: this API {shortfall.reason}. "
                    "Send the person through /authorize again with the acr_values and max_age "
                    "given (RFC 9470 §4).",
                    **extensions,
                )
        return verified

    return check
