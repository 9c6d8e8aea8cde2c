"""The key ring signs, verifies, publishes and rotates as DESIGN.md §1.6 requires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet

from gateway.core.clock import SystemClock
from gateway.core.errors import ConfigurationError
from gateway.signing.errors import (
    AlgorithmNotAllowedError,
    TokenVerificationError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    UntrustedKeyHeaderError,
)
from gateway.signing.models import KeyFamily, KeyState
from gateway.signing.services import KeyRing
from tests.gateway.signing.conftest import GRACE_SECONDS
from tests.support.clock import MovableClock

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS built by hand, the way an attacker would, not through the ring."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3, computed independently of joserfc: SHA-256 of the required members."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def kids_in(state: KeyState, ring: KeyRing) -> set[str]:
    return {k.kid for k in ring.all_keys() if k.state is state}


def published(ring: KeyRing) -> set[str]:
    return {k["kid"] for k in ring.jwks()["keys"]}


# --- initialise -------------------------------------------------------------------------


def test_construction_touches_no_disk_and_current_asks_for_init(tmp_path: Path) -> None:
    """The gateway builds its ring before init: nothing is created, and use says what to run."""
    folder = tmp_path / "pki"
    ring = KeyRing(folder / "signing-keys.json", SystemClock(), GRACE_SECONDS)
    assert not folder.exists()
    for use in (ring.current, ring.jwks, ring.rotate):
        with pytest.raises(ConfigurationError, match="run 'govconnect init'"):
            use()
    assert not folder.exists()


def test_initialise_is_idempotent_and_writes_a_0600_file_in_a_0700_folder(
    key_file: Path, clock: MovableClock
) -> None:
    ring = KeyRing(key_file, clock, GRACE_SECONDS)
    assert ring.initialise() is True
    written = key_file.read_bytes()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    assert ring.initialise() is False
    assert KeyRing(key_file, clock, GRACE_SECONDS).initialise() is False
    assert key_file.read_bytes() == written


def test_initialise_creates_a_current_and_a_next_key_of_each_family(ring: KeyRing) -> None:
    states = sorted((k.family.value, k.state.value) for k in ring.all_keys())
    assert states == [
        ("EC-P256", "current"),
        ("EC-P256", "next"),
        ("RSA-2048", "current"),
        ("RSA-2048", "next"),
    ]


def test_jwks_publishes_only_public_members_with_thumbprint_kids(ring: KeyRing) -> None:
    """RFC 7517 §4 public JWKs; kid is the RFC 7638 thumbprint; alg only on the EC keys."""
    keys = ring.jwks()["keys"]
    assert len(keys) == 4
    for jwk in keys:
        assert not PRIVATE_MEMBERS & jwk.keys()
        assert jwk["use"] == "sig"
        assert jwk["kid"] == rfc7638_thumbprint(jwk)
        if jwk["kty"] == "EC":
            assert (jwk["crv"], jwk["alg"]) == ("P-256", "ES256")
        else:
            assert jwk["kty"] == "RSA"
            assert "alg" not in jwk
            assert len(base64.urlsafe_b64decode(jwk["n"] + "==")) * 8 == 2048


# --- signing ------------------------------------------------------------------------------


def test_es256_tokens_carry_the_current_kid_and_verify_against_the_published_jwks(
    ring: KeyRing,
) -> None:
    """A relying party with only the JWKS (RFC 7517 §5) can check what the ring signs."""
    token = ring.sign({"sub": "abc"}, typ="JWT")
    header = ring.verify(token, algorithms=["ES256"])["header"]
    assert header == {"alg": "ES256", "kid": ring.current().kid, "typ": "JWT"}
    outside = jwt.decode(
        token, KeySet.import_key_set({"keys": ring.jwks()["keys"]}), algorithms=["ES256"]
    )
    assert outside.claims == {"sub": "abc"}


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_family_signs_rs256_and_ps256_with_one_key(ring: KeyRing, alg: str) -> None:
    token = ring.sign({"sub": "abc"}, alg=alg)
    verified = ring.verify(token, algorithms=[alg])
    assert verified["header"]["alg"] == alg
    assert verified["header"]["kid"] == ring.current(alg).kid == ring.current("RS256").kid
    assert ring.current(alg).family is KeyFamily.RSA_2048
    assert verified["claims"] == {"sub": "abc"}


def test_rs256_token_is_refused_where_only_ps256_is_allowed(ring: KeyRing) -> None:
    """Sharing a key does not make the algorithms interchangeable (RFC 8725 §3.1)."""
    token = ring.sign({"sub": "abc"}, alg="RS256")
    with pytest.raises(AlgorithmNotAllowedError):
        ring.verify(token, algorithms=["PS256"])


def test_sign_refuses_an_algorithm_without_a_key_family(ring: KeyRing) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        ring.sign({"sub": "abc"}, alg="HS256")


def test_sign_keeps_alg_kid_and_typ_for_itself(ring: KeyRing) -> None:
    """A caller cannot put a header in that names another key or algorithm."""
    for name in ("alg", "kid", "typ"):
        with pytest.raises(ValueError, match=name):
            ring.sign({"sub": "abc"}, headers={name: "x"})
    token = ring.sign({"sub": "abc"}, headers={"cty": "receipt"})
    assert ring.verify(token, algorithms=["ES256"])["header"]["cty"] == "receipt"


# --- verification refuses forgeries -------------------------------------------------------


def test_verify_refuses_alg_none(ring: KeyRing) -> None:
    token = forge({"alg": "none", "kid": ring.current().kid}, {"sub": "admin"}, lambda _: b"")
    with pytest.raises(AlgorithmNotAllowedError):
        ring.verify(token, algorithms=["ES256"])


def test_verify_refuses_hs256_keyed_with_the_public_key(ring: KeyRing) -> None:
    """The classic key-confusion forgery: HMAC with the published public key as the secret."""
    public_pem = ring.current().key.as_pem(private=False)
    token = forge(
        {"alg": "HS256", "kid": ring.current().kid},
        {"sub": "admin"},
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )
    with pytest.raises(AlgorithmNotAllowedError):
        ring.verify(token, algorithms=["ES256"])


def test_verify_will_not_run_with_an_allow_list_it_cannot_honour(ring: KeyRing) -> None:
    """An empty list would fall back to library defaults; HS256 has no key in the ring."""
    token = ring.sign({"sub": "abc"})
    for algorithms in ([], ["ES256", "HS256"]):
        with pytest.raises(ValueError, match="algorithms"):
            ring.verify(token, algorithms=algorithms)


def test_verify_refuses_an_unknown_kid(ring: KeyRing) -> None:
    stranger = ECKey.generate_key("P-256")
    token = jws.serialize_compact({"alg": "ES256", "kid": "nobody"}, b'{"sub":"admin"}', stranger)
    with pytest.raises(UnknownKeyError):
        ring.verify(token, algorithms=["ES256"])


def test_verify_refuses_a_token_that_carries_its_own_jwk(ring: KeyRing) -> None:
    """RFC 8725 §3.10: the key comes from the ring by kid, never from the token."""
    stranger = ECKey.generate_key("P-256")
    header = {"alg": "ES256", "kid": ring.current().kid, "jwk": stranger.as_dict(private=False)}
    token = jws.serialize_compact(header, b'{"sub":"admin"}', stranger)
    with pytest.raises(UntrustedKeyHeaderError):
        ring.verify(token, algorithms=["ES256"])


def test_verify_refuses_an_es256_token_naming_the_rsa_kid(ring: KeyRing) -> None:
    """The alg must suit the family of the key the kid names."""
    stranger = ECKey.generate_key("P-256")
    header = {"alg": "ES256", "kid": ring.current("RS256").kid}
    token = jws.serialize_compact(header, b'{"sub":"admin"}', stranger)
    with pytest.raises(AlgorithmNotAllowedError):
        ring.verify(token, algorithms=["ES256", "RS256"])


def test_verify_refuses_a_tampered_payload(ring: KeyRing) -> None:
    header, _, signature = ring.sign({"sub": "citizen"}).split(".")
    tampered = f"{header}.{b64url(json.dumps({'sub': 'admin'}).encode())}.{signature}"
    with pytest.raises(TokenVerificationError) as caught:
        ring.verify(tampered, algorithms=["ES256"])
    assert caught.type is TokenVerificationError


def test_verify_refuses_what_is_not_a_compact_jws(ring: KeyRing) -> None:
    with pytest.raises(TokenVerificationError):
        ring.verify("not.a-token", algorithms=["ES256"])


# --- rotation -----------------------------------------------------------------------------


def test_next_key_becomes_current_on_rotation(ring: KeyRing) -> None:
    """The kid relying parties cached as next is the one that signs after the rotation."""
    announced = {k.family: k.kid for k in ring.all_keys() if k.state is KeyState.NEXT}
    result = ring.rotate()
    assert set(result.current) == set(announced.values())
    assert ring.current("ES256").kid == announced[KeyFamily.EC_P256]
    assert ring.current("PS256").kid == announced[KeyFamily.RSA_2048]
    token = ring.sign({"sub": "abc"})
    assert ring.verify(token, algorithms=["ES256"])["header"]["kid"] == announced[KeyFamily.EC_P256]
    assert set(result.next) == kids_in(KeyState.NEXT, ring)
    assert not set(result.next) & set(announced.values())


def test_token_signed_before_rotation_verifies_while_its_key_is_retiring(
    ring: KeyRing, clock: MovableClock
) -> None:
    token = ring.sign({"sub": "abc"})
    old = {ring.current("ES256").kid, ring.current("RS256").kid}
    result = ring.rotate()
    assert set(result.retiring) == old
    assert result.archived == ()
    clock.advance(seconds=GRACE_SECONDS - 1)
    assert ring.verify(token, algorithms=["ES256"])["claims"] == {"sub": "abc"}
    assert published(ring) == (kids_in(KeyState.CURRENT, ring) | kids_in(KeyState.NEXT, ring) | old)
    assert len(published(ring)) == 6


def test_after_grace_and_another_rotation_the_old_key_is_archived(
    ring: KeyRing, clock: MovableClock
) -> None:
    """Gone from the JWKS and from verification, but kept public for offline receipts."""
    token = ring.sign({"sub": "abc"})
    old_kid = ring.current().kid
    old_jwk = next(k for k in ring.jwks()["keys"] if k["kid"] == old_kid)
    ring.rotate()
    clock.advance(seconds=GRACE_SECONDS + 1)
    assert old_kid not in published(ring)
    result = ring.rotate()
    assert old_kid in result.archived
    assert old_kid not in published(ring)
    with pytest.raises(UnknownKeyError):
        ring.verify(token, algorithms=["ES256"])
    archived = ring.archive()["keys"]
    assert old_jwk in archived
    assert all(not PRIVATE_MEMBERS & k.keys() for k in archived)
    offline = jwt.decode(
        token, KeySet.import_key_set({"keys": ring.archive()["keys"]}), algorithms=["ES256"]
    )
    assert offline.claims == {"sub": "abc"}


def test_retiring_keys_still_in_grace_are_not_archived(ring: KeyRing, clock: MovableClock) -> None:
    first = ring.rotate()
    clock.advance(seconds=GRACE_SECONDS // 2)
    second = ring.rotate()
    assert second.archived == ()
    assert set(first.retiring) < set(second.retiring)
    assert len(second.retiring) == 4


# --- several processes --------------------------------------------------------------------


def test_a_second_ring_on_the_same_file_sees_a_rotation(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    """Another worker process's ring picks up the new current key from the file."""
    worker = KeyRing(key_file, clock, GRACE_SECONDS, recheck_seconds=0)
    assert worker.current().kid == ring.current().kid
    result = ring.rotate()
    assert worker.current().kid == result.current[0]
    assert published(worker) == published(ring)


def test_a_second_ring_verifies_a_kid_it_has_never_seen_without_waiting(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    """An unknown kid forces a fresh look at the file, so no worker refuses a new key."""
    worker = KeyRing(key_file, clock, GRACE_SECONDS, recheck_seconds=3600)
    before = worker.current().kid
    ring.rotate()
    ring.rotate()
    token = ring.sign({"sub": "abc"})
    assert ring.current().kid != before
    assert worker.verify(token, algorithms=["ES256"])["claims"] == {"sub": "abc"}


def test_concurrent_rotations_lose_no_key(
    ring: KeyRing, key_file: Path, clock: MovableClock
) -> None:
    """The file lock serialises read-modify-write: every rotation's keys survive."""
    rings = [KeyRing(key_file, clock, GRACE_SECONDS) for _ in range(2)]
    rotations_each = 3
    errors: list[BaseException] = []

    def rotate_repeatedly(worker: KeyRing) -> None:
        try:
            for _ in range(rotations_each):
                worker.rotate()
        except BaseException as exc:  # a thread cannot raise into the test; report it here
            errors.append(exc)

    threads = [threading.Thread(target=rotate_repeatedly, args=(w,)) for w in rings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rotations = rotations_each * len(rings)
    checker = KeyRing(key_file, clock, GRACE_SECONDS)
    assert len(checker.all_keys()) == 4 + 2 * rotations
    assert len(kids_in(KeyState.RETIRING, checker)) == 2 * rotations


def test_a_deleted_key_file_stops_signing_with_advice(ring: KeyRing, key_file: Path) -> None:
    """Fail closed: without its file the ring does not keep signing from memory for long."""
    worker = KeyRing(key_file, SystemClock(), GRACE_SECONDS, recheck_seconds=0)
    worker.current()
    key_file.unlink()
    with pytest.raises(ConfigurationError, match="govconnect init"):
        worker.current()


# --- the ES256 signing path ---------------------------------------------------------------


def _segments(token: str) -> list[str]:
    return token.split(".")


def test_es256_tokens_are_the_bytes_joserfc_would_sign(ring: KeyRing) -> None:
    """The ring signs ES256 straight through cryptography; the header and payload are
    byte for byte those of joserfc's general path, and the signature is the raw 64-byte
    r ‖ s of RFC 7518 §3.4 that any JOSE library verifies."""
    claims = {"sub": "abc", "name": "Siân Ó Dálaigh", "amr": ["pwd", "otp"], "cnf": {"jkt": "x"}}
    token = ring.sign(claims, typ="at+jwt")
    key = ring.current()
    general = jwt.encode(
        {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key.key, default_type=None
    )
    assert _segments(token)[:2] == _segments(general)[:2]
    assert len(base64.urlsafe_b64decode(_segments(token)[2] + "==")) == 64
    public = KeySet.import_key_set({"keys": ring.jwks()["keys"]})
    assert jwt.decode(token, public, algorithms=["ES256"]).claims == claims


def test_es256_signing_moves_to_the_new_key_after_a_rotation(ring: KeyRing) -> None:
    before = ring.sign({"sub": "abc"}, typ="JWT")
    ring.rotate()
    after = ring.sign({"sub": "abc"}, typ="JWT")
    kids = [ring.verify(t, algorithms=["ES256"])["header"]["kid"] for t in (before, after)]
    assert kids[0] != kids[1] and kids[1] == ring.current().kid
