"""RP-initiated logout decisions and the queueing of back-channel logout.

:class:`LogoutService` checks a relying party's logout request (OpenID Connect RP-Initiated
Logout 1.0 §2, §3) and says whether it proves itself; :class:`BackchannelNotifier` is the
:class:`~gateway.sessions.services.LogoutNotifier` the session service calls whenever a
sign-in ends, and queues one logout token per relying party for the worker
(OpenID Connect Back-Channel Logout 1.0 §2.5).
"""

from __future__ import annotations

import hmac
import logging

from gateway.clients.errors import ClientError
from gateway.clients.models import Client, IdTokenAlg
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.logout.errors import (
    InvalidIdTokenHintError,
    UnknownLogoutClientError,
    UnregisteredLogoutUriError,
)
from gateway.logout.models import BackchannelJob, LogoutPlan, LogoutRequest, VerifiedHint
from gateway.logout.store import LogoutQueueStore
from gateway.oidc.subjects import PairwiseSubjects
from gateway.sessions.models import Session
from gateway.signing.errors import SigningError
from gateway.signing.services import KeyRing

log = logging.getLogger(__name__)

ID_TOKEN_ALGORITHMS = tuple(alg.value for alg in IdTokenAlg)


class LogoutService:
    def __init__(
        self, clients: ClientService, keys: KeyRing, subjects: PairwiseSubjects, *, issuer: str
    ) -> None:
        self._clients = clients
        self._keys = keys
        self._subjects = subjects
        self._issuer = issuer

    async def plan(self, request: LogoutRequest) -> LogoutPlan:
        """Check the request and say what to do; refuses (an error page, never a redirect)
        a bad hint, an unknown client or a ``post_logout_redirect_uri`` that is not
        registered, exactly, for the client the request names (§2, §3)."""
        hint: VerifiedHint | None = None
        client: Client | None = None
        if request.id_token_hint is not None:
            hint, client = await self._verify_hint(request.id_token_hint, request.client_id)
        elif request.client_id is not None:
            client = await self._client(request.client_id)
        redirect_uri = request.post_logout_redirect_uri
        if redirect_uri is not None:
            if client is None:
                raise UnregisteredLogoutUriError(
                    "post_logout_redirect_uri was sent without id_token_hint or client_id, so "
                    "the gateway cannot tell which client registered it (RP-Initiated Logout "
                    "1.0 §2). Send the ID token as id_token_hint."
                )
            if redirect_uri not in client.post_logout_redirect_uris:
                raise UnregisteredLogoutUriError(
                    f"post_logout_redirect_uri {redirect_uri[:200]!r} is not registered for "
                    f"client {client.client_id}; it must equal one of its "
                    "post_logout_redirect_uris exactly (RP-Initiated Logout 1.0 §3)."
                )
        return LogoutPlan(
            client_id=client.client_id if client else None,
            client_name=client.client_name if client else None,
            redirect_uri=redirect_uri,
            state=request.state if redirect_uri is not None else None,
            hint=hint,
        )

    def proves(self, plan: LogoutPlan, session: Session) -> bool:
        """Whether the request is shown to come from a relying party this very sign-in was
        handed to: a valid hint naming the session's ``sid`` (or, for a hint without one,
        the person's pairwise ``sub``). Anything less asks the person first (§6)."""
        hint = plan.hint
        if hint is None or session.account_id is None:
            return False
        if hint.sid is not None:
            return bool(session.sid) and hmac.compare_digest(hint.sid, session.sid)
        expected = self._subjects.subject(hint.sector, session.account_id)
        return hmac.compare_digest(hint.subject, expected)

    async def _verify_hint(self, token: str, client_id: str | None) -> tuple[VerifiedHint, Client]:
        """RP-Initiated Logout 1.0 §2: the hint must be an ID token this gateway issued;
        "the OP need not be listed as an audience", it is the client that must be."""
        try:
            verified = self._keys.verify(token, algorithms=ID_TOKEN_ALGORITHMS)
        except SigningError as exc:
            raise InvalidIdTokenHintError(
                f"The id_token_hint is not an ID token signed by this gateway: {exc.detail}"
            ) from None
        header, claims = verified["header"], verified["claims"]
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            # RFC 8725 §3.11: an access token (at+jwt) or a logout token (logout+jwt) signed by
            # the same keys is not an ID token.
            raise InvalidIdTokenHintError(
                f"The id_token_hint has typ {typ!r}; it is not an ID token."
            )
        if claims.get("iss") != self._issuer:
            raise InvalidIdTokenHintError("The id_token_hint was issued by another provider.")
        audience = self._audience(claims.get("aud"), claims.get("azp"), client_id)
        subject, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(subject, str) or not subject:
            raise InvalidIdTokenHintError("The id_token_hint has no sub.")
        client = await self._client(audience)
        if header.get("alg") != client.id_token_signed_response_alg.value:
            raise InvalidIdTokenHintError(
                f"The id_token_hint is signed with {header.get('alg')!r}, but client "
                f"{client.client_id} is registered for "
                f"{client.id_token_signed_response_alg.value} ID tokens."
            )
        # NOTE: an expired hint is accepted, as §2 asks ("even when the exp time has
        # passed"): relying parties keep the ID token for logout long after it expires. A
        # hint only spares the person the confirmation page when it names this very sign-in
        # (its sid), which a copy of an old ID token from another sign-in never does.
        hint = VerifiedHint(
            client_id=client.client_id,
            subject=subject,
            sid=sid if isinstance(sid, str) and sid else None,
            sector=client.sector_identifier,
        )
        return hint, client

    @staticmethod
    def _audience(aud: object, azp: object, client_id: str | None) -> str:
        """The client the hint was issued to; it must be the ``client_id`` sent with it (§2:
        "the OP MUST verify that it matches the client_id used when issuing the ID Token")."""
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        audiences = [a for a in audiences if isinstance(a, str) and a]
        if client_id is not None:
            if client_id not in audiences:
                raise InvalidIdTokenHintError(
                    f"The id_token_hint was not issued to client_id {client_id[:64]!r}."
                )
            return client_id
        if len(audiences) == 1:
            return audiences[0]
        if isinstance(azp, str) and azp in audiences:
            return azp
        raise InvalidIdTokenHintError("The id_token_hint names no single client in aud or azp.")

    async def _client(self, client_id: str) -> Client:
        try:
            return await self._clients.get_enabled(client_id)
        except ClientError:
            raise UnknownLogoutClientError(
                f"No enabled client has the id {client_id[:64]!r}."
            ) from None


class BackchannelNotifier:
    """Implements :class:`~gateway.sessions.services.LogoutNotifier` by queueing: one Redis
    write for the whole event, whatever the relying parties are doing."""

    def __init__(self, store: LogoutQueueStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def session_ended(self, account_id: str, sid: str, clients: frozenset[str]) -> None:
        """Queue a logout token for each client the sign-in ``sid`` was handed to; whether a
        client registered a ``backchannel_logout_uri`` is checked at delivery."""
        if not sid or not clients:
            return
        now = self._clock.now()
        await self._store.enqueue(
            [BackchannelJob(client, account_id, sid, now).to_json() for client in sorted(clients)]
        )
        log.info("back-channel logout queued", extra={"clients": sorted(clients)})
