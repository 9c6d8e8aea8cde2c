"""What happens to a valid authorization request: sign-in, step-up, consent, then the code.

OIDC Core §3.1.2.3 (authenticate the person), §3.1.2.4 (obtain consent), §3.1.2.5 (the
successful response) and §3.1.2.6 (errors, including ``prompt=none``'s). A request that needs
the person to do something is held in the store under an id for ``PENDING_SECONDS`` and the
browser comes back to ``/authorize/resume`` with it; the id travels in the URL, not in the
session, because every sign-in step rewrites the session's pending state and id.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

from gateway.authorize.consent import ConsentService
from gateway.authorize.errors import RequestRefused, UnmetAuthenticationRequirementsError
from gateway.authorize.levels import LevelRequest, LevelService, amr
from gateway.authorize.models import (
    BUSINESS_SCOPE,
    PAR_PATH,
    PERSONAL,
    AuthorizationRequest,
    Interact,
    Interaction,
    Outcome,
    Respond,
    ResponseTarget,
)
from gateway.authorize.par import PushedRequests
from gateway.authorize.request_objects import RequestObjects
from gateway.authorize.store import ConsentStore, RequestStore
from gateway.authorize.validation import RequestValidator
from gateway.clients.errors import ClientError
from gateway.clients.models import Client
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.evidence.services import EvidenceLog
from gateway.oidc.errors import (
    AccessDeniedError,
    ConsentRequiredError,
    InteractionRequiredError,
    InvalidRequestError,
    LoginRequiredError,
    OAuthError,
)
from gateway.oidc.models import AuthorizationGrant
from gateway.oidc.store import CodeStore
from gateway.oidc.subjects import PairwiseSubjects
from gateway.sessions.models import Session
from gateway.sessions.services import SessionService
from gateway.signing.services import KeyRing
from gateway.tokens.client_auth import ClientAuthenticator, ClientKeys
from trust_levels.assurance import Assurance, PrincipalKind
from trust_levels.models import CredentialStrength
from trust_levels.policies import Policy, Shortfall

PENDING_PREFIX = "authz"
PENDING_SECONDS = 1800
# RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; a
# minute is ample for a server-side client redeeming at once, and shrinks the replay window.
CODE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Affiliation:
    """A business a person may act for, as tokens name it (the ``org`` claim)."""

    business_id: str
    name: str
    number: str | None
    role: str

    def claim(self) -> dict[str, Any]:
        org: dict[str, Any] = {"id": self.business_id, "name": self.name, "role": self.role}
        if self.number is not None:
            org["number"] = self.number
        return org


class Affiliations(Protocol):
    """The businesses a person belongs to (``trust_levels.businesses``)."""

    async def of(self, account_id: str) -> Sequence[Affiliation]: ...


class SignInObserver(Protocol):
    """Told when a code is issued: a person signed in to a client (the messaging package
    remembers the client's pairwise ``sub``, so the council can write to that person)."""

    async def signed_in(self, client: Client, account_id: str) -> None: ...


class NoAffiliations:
    async def of(self, account_id: str) -> Sequence[Affiliation]:
        return ()


class Authorizer:
    def __init__(
        self,
        store: RequestStore,
        consents: ConsentService,
        codes: CodeStore,
        subjects: PairwiseSubjects,
        sessions: SessionService,
        clients: ClientService,
        clock: Clock,
        levels: LevelService,
        *,
        issuer: str,
        affiliations: Affiliations | None = None,
        observers: Sequence[SignInObserver] = (),
    ) -> None:
        self.affiliations: Affiliations = affiliations or NoAffiliations()
        self._observers = tuple(observers)
        self._levels = levels
        self._store = store
        self._consents = consents
        self._codes = codes
        self._subjects = subjects
        self._sessions = sessions
        self._clients = clients
        self._clock = clock
        self._issuer = issuer

    async def hold(self, request: AuthorizationRequest) -> str:
        """Keep a validated request for later (a form post, before the session is read)."""
        request_id = new_id(PENDING_PREFIX)
        await self._store.hold(request_id, request, PENDING_SECONDS)
        return request_id

    async def pending(self, request_id: str) -> AuthorizationRequest | None:
        if not looks_like_id(request_id, PENDING_PREFIX):
            return None
        return await self._store.pending(request_id)

    async def client(self, request: AuthorizationRequest) -> Client:
        """The request's client, if it is still enabled (an administrator may have switched it
        off while the person was signing in)."""
        try:
            return await self._clients.get_enabled(request.client_id)
        except ClientError:
            raise RequestRefused(
                InvalidRequestError("The client is no longer enabled."), page="unknown_client"
            ) from None

    async def decide(
        self,
        request: AuthorizationRequest,
        session: Session,
        *,
        request_id: str | None = None,
        consented: bool = False,
    ) -> Outcome:
        """The next step for this browser: a page for the person, or the answer to the
        client. ``consented`` is set once the person has just allowed the request."""
        client = await self.client(request)
        try:
            needed = await self._interaction(request, session, client, consented=consented)
            if needed is not None and "none" in request.prompt:
                raise _no_prompt(needed)
        except OAuthError as exc:
            await self._drop(request_id)
            return Respond(self.error_url(request.target, exc))
        if needed is None:
            return await self._issue(request, session, client, request_id)
        # NOTE: the held request is not bound to this browser. Its id is 128 random bits, and
        # whoever resumes it gets exactly what replaying the original /authorize link would
        # give: every check runs again against their own session.
        request_id = request_id or new_id(PENDING_PREFIX)
        await self._store.hold(request_id, request, PENDING_SECONDS)
        return Interact(needed, request_id)

    async def deny(self, request: AuthorizationRequest, request_id: str) -> Respond:
        """The person cancelled at the consent page (OIDC Core §3.1.2.6 ``access_denied``)."""
        await self._drop(request_id)
        denied = AccessDeniedError("The person chose not to share their details with the service.")
        return Respond(self.error_url(request.target, denied))

    async def act_for(self, request_id: str, acting_for: str) -> None:
        """Record whom the person chose to act for (:data:`PERSONAL` or a business id they
        belong to; the business page checks membership, and :meth:`decide` again at issue)."""
        pending = await self.pending(request_id)
        if pending is not None:
            await self._store.hold(
                request_id, replace(pending, acting_for=acting_for), PENDING_SECONDS
            )

    async def shortfall(
        self, request: AuthorizationRequest, session: Session, client: Client
    ) -> Shortfall | None:
        """What this session still lacks for the request (its floors and the level asked),
        so a step page can say what is needed; ``None`` when nothing is."""
        return self._policy(request, client).unmet(await self._assurance(request, session))

    async def give_up(self, request: AuthorizationRequest, request_id: str) -> Respond:
        """The person cannot reach the level asked (no passkey, no evidence to hand) and goes
        back to the service: OpenID Connect Core Error Code unmet_authentication_requirements."""
        await self._drop(request_id)
        unmet = UnmetAuthenticationRequirementsError(
            "The person could not reach the level of assurance the request needs."
        )
        return Respond(self.error_url(request.target, unmet))

    def error_url(self, target: ResponseTarget, error: OAuthError) -> str:
        """RFC 6749 §4.1.2.1 error response, with ``iss`` (RFC 9207 §2)."""
        return target.url(self._issuer, {"error": error.error, "error_description": error.detail})

    async def _interaction(
        self, request: AuthorizationRequest, session: Session, client: Client, *, consented: bool
    ) -> Interaction | None:
        auth_time = session.auth_time
        if session.account_id is None or auth_time is None:
            return Interaction.SIGN_IN
        # A sign-in after the request arrived satisfies prompt=login and max_age; without this
        # the person would be asked again and again (max_age=1 would never be met).
        fresh = auth_time > request.started_at
        if not fresh:
            if request.forces_sign_in:
                return Interaction.SIGN_IN
            age = self._clock.now() - auth_time
            if request.max_age is not None and age > timedelta(seconds=request.max_age):
                return Interaction.SIGN_IN
        if request.id_token_hint_sub is not None:
            subject = self._subjects.subject(client.sector_identifier, session.account_id)
            if subject != request.id_token_hint_sub:
                if fresh:
                    # OIDC Core §3.1.2.1: someone other than the hinted person signed in.
                    raise LoginRequiredError(
                        "The person who signed in is not the one id_token_hint names."
                    )
                return Interaction.SIGN_IN
        choosing = BUSINESS_SCOPE in request.scope and request.acting_for is None
        if choosing and await self.affiliations.of(session.account_id):
            return Interaction.BUSINESS
        shortfall = await self.shortfall(request, session, client)
        if shortfall is not None:
            return _step_for(shortfall)
        if consented:
            return None
        if "consent" in request.prompt:
            return Interaction.CONSENT  # the client asked, even a first-party one
        if client.first_party:
            return None
        if not await self._consents.covers(session.account_id, client.client_id, request.scope):
            return Interaction.CONSENT
        return None

    async def _issue(
        self,
        request: AuthorizationRequest,
        session: Session,
        client: Client,
        request_id: str | None,
    ) -> Respond:
        """OIDC Core §3.1.2.5: a single-use code bound to everything the token endpoint needs."""
        if request_id is not None and not await self._store.release(request_id):
            raise RequestRefused(
                InvalidRequestError("This sign-in request has already been answered."),
                page="expired",
            )
        assert session.account_id is not None and session.auth_time is not None
        methods = session.methods()
        assurance = await self._assurance(request, session)
        # Re-checked here, at the moment of issue: what is asserted is what holds now.
        if self._policy(request, client).unmet(assurance) is not None or assurance.vector is None:
            raise RequestRefused(
                InvalidRequestError("The sign-in no longer meets the level asked; start again."),
                page="expired",
            )
        asserted = self._request_level(request).asserted(assurance.vector)
        org = await self._org(request, session.account_id)
        code = secrets.token_urlsafe(32)  # 256 bits (RFC 6749 §10.10, RFC 9700 §4.5)
        grant = AuthorizationGrant(
            grant_id=new_id("grt"),
            client_id=client.client_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            account_id=session.account_id,
            sid=session.sid,
            auth_time=session.auth_time,
            amr=amr(methods),
            acr=asserted,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            claims=request.claims,
            dpop_jkt=request.dpop_jkt,
            issued_at=self._clock.now(),
            vot=asserted,
            org=org,
        )
        await self._codes.put(code, grant, CODE_SECONDS)
        await self._sessions.record_client(session, client.client_id)
        for observer in self._observers:
            await observer.signed_in(client, session.account_id)
        return Respond(request.target.url(self._issuer, {"code": code}))

    async def _drop(self, request_id: str | None) -> None:
        if request_id is not None:
            await self._store.release(request_id)

    @staticmethod
    def _request_level(request: AuthorizationRequest) -> LevelRequest:
        return LevelRequest.of(request.acr_values, request.claims, request.vtr)

    def _policy(self, request: AuthorizationRequest, client: Client) -> Policy:
        floors = self._levels.floors(client.min_level, request.scope)
        return self._request_level(request).policy(floors)

    async def _assurance(self, request: AuthorizationRequest, session: Session) -> Assurance:
        acting = request.acting_for not in (None, PERSONAL)
        principal = PrincipalKind.BUSINESS if acting else PrincipalKind.CITIZEN
        return await self._levels.assurance(session, principal)

    async def _org(self, request: AuthorizationRequest, account_id: str) -> dict[str, Any] | None:
        """The ``org`` claim for a person acting for a business, if they still belong to it."""
        if request.acting_for in (None, PERSONAL):
            return None
        for affiliation in await self.affiliations.of(account_id):
            if affiliation.business_id == request.acting_for:
                return affiliation.claim()
        raise RequestRefused(
            AccessDeniedError("The person is not a member of the business they chose."),
            request.target,
        )


def _step_for(shortfall: Shortfall) -> Interaction:
    """The page that gets the person what is missing: a factor first, then evidence."""
    if shortfall.credential is CredentialStrength.HIGH:
        return Interaction.PASSKEY
    if shortfall.credential is CredentialStrength.MEDIUM:
        return Interaction.STEP_UP
    if shortfall.credential is not None:
        return Interaction.SIGN_IN
    if shortfall.identity is not None:
        return Interaction.PROVE_IDENTITY
    return Interaction.BUSINESS


def _no_prompt(needed: Interaction) -> OAuthError:
    """OIDC Core §3.1.2.6: what ``prompt=none`` answers when the person would have to act."""
    if needed is Interaction.CONSENT:
        return ConsentRequiredError(
            "The person has not agreed to share these details with this client, and "
            "prompt=none was sent."
        )
    if needed in (Interaction.STEP_UP, Interaction.PASSKEY):
        return LoginRequiredError(
            "The person must sign in with a stronger credential for the level asked, and "
            "prompt=none was sent."
        )
    if needed in (Interaction.PROVE_IDENTITY, Interaction.BUSINESS):
        return InteractionRequiredError(
            "The person must act (prove their identity or choose whom they act for) for this "
            "request, and prompt=none was sent."
        )
    return LoginRequiredError("The person must sign in, and prompt=none was sent.")


@dataclass(frozen=True, slots=True)
class AuthorizationServices:
    """The authorization endpoint's services, built once per process (see runtime)."""

    validator: RequestValidator
    authorizer: Authorizer
    pushed: PushedRequests
    consents: ConsentService


def build_authorization(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    *,
    clients: ClientService,
    keys: KeyRing,
    codes: CodeStore,
    subjects: PairwiseSubjects,
    sessions: SessionService,
    client_keys: ClientKeys,
    client_auth: ClientAuthenticator,
    levels: LevelService,
    affiliations: Affiliations | None = None,
    observers: Sequence[SignInObserver] = (),
) -> AuthorizationServices:
    issuer = settings.issuer
    store = RequestStore(redis)
    consents = ConsentService(ConsentStore(redis), clients, clock, evidence)
    validator = RequestValidator(
        clients,
        RequestObjects(client_keys, clock, issuer=issuer),
        store,
        keys,
        clock,
        issuer=issuer,
    )
    return AuthorizationServices(
        validator=validator,
        authorizer=Authorizer(
            store,
            consents,
            codes,
            subjects,
            sessions,
            clients,
            clock,
            levels,
            issuer=issuer,
            affiliations=affiliations,
            observers=observers,
        ),
        pushed=PushedRequests(client_auth, validator, store, endpoint=issuer + PAR_PATH),
        consents=consents,
    )
