"""Passkey registration and authentication ceremonies (W3C Web Authentication Level 3).

- Registration (§7.1) asks for a discoverable credential (``residentKey: required``) with
  user verification, ES256 or RS256 (COSE -7, -257), ``attestation: none``, and excludes the
  account's existing credentials (§5.4 ``excludeCredentials``). Only a session that proved a
  second factor or a passkey may add or remove one: a stolen password alone must not be able
  to plant an attacker's key.
- Authentication (§7.2) is usernameless at sign-in (an empty ``allowCredentials``; the
  credential's ``userHandle`` must be the owner's) and limited to the signed-in account's
  credentials at step-up. User verification is required, so one passkey gesture proves two
  factors (possession and the device's check of the person) and reaches ``Cl.Cm.Ch``.
- Challenges (§13.4.3) are 32 random bytes, kept five minutes under the browser session's
  handle and the ceremony, and taken with ``GETDEL`` before anything is checked: used once,
  and useless from any other session.
- The RP ID and origin come from the issuer setting (:class:`RelyingParty`), never from the
  request.
- Signature counters (§6.1.1, §7.2 step 22): a counter that does not move forward marks the
  credential as possibly cloned; the sign-in is refused and the evidence log records it.
- Sign-in attempts go through the password sign-in throttle (per client address, and per
  credential id as password sign-in counts per email address).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from gateway.accounts.errors import AccountNotFoundError
from gateway.accounts.models import Account
from gateway.accounts.records import self_actor
from gateway.accounts.services import AccountService
from gateway.accounts.throttle import Backoff, SignInThrottle
from gateway.core.clock import Clock
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.passkeys.errors import (
    PasskeyCloneSuspectedError,
    PasskeyInUseError,
    PasskeyNotFoundError,
    PasskeyRefusedError,
    SecondFactorRequiredError,
)
from gateway.passkeys.models import (
    CHALLENGE_TTL_SECONDS,
    MAX_RESPONSE_CHARS,
    Ceremony,
    Challenge,
    Passkey,
    RelyingParty,
    b64url,
    from_b64url,
    passkey_name,
    proves_second_factor,
)
from gateway.passkeys.store import PasskeyStore
from gateway.sessions.models import Session

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,  # -7, ES256
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,  # -257, RS256
]
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn §7.1 step 24
MAX_CHANGE_ATTEMPTS = 5
# Everything the library or base64 decoding raises for a malformed or failing response.
_BAD_RESPONSE = (WebAuthnException, ValueError, TypeError, KeyError)


def throttle_key(credential_id: str) -> str:
    """What the sign-in throttle counts a passkey attempt against, in place of an email
    digest: the credential id named, whether or not it exists. ``passkey:`` cannot begin an
    email address (no ``:`` in the local part), so it never meets an address's counter."""
    return hashlib.sha256(f"passkey:{credential_id}".encode()).hexdigest()


class PasskeyService:
    """Built from its store, the clock, the evidence log, the account service (accounts are
    read, never changed here), the sign-in throttle and the issuer."""

    def __init__(
        self,
        store: PasskeyStore,
        clock: Clock,
        evidence: EvidenceLog,
        accounts: AccountService,
        throttle: SignInThrottle,
        *,
        issuer: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._accounts = accounts
        self._throttle = throttle
        self._issuer = issuer

    @property
    def relying_party(self) -> RelyingParty:
        """:class:`PasskeysUnavailableError` when the issuer is on an IP address."""
        return RelyingParty.for_issuer(self._issuer)

    # --- the account's passkeys ---------------------------------------------------------------

    async def passkeys(self, account_id: str) -> list[Passkey]:
        """Oldest first, the order the person added them."""
        return sorted(await self._store.of_account(account_id), key=lambda p: p.created_at)

    async def rename(self, account_id: str, credential_id: str, name: str) -> Passkey:
        new_name = passkey_name(name)
        for _ in range(MAX_CHANGE_ATTEMPTS):
            current = await self._get(account_id, credential_id)
            raw = await self._store.raw(account_id, credential_id)
            renamed = replace(current, name=new_name)
            if raw is not None and await self._store.replace(
                account_id, credential_id, raw, renamed.to_json()
            ):
                return renamed
        raise PasskeyNotFoundError("The passkey kept changing; nothing was changed. Try again.")

    async def remove(self, session: Session, credential_id: str) -> None:
        account_id = _strong(session)
        if not await self._store.remove(account_id, credential_id):
            raise PasskeyNotFoundError("That passkey has already been removed.")
        await self._record(account_id, "passkey.removed", {"credential": credential_id})

    async def forget(self, account_id: str) -> None:
        """Drop every passkey of an account that is being deleted."""
        await self._store.forget(account_id)

    # --- registration (WebAuthn §7.1) ---------------------------------------------------------

    async def registration_options(self, session: Session) -> str:
        """``PublicKeyCredentialCreationOptions`` as JSON (§5.4) for the signed-in account."""
        account = await self._accounts.get(_strong(session))
        rp = self.relying_party
        handle = await self._store.user_handle(account.id, b64url(secrets.token_bytes(32)))
        challenge = secrets.token_bytes(32)
        options = generate_registration_options(
            rp_id=rp.id,
            rp_name=rp.name,
            user_id=from_b64url(handle),
            user_name=account.email,
            user_display_name=account.email,
            challenge=challenge,
            timeout=CHALLENGE_TTL_SECONDS * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=await self._descriptors(account.id),
            supported_pub_key_algs=ALGORITHMS,
        )
        await self._store.put_challenge(
            session.handle, Ceremony.REGISTER, Challenge(challenge, account.id)
        )
        return options_to_json(options)

    async def register(self, session: Session, response: str, name: str) -> Passkey:
        """Verify the browser's ``PublicKeyCredential`` (§7.1) and keep the passkey.

        :class:`PasskeyRefusedError` for any failed check, :class:`PasskeyInUseError` for a
        credential already registered, :class:`InvalidPasskeyNameError` for a bad name.
        """
        account_id = _strong(session)
        label = passkey_name(name)
        challenge = await self._store.take_challenge(session.handle, Ceremony.REGISTER)
        if challenge is None or challenge.account_id != account_id:
            raise PasskeyRefusedError("no live registration challenge for this session")
        credential = _registration(response)
        rp = self.relying_party
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge.value,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                require_user_verification=True,
                supported_pub_key_algs=ALGORITHMS,
            )
        except _BAD_RESPONSE as exc:
            raise PasskeyRefusedError(f"registration did not verify: {exc}") from exc
        if (
            verified.credential_id != credential.raw_id
            or len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES
        ):
            raise PasskeyRefusedError("the attested credential id is not the one returned")
        # NOTE: residentKey "required" cannot be confirmed by the server (only the client's
        # unsigned credProps extension would say); a non-discoverable passkey still works at
        # step-up, where allowCredentials names it, just not for usernameless sign-in.
        passkey = Passkey(
            id=b64url(verified.credential_id),
            account_id=account_id,
            name=label,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=tuple(t.value for t in credential.response.transports or ()),
            aaguid=verified.aaguid,
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            created_at=self._clock.now(),
        )
        if not await self._store.add(passkey):
            raise PasskeyInUseError("That passkey is already registered.")
        details = {
            "credential": passkey.id,
            "aaguid": passkey.aaguid,
            "backup_eligible": passkey.backup_eligible,
        }
        await self._record(account_id, "passkey.registered", details)
        return passkey

    # --- authentication (WebAuthn §7.2) -------------------------------------------------------

    async def authentication_options(self, session: Session, account_id: str | None) -> str:
        """``PublicKeyCredentialRequestOptions`` as JSON (§5.5): usernameless for a sign-in
        (``account_id`` None), else limited to that account's credentials (step-up)."""
        rp = self.relying_party
        challenge = secrets.token_bytes(32)
        options = generate_authentication_options(
            rp_id=rp.id,
            challenge=challenge,
            timeout=CHALLENGE_TTL_SECONDS * 1000,
            allow_credentials=await self._descriptors(account_id) if account_id else [],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self._store.put_challenge(
            session.handle, _ceremony(account_id), Challenge(challenge, account_id)
        )
        return options_to_json(options)

    async def authenticate(
        self, session: Session, response: str, ip: str, account_id: str | None
    ) -> Account:
        """The account whose passkey signed this session's challenge (§7.2).

        With ``account_id`` (a step-up of the signed-in account) only that account's
        passkeys count, and only a challenge issued for it. Throttled
        first (:class:`SignInThrottledError`); then one :class:`PasskeyRefusedError` for every
        failure, a disabled account included; :class:`PasskeyCloneSuspectedError` when the
        signature is genuine but the counter did not move forward.
        """
        credential = _authentication(response)
        admission = await self._throttle.admit(throttle_key(credential.id), ip, None)
        ceremony = _ceremony(account_id)
        challenge = await self._store.take_challenge(session.handle, ceremony)
        if challenge is None or challenge.account_id != account_id:
            raise PasskeyRefusedError("no live authentication challenge for this session")
        if account_id is not None and session.account_id != account_id:
            raise PasskeyRefusedError("a step-up for an account this session is not signed in to")
        owner = await self._store.owner(credential.id)
        if owner is None or (account_id is not None and owner != account_id):
            raise PasskeyRefusedError("the credential is unknown or not this account's")
        passkey = await self._store.get(owner, credential.id)
        if passkey is None:
            raise PasskeyRefusedError("the credential is no longer registered")
        await self._check_user_handle(credential, owner, discovered=account_id is None)
        rp = self.relying_party
        try:
            # NOTE: the library compares signature counters before it checks the signature,
            # so it cannot tell a replay from a clone. Passing 0 leaves the comparison to the
            # store's atomic check after the signature is proven: only a genuine signature
            # can mark a credential as possibly cloned.
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge.value,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except _BAD_RESPONSE as exc:
            raise PasskeyRefusedError(f"assertion did not verify: {exc}") from exc
        try:
            account = await self._accounts.get(owner)
        except AccountNotFoundError as exc:
            raise PasskeyRefusedError("the credential's account no longer exists") from exc
        if account.disabled:
            raise PasskeyRefusedError("the account is disabled")
        used = await self._store.record_use(
            owner, passkey.id, verified.new_sign_count, self._clock.now()
        )
        if used < 0:
            raise PasskeyRefusedError("the passkey was removed during the sign-in")
        if used == 0:
            details = {
                "credential": passkey.id,
                "stored_count": passkey.sign_count,
                "offered_count": verified.new_sign_count,
            }
            await self._record(owner, "passkey.clone-suspected", details)
            raise PasskeyCloneSuspectedError("the signature counter did not move forward")
        await self._throttle.succeeded(admission)
        await self._record(
            owner,
            "passkey.signed-in",
            {"credential": passkey.id, "ceremony": ceremony.value},
        )
        return account

    # --- helpers ------------------------------------------------------------------------------

    async def _check_user_handle(
        self, credential: AuthenticationCredential, owner: str, *, discovered: bool
    ) -> None:
        """§7.2 step 6: a discovered credential must carry a user handle, and any user handle
        must be the owner's."""
        offered = credential.response.user_handle
        if offered is None:
            if discovered:
                raise PasskeyRefusedError("a discoverable credential without a user handle")
            return
        if b64url(offered) != await self._store.existing_user_handle(owner):
            raise PasskeyRefusedError("the user handle is not the credential owner's")

    async def _descriptors(self, account_id: str) -> list[PublicKeyCredentialDescriptor]:
        return [
            PublicKeyCredentialDescriptor(
                id=from_b64url(p.id),
                transports=[AuthenticatorTransport(t) for t in p.transports],
            )
            for p in await self._store.of_account(account_id)
        ]

    async def _get(self, account_id: str, credential_id: str) -> Passkey:
        passkey = await self._store.get(account_id, credential_id)
        if passkey is None:
            raise PasskeyNotFoundError("That passkey is not on your account.")
        return passkey

    async def _record(self, account_id: str, action: str, details: dict[str, object]) -> None:
        await self._evidence.record(Event(self_actor(account_id), action, account_id, details))


def _strong(session: Session) -> str:
    """The signed-in account of a session that proved a second factor or a passkey."""
    if session.account_id is None or not proves_second_factor(session.methods()):
        raise SecondFactorRequiredError(
            "Confirm it is you with your second step before changing your passkeys."
        )
    return session.account_id


def _ceremony(account_id: str | None) -> Ceremony:
    return Ceremony.SIGN_IN if account_id is None else Ceremony.STEP_UP


def _registration(response: str) -> RegistrationCredential:
    if len(response) > MAX_RESPONSE_CHARS:
        raise PasskeyRefusedError("the registration response is too large")
    try:
        return parse_registration_credential_json(response)
    except _BAD_RESPONSE as exc:
        raise PasskeyRefusedError(f"the registration response is malformed: {exc}") from exc


def _authentication(response: str) -> AuthenticationCredential:
    if len(response) > MAX_RESPONSE_CHARS:
        raise PasskeyRefusedError("the authentication response is too large")
    try:
        return parse_authentication_credential_json(response)
    except _BAD_RESPONSE as exc:
        raise PasskeyRefusedError(f"the authentication response is malformed: {exc}") from exc


def build_passkeys(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    accounts: AccountService,
) -> PasskeyService:
    """The service as the runtime builds it, with the password sign-in's throttle numbers,
    on the same counters (a client address has one budget, whichever way it signs in)."""
    throttle = SignInThrottle(
        redis,
        clock,
        account=Backoff(
            settings.signin_free_failures,
            settings.signin_base_delay_seconds,
            settings.signin_account_max_delay_seconds,
        ),
        client=Backoff(
            settings.signin_ip_free_failures,
            settings.signin_base_delay_seconds,
            settings.signin_ip_max_delay_seconds,
        ),
    )
    return PasskeyService(
        PasskeyStore(redis), clock, evidence, accounts, throttle, issuer=settings.issuer
    )
