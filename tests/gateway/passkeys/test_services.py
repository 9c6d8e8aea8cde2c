"""The passkey ceremonies on the real store, with genuine responses from a software
authenticator, and every check the relying party owes (W3C WebAuthn Level 3 §7.1, §7.2)
attacked one by one."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gateway.accounts.errors import SignInThrottledError
from gateway.passkeys.errors import (
    InvalidPasskeyNameError,
    PasskeyCloneSuspectedError,
    PasskeyInUseError,
    PasskeyNotFoundError,
    PasskeyRefusedError,
    PasskeysUnavailableError,
    SecondFactorRequiredError,
)
from gateway.passkeys.models import MAX_RESPONSE_CHARS, RelyingParty, b64url
from gateway.passkeys.services import PasskeyService
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod, Session
from tests.conftest import TEST_ACTOR
from tests.gateway.accounts.support import new_ip
from tests.gateway.passkeys.authenticator import AT, BE, BS, UP, SoftAuthenticator
from tests.gateway.passkeys.conftest import MakePerson, Person
from tests.support.evidence import recorded


async def _register(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, person: Person, **attack: object
) -> str:
    """Run a registration ceremony; returns the new credential id."""
    options = json.loads(await passkeys.registration_options(person.session))
    response = authenticator.create(options, **attack)  # type: ignore[arg-type]
    passkey = await passkeys.register(person.session, response, "My phone")
    return passkey.id


async def _anonymous(runtime: Runtime) -> Session:
    return await runtime.sessions.start("192.0.2.2", "pytest")


async def _sign_in(
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    session: Session,
    **attack: object,
) -> str:
    """A usernameless sign-in ceremony in ``session``; returns the account id."""
    options = json.loads(await passkeys.authentication_options(session, None))
    response = authenticator.get(options, **attack)  # type: ignore[arg-type]
    account = await passkeys.authenticate(session, response, new_ip(), None)
    return account.id


# --- what works -------------------------------------------------------------------------------


async def test_a_registered_passkey_signs_in_without_a_username(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    """Registration stores the key, transports, AAGUID and backup flags; a usernameless
    assertion then names the account, and the counter and last use are kept."""
    person = await make_person()
    credential_id = await _register(passkeys, authenticator, person)
    [stored] = await passkeys.passkeys(person.account_id)
    assert (stored.id, stored.name, stored.transports) == (credential_id, "My phone", ("internal",))
    assert stored.aaguid == "00112233-4455-6677-8899-aabbccddeeff"
    assert stored.backup_eligible and stored.backed_up and stored.last_used_at is None

    assert await _sign_in(passkeys, authenticator, await _anonymous(runtime)) == person.account_id
    [used] = await passkeys.passkeys(person.account_id)
    assert used.sign_count == 1 and used.last_used_at is not None
    for action in ("passkey.registered", "passkey.signed-in"):
        assert await recorded(runtime.evidence, action, person.account_id), action


async def test_options_ask_for_a_discoverable_verified_es256_or_rs256_key_without_attestation(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, make_person: MakePerson
) -> None:
    """Creation options follow the brief, exclude the account's passkeys, and the user
    handle is random per account: never the account id or the email address."""
    person = await make_person()
    credential_id = await _register(passkeys, authenticator, person)
    options = json.loads(await passkeys.registration_options(person.session))
    assert options["rp"] == {"id": "gateway.example", "name": "GovConnect"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -257]
    assert options["attestation"] == "none"
    assert [c["id"] for c in options["excludeCredentials"]] == [credential_id]
    assert person.account_id.encode() not in options["user"]["id"].encode()
    other = json.loads(await passkeys.registration_options((await make_person()).session))
    assert other["user"]["id"] != options["user"]["id"]


async def test_the_relying_party_comes_from_the_issuer_and_never_an_ip_address() -> None:
    assert RelyingParty.for_issuer("http://localhost:8000") == RelyingParty(
        "localhost", "http://localhost:8000"
    )
    with pytest.raises(PasskeysUnavailableError):
        RelyingParty.for_issuer("http://127.0.0.1:8000")


# --- registration attacked ---------------------------------------------------------------------


async def test_adding_a_passkey_needs_a_second_factor_in_the_session(
    runtime: Runtime, passkeys: PasskeyService, make_person: MakePerson
) -> None:
    """A stolen password alone cannot plant an attacker's passkey."""
    person = await make_person()
    password_only = await runtime.sessions.sign_in(
        await _anonymous(runtime), person.account_id, [AuthMethod.PASSWORD]
    )
    with pytest.raises(SecondFactorRequiredError):
        await passkeys.registration_options(password_only)
    with pytest.raises(SecondFactorRequiredError):
        await passkeys.register(password_only, "{}", "Mine")


@pytest.mark.parametrize(
    ("attack", "why"),
    [
        ({"origin": "https://gateway.example.evil"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID hash"),
        ({"flags": UP | AT | BE | BS}, "User verification is required"),
    ],
)
async def test_a_registration_response_failing_a_check_is_refused(
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
    attack: dict[str, object],
    why: str,
) -> None:
    """Wrong origin, wrong RP ID hash, no user verification: refused for that reason."""
    person = await make_person()
    with pytest.raises(PasskeyRefusedError) as refused:
        await _register(passkeys, authenticator, person, **attack)
    assert why in refused.value.reason
    assert await passkeys.passkeys(person.account_id) == []


async def test_a_registration_challenge_works_once_and_only_in_its_session(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    person = await make_person()
    options = json.loads(await passkeys.registration_options(person.session))
    response = authenticator.create(options)
    other_browser = await runtime.sessions.sign_in(
        await _anonymous(runtime), person.account_id, [AuthMethod.PASSWORD, AuthMethod.TOTP]
    )
    with pytest.raises(PasskeyRefusedError):
        await passkeys.register(other_browser, response, "Stolen")
    await passkeys.register(person.session, response, "Mine")
    with pytest.raises(PasskeyRefusedError):
        await passkeys.register(person.session, response, "Again")


async def test_a_credential_already_registered_is_refused_for_any_account(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, make_person: MakePerson
) -> None:
    """An authenticator that ignores ``excludeCredentials`` and answers with a credential
    already registered: refused for the same account and for another (a credential id names
    one account only)."""
    first, second = await make_person(), await make_person()
    await _register(passkeys, authenticator, first)
    [held] = authenticator.credentials.values()
    for person in (first, second):
        options = json.loads(await passkeys.registration_options(person.session))
        with pytest.raises(PasskeyInUseError):
            await passkeys.register(
                person.session, authenticator.create(options, reuse=held), "Again"
            )
    assert await passkeys.passkeys(second.account_id) == []


async def test_a_response_claiming_another_credential_id_is_refused(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, make_person: MakePerson
) -> None:
    """The credential id the browser reports must be the one the authenticator attested."""
    person = await make_person()
    options = json.loads(await passkeys.registration_options(person.session))
    genuine = json.loads(authenticator.create(options))
    claimed = b64url(b"another credential id")
    forged = {**genuine, "id": claimed, "rawId": claimed}
    with pytest.raises(PasskeyRefusedError):
        await passkeys.register(person.session, json.dumps(forged), "Forged")


@pytest.mark.parametrize(
    "response",
    ["", "not json", "[]", '{"id": 1}', "x" * (MAX_RESPONSE_CHARS + 1)],
    ids=["empty", "not-json", "array", "wrong-types", "oversized"],
)
async def test_malformed_or_oversized_responses_are_refused(
    runtime: Runtime, passkeys: PasskeyService, make_person: MakePerson, response: str
) -> None:
    person = await make_person()
    await passkeys.registration_options(person.session)
    with pytest.raises(PasskeyRefusedError):
        await passkeys.register(person.session, response, "Mine")
    session = await _anonymous(runtime)
    await passkeys.authentication_options(session, None)
    with pytest.raises(PasskeyRefusedError):
        await passkeys.authenticate(session, response, new_ip(), None)


async def test_names_are_checked(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, make_person: MakePerson
) -> None:
    person = await make_person()
    credential_id = await _register(passkeys, authenticator, person)
    for bad in ("", "   ", "x" * 61, "bad\u0000name"):
        with pytest.raises(InvalidPasskeyNameError):
            await passkeys.rename(person.account_id, credential_id, bad)
    renamed = await passkeys.rename(person.account_id, credential_id, "  Work   laptop ")
    assert renamed.name == "Work laptop"
    [stored] = await passkeys.passkeys(person.account_id)
    assert stored.name == "Work laptop"


# --- authentication attacked -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attack", "why"),
    [
        ({"origin": "https://gateway.example.evil"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID hash"),
        ({"tamper": True}, "signature"),
        ({"flags": UP | BE | BS}, "User verification is required"),
        ({"user_handle": b"someone-else"}, "user handle"),
    ],
)
async def test_an_assertion_failing_a_check_is_refused(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
    attack: dict[str, object],
    why: str,
) -> None:
    """Wrong origin, wrong RP ID hash, a tampered signature, no user verification, someone
    else's user handle: refused for that reason, and the passkey is not marked used."""
    person = await make_person()
    await _register(passkeys, authenticator, person)
    with pytest.raises(PasskeyRefusedError) as refused:
        await _sign_in(passkeys, authenticator, await _anonymous(runtime), **attack)
    assert why in refused.value.reason
    assert not isinstance(refused.value, PasskeyCloneSuspectedError)
    [stored] = await passkeys.passkeys(person.account_id)
    assert stored.last_used_at is None


async def test_a_replayed_assertion_is_refused(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    """The challenge is taken (GETDEL) by the first use: the same response again fails."""
    person = await make_person()
    await _register(passkeys, authenticator, person)
    session = await _anonymous(runtime)
    options = json.loads(await passkeys.authentication_options(session, None))
    response = authenticator.get(options)
    await passkeys.authenticate(session, response, new_ip(), None)
    with pytest.raises(PasskeyRefusedError) as refused:
        await passkeys.authenticate(session, response, new_ip(), None)
    assert "no live authentication challenge" in refused.value.reason


async def test_a_challenge_from_another_session_is_refused(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    """An assertion over a challenge issued to the attacker's browser session does not sign
    anybody in to a different session (nor does the challenge of a different ceremony)."""
    person = await make_person()
    await _register(passkeys, authenticator, person)
    attacker, victim = await _anonymous(runtime), await _anonymous(runtime)
    options = json.loads(await passkeys.authentication_options(attacker, None))
    await passkeys.authentication_options(victim, None)
    with pytest.raises(PasskeyRefusedError) as refused:
        await passkeys.authenticate(victim, authenticator.get(options), new_ip(), None)
    assert "Client data challenge was not expected challenge" in refused.value.reason
    step_up = json.loads(await passkeys.authentication_options(person.session, person.account_id))
    with pytest.raises(PasskeyRefusedError):  # a step-up challenge does not serve a sign-in
        await passkeys.authenticate(person.session, authenticator.get(step_up), new_ip(), None)


async def test_another_accounts_credential_is_refused_at_step_up(
    passkeys: PasskeyService, authenticator: SoftAuthenticator, make_person: MakePerson
) -> None:
    """At step-up only the signed-in account's passkeys count, and the options name only
    them; someone else's genuine passkey is refused."""
    mine, theirs = await make_person(), await make_person()
    own_id = await _register(passkeys, authenticator, mine)
    other_device = SoftAuthenticator(authenticator.origin, authenticator.rp_id)
    await _register(passkeys, other_device, theirs)
    options = json.loads(await passkeys.authentication_options(mine.session, mine.account_id))
    assert [c["id"] for c in options["allowCredentials"]] == [own_id]
    with pytest.raises(PasskeyRefusedError) as refused:
        await passkeys.authenticate(
            mine.session, other_device.get(options), new_ip(), mine.account_id
        )
    assert "not this account's" in refused.value.reason
    options = json.loads(await passkeys.authentication_options(mine.session, mine.account_id))
    account = await passkeys.authenticate(
        mine.session, authenticator.get(options), new_ip(), mine.account_id
    )
    assert account.id == mine.account_id


async def test_a_step_up_for_an_account_the_session_is_not_signed_in_to_is_refused(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    person = await make_person()
    await _register(passkeys, authenticator, person)
    anonymous = await _anonymous(runtime)
    options = json.loads(await passkeys.authentication_options(anonymous, person.account_id))
    with pytest.raises(PasskeyRefusedError):
        await passkeys.authenticate(
            anonymous, authenticator.get(options), new_ip(), person.account_id
        )


async def test_a_sign_count_going_backwards_is_refused_and_recorded(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    """WebAuthn §7.2 step 22: a genuine signature whose counter did not move forward
    suggests a cloned key: refused, and the evidence log says so."""
    person = await make_person()
    credential_id = await _register(passkeys, authenticator, person)
    await _sign_in(passkeys, authenticator, await _anonymous(runtime), sign_count=5)
    for stale in (5, 3):
        with pytest.raises(PasskeyCloneSuspectedError):
            await _sign_in(passkeys, authenticator, await _anonymous(runtime), sign_count=stale)
    [entry, _] = await recorded(runtime.evidence, "passkey.clone-suspected", person.account_id)
    assert entry["details"]["credential"] == credential_id
    assert entry["details"]["stored_count"] == 5
    assert await _sign_in(passkeys, authenticator, await _anonymous(runtime), sign_count=6)


async def test_authenticators_without_a_counter_are_accepted(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    """Both counters zero: the authenticator keeps none (synced passkeys), not a clone."""
    person = await make_person()
    await _register(passkeys, authenticator, person)
    for _ in range(2):
        session = await _anonymous(runtime)
        assert await _sign_in(passkeys, authenticator, session, sign_count=0) == person.account_id


async def test_a_disabled_account_cannot_sign_in_with_its_passkey(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    person = await make_person()
    await _register(passkeys, authenticator, person)
    await runtime.accounts.disable(person.account_id, TEST_ACTOR)
    with pytest.raises(PasskeyRefusedError):
        await _sign_in(passkeys, authenticator, await _anonymous(runtime))


async def test_a_removed_passkey_no_longer_signs_in(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    person = await make_person()
    credential_id = await _register(passkeys, authenticator, person)
    password_only = replace(person.session, auth=person.session.auth[:1])
    with pytest.raises(SecondFactorRequiredError):
        await passkeys.remove(password_only, credential_id)
    await passkeys.remove(person.session, credential_id)
    assert await recorded(runtime.evidence, "passkey.removed", person.account_id)
    with pytest.raises(PasskeyNotFoundError):
        await passkeys.remove(person.session, credential_id)
    with pytest.raises(PasskeyRefusedError):
        await _sign_in(passkeys, authenticator, await _anonymous(runtime))


async def test_repeated_failures_have_to_wait(
    runtime: Runtime, passkeys: PasskeyService, authenticator: SoftAuthenticator
) -> None:
    """Passkey attempts count on the password sign-in throttle (per client address, and per
    credential id as per email address), so hammering from one address soon has to wait."""
    ip = new_ip()
    session = await _anonymous(runtime)
    authenticator.create({"user": {"id": b64url(b"nobody")}, "challenge": ""})  # not registered
    unknown = authenticator.get(json.loads(await passkeys.authentication_options(session, None)))
    with pytest.raises(SignInThrottledError):
        for _ in range(50):
            with pytest.raises(PasskeyRefusedError):
                await passkeys.authenticate(session, unknown, ip, None)


async def test_forgetting_an_account_drops_its_passkeys(
    runtime: Runtime,
    passkeys: PasskeyService,
    authenticator: SoftAuthenticator,
    make_person: MakePerson,
) -> None:
    person = await make_person()
    await _register(passkeys, authenticator, person)
    await passkeys.forget(person.account_id)
    assert await passkeys.passkeys(person.account_id) == []
    with pytest.raises(PasskeyRefusedError):
        await _sign_in(passkeys, authenticator, await _anonymous(runtime))
