"""Who calls the submissions API: the access token of a back-office system or of a council
website acting for a citizen.

A token is presented with ``Bearer`` (RFC 6750 §2.1) or ``DPoP`` (RFC 9449 §7.1) and must be
one the gateway issued for itself (RFC 9068 §4), checked by
:meth:`gateway.tokens.services.TokenService.presented_at_resource`, its revocation read in the
submission's first pipeline for a system's token. A client credentials token
(RFC 6749 §4.4: no person behind it) speaks for the client's organisation; a person's token
speaks for the website's organisation on that person's behalf.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.clients.errors import ClientError
from gateway.clients.models import Client
from gateway.core.deps import RuntimeDep
from gateway.delivery.errors import SenderNotAllowedError
from gateway.delivery.models import Sender
from gateway.oidc.errors import InvalidTokenError
from gateway.runtime import Runtime
from gateway.tokens.resource import SystemTokenRead, presented_unsettled, token_assurance

_SEND_AUTHORIZATION = (
    "Send an access token in the Authorization header (Bearer or DPoP): a client credentials "
    "token for a back-office system, or the citizen's access token."
)
_NO_PERSON_HERE = (
    "The access token's grant is a person's sign-in, which the token does not show; request "
    "a new token."
)
_SIGN_IN_GONE = "The sign-in behind this access token has ended; sign in again."


async def authenticate_sender(request: Request, runtime: RuntimeDep) -> Sender:
    """A back-office client (client credentials) or a website for a signed-in citizen."""
    sender, token = await sender_riding(request, runtime)
    if token is not None:
        token.check(await runtime.tokens.settle(token.presented))
    return sender


async def sender_riding(
    request: Request, runtime: Runtime
) -> tuple[Sender, SystemTokenRead | None]:
    """:func:`authenticate_sender`, but a system's token comes with its revocation reads,
    for the caller to carry in its own first pipeline (:class:`SystemTokenRead`); a
    person's token is read at once, since its family record says who the person is."""
    presented = await presented_unsettled(request, runtime, missing=_SEND_AUTHORIZATION)
    client = await _client(presented.claims, runtime)
    system = Sender(client.client_id, client.organisation_id)
    if not presented.for_person:
        return system, SystemTokenRead.of(presented, _NO_PERSON_HERE)
    verified = await runtime.tokens.settle(presented)
    if verified.record is None:  # a person's grant that is no longer on record
        raise InvalidTokenError(_SIGN_IN_GONE)
    return Sender(
        client.client_id,
        client.organisation_id,
        account_id=verified.record.account_id,
        claims=dict(verified.claims),
        assurance=token_assurance(verified.claims, runtime.levels.freshness, runtime.clock.now()),
    ), None


async def _client(claims: dict[str, Any], runtime: Runtime) -> Client:
    client_id = str(claims.get("client_id", ""))
    try:
        return await runtime.clients.get_enabled(client_id)
    except ClientError:
        raise SenderNotAllowedError(
            f"Client {client_id} is not enabled; it cannot send or receive submissions."
        ) from None


async def authenticate_organisation(request: Request, runtime: RuntimeDep) -> Sender:
    """A back-office client of an organisation (client credentials token) only: recipients
    fetch, acknowledge and answer as their organisation, never as a person."""
    caller = await authenticate_sender(request, runtime)
    if caller.for_citizen:
        raise InvalidTokenError(
            "Receiving submissions is for back-office systems: use a client credentials "
            "token, not a person's access token."
        )
    return caller


SenderDep = Annotated[Sender, Depends(authenticate_sender)]
OrganisationDep = Annotated[Sender, Depends(authenticate_organisation)]
