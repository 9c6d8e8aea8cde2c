"""Delivering one logout token to a relying party (OpenID Connect Back-Channel Logout 1.0).

The token is signed at each attempt with the gateway's keys, in the algorithm the client gets
its ID tokens in (§2.4: "the same keys are used to sign … Logout Tokens as are used for ID
Tokens"), and posted form-encoded to the client's registered ``backchannel_logout_uri``
(§2.5). Outbound HTTP goes through an injectable ``httpx`` transport, with a timeout, without
following redirects, and without reading more of the answer than its status.
"""

from __future__ import annotations

import secrets

import httpx

from gateway import __version__
from gateway.clients.errors import ClientError
from gateway.clients.models import Client
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.logout.errors import BackchannelDeliveryError
from gateway.logout.models import (
    BACKCHANNEL_EVENT,
    LOGOUT_TOKEN_LIFETIME_SECONDS,
    LOGOUT_TOKEN_TYPE,
    BackchannelJob,
)
from gateway.oidc.subjects import PairwiseSubjects
from gateway.signing.services import KeyRing

DEFAULT_TIMEOUT_SECONDS = 5.0
# §2.8: 400 means the relying party judged the token invalid; sending the same again cannot
# help. Every other failure (a timeout, 5xx, 429, a redirect) may pass, so it is retried.
_REFUSED = 400


class BackchannelSender:
    def __init__(
        self,
        clients: ClientService,
        keys: KeyRing,
        subjects: PairwiseSubjects,
        clock: Clock,
        *,
        issuer: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._clients = clients
        self._keys = keys
        self._subjects = subjects
        self._clock = clock
        self._issuer = issuer
        # NOTE: trust_env is off so that proxy variables in the environment cannot send
        # logout tokens anywhere but the registered URI.
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"GovConnect/{__version__} back-channel logout"},
        )

    async def deliver(self, job: BackchannelJob) -> bool:
        """Post a fresh logout token; False when there is nothing to deliver (the client is
        gone, disabled or registered no ``backchannel_logout_uri``). Raises
        :class:`BackchannelDeliveryError` when the relying party did not answer 2xx."""
        try:
            client = await self._clients.get_enabled(job.client_id)
        except ClientError:
            return False
        uri = client.backchannel_logout_uri
        if uri is None:
            return False
        token = self.logout_token(client, job)
        try:
            async with self._http.stream(
                "POST",
                uri,
                data={"logout_token": token},
                headers={"Cache-Control": "no-store"},
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            raise BackchannelDeliveryError(
                f"{uri} could not be reached: {type(exc).__name__}", retryable=True
            ) from None
        if 200 <= status < 300:
            return True
        raise BackchannelDeliveryError(
            f"{uri} answered {status}", retryable=status != _REFUSED, status_code=status
        )

    def logout_token(self, client: Client, job: BackchannelJob) -> str:
        """A Logout Token (§2.4): iss, aud, iat, exp, jti, sub (the client's pairwise
        subject), sid and the back-channel logout event; never a nonce (§2.4)."""
        issued = int(self._clock.now().timestamp())
        claims = {
            "iss": self._issuer,
            "aud": client.client_id,
            "iat": issued,
            "exp": issued + LOGOUT_TOKEN_LIFETIME_SECONDS,
            "jti": secrets.token_urlsafe(16),
            "sub": self._subjects.subject(client.sector_identifier, job.account_id),
            "sid": job.sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        alg = client.id_token_signed_response_alg.value
        return self._keys.sign(claims, alg=alg, typ=LOGOUT_TOKEN_TYPE)

    async def aclose(self) -> None:
        await self._http.aclose()
