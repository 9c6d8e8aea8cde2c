"""Property-based fuzzing of every JWS/JWT the gateway accepts from outside: client assertions
(RFC 7523), DPoP proofs (RFC 9449), request objects (RFC 9101), ``id_token_hint``
(RP-Initiated Logout §2), delivery envelopes (RFC 7515 §7.2), acknowledgements and the offline
document checker.

Each input is garbage, forged, or validly signed by a key the gateway knows around a header
and claims that are almost right. Whatever it is, the parser answers or refuses with a domain
error of a 4xx category, with bounded memory (:func:`refused_or_accepted`); and no
forged or unsigned token is ever accepted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, KeySet

from gateway.authorize.request_objects import RequestObjects
from gateway.delivery.envelope import open_envelope, verify_acknowledgement, verify_document
from gateway.logout.models import LogoutRequest
from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.fuzz import strategies as hostile
from tests.fuzz.support import refused_or_accepted
from tests.gateway.clients.support import new_organisation
from tests.gateway.tokens.support import Kit, key_client, new_ec_key

# The attacker's own key: anything it signs must be refused.
ATTACKER = ECKey.generate_key("P-256")
# The registered client's key, which makes signatures the gateway can verify.
CLIENT_KEY = ECKey.generate_key("P-256")


@dataclass(frozen=True)
class Target:
    runtime: Runtime
    kit: Kit

    @property
    def issuer(self) -> str:
        return self.runtime.settings.issuer


@pytest.fixture(scope="module")
async def target(runtime: Runtime) -> Target:
    org = await new_organisation(runtime)
    kit = await key_client(runtime, org, key=CLIENT_KEY, grant_types=["authorization_code"])
    return Target(runtime, kit)


def _assertion_claims(client_id: str, audience: str) -> dict[str, Any]:
    return {"iss": client_id, "sub": client_id, "aud": audience, "jti": str(uuid.uuid4())}


any_key = st.sampled_from([CLIENT_KEY, ATTACKER])


@st.composite
def client_assertions(draw: st.DrawFn, client_id: str, audience: str) -> str:
    key = draw(any_key)
    header = {"alg": "ES256", "kid": "key-1"}
    return draw(hostile.tokens(key, header, _assertion_claims(client_id, audience)))


@given(data=st.data())
async def test_client_assertion_is_refused_or_genuine(target: Target, data: st.DataObject) -> None:
    """RFC 7523 §3: only an assertion signed by the client's registered key, with its claims
    right, authenticates; nothing else gets further than ``invalid_client``."""
    endpoint = target.issuer + "/token"
    token = data.draw(client_assertions(target.kit.client_id, endpoint))
    form = {
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": token,
        "client_id": data.draw(st.sampled_from([target.kit.client_id, "other", ""])),
    }
    accepted: list[Any] = []

    async def call() -> None:
        accepted.append(
            await target.runtime.client_auth.authenticate(form, None, endpoint=endpoint)
        )

    if await refused_or_accepted(call) is None:
        assert accepted[0].client_id == target.kit.client_id


@given(data=st.data())
async def test_dpop_proof_is_refused_or_genuine(target: Target, data: st.DataObject) -> None:
    """RFC 9449 §4.3: a proof is accepted only when signed by the key in its own ``jwk``
    header, for this method and URL, fresh and unused."""
    url = target.issuer + "/token"
    key = data.draw(st.sampled_from([new_ec_key(), ATTACKER]))
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)}
    claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": url}
    proof = data.draw(hostile.tokens(key, header, claims))
    await refused_or_accepted(
        lambda: target.runtime.tokens.dpop.verify(proof, method="POST", url=url)
    )


@given(data=st.data())
async def test_request_object_is_refused_or_genuine(target: Target, data: st.DataObject) -> None:
    """RFC 9101 §6: only a request object signed by the client's key, ``iss`` the client and
    ``aud`` the issuer, opens; anything else is ``invalid_request_object``."""
    objects = RequestObjects(target.runtime.client_keys, target.runtime.clock, issuer=target.issuer)
    claims = {
        "iss": target.kit.client_id,
        "aud": target.issuer,
        "client_id": target.kit.client_id,
        "response_type": "code",
        "scope": "openid",
    }
    key = data.draw(any_key)
    token = data.draw(hostile.tokens(key, {"alg": "ES256", "kid": "key-1"}, claims))
    await refused_or_accepted(lambda: objects.open(token, target.kit.client))


@given(data=st.data())
async def test_id_token_hint_is_refused_unless_the_gateway_signed_it(
    target: Target, data: st.DataObject
) -> None:
    """RP-Initiated Logout §2: a hint the gateway did not sign never names a session."""
    claims = {"iss": target.issuer, "aud": target.kit.client_id, "sub": "someone"}
    token = data.draw(hostile.tokens(ATTACKER, {"alg": "ES256", "typ": "JWT"}, claims))
    client_id = data.draw(st.one_of(st.none(), st.just(target.kit.client_id), st.text(max_size=80)))
    refused = await refused_or_accepted(
        lambda: target.runtime.logout.plan(LogoutRequest(id_token_hint=token, client_id=client_id))
    )
    assert refused is not None


def _gateway_jwks(target: Target) -> dict[str, Any]:
    return target.runtime.keys.jwks()


@given(envelope=st.one_of(hostile.json_values, hostile.envelopes()))
async def test_envelope_is_refused_unless_the_gateway_signed_it(
    target: Target, envelope: Any
) -> None:
    """RFC 7515 §7.2.1: an envelope opens only with the gateway's own valid signature."""
    refused = await refused_or_accepted(
        _sync(lambda: open_envelope(envelope, _gateway_jwks(target)))
    )
    assert refused is not None


@given(text=st.one_of(hostile.hostile_json_text, hostile.unsigned_segments()))
async def test_document_checker_refuses_what_it_cannot_verify(target: Target, text: str) -> None:
    """The offline checker (``govconnect delivery verify``) refuses, never crashes."""
    refused = await refused_or_accepted(_sync(lambda: verify_document(text, _gateway_jwks(target))))
    assert refused is not None


@given(data=st.data())
async def test_acknowledgement_is_refused_or_genuine(target: Target, data: st.DataObject) -> None:
    """A recipient's acknowledgement counts only when signed by its registered key and naming
    exactly the submission and digest delivered."""
    claims = {
        "iss": target.kit.client_id,
        "aud": target.issuer,
        "submission": "sbm_1",
        "payload_sha256": "0" * 64,
    }
    key = data.draw(any_key)
    token = data.draw(
        hostile.tokens(key, {"alg": "ES256", "kid": "key-1", "typ": "ack+jwt"}, claims)
    )
    keys = KeySet.import_key_set({"keys": [{**CLIENT_KEY.as_dict(private=False), "kid": "key-1"}]})
    await refused_or_accepted(
        _sync(
            lambda: verify_acknowledgement(
                token,
                keys,
                client_id=target.kit.client_id,
                audience=target.issuer,
                submission_id="sbm_1",
                payload_sha256="0" * 64,
                now=int(target.runtime.clock.now().timestamp()),
            )
        )
    )


def _sync(function: Any) -> Any:
    async def call() -> None:
        function()

    return call
