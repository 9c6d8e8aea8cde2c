"""The sender's own signature (DESIGN.md §3.3): a sender holding a registered key sends a
detached JWS (RFC 7515 Appendix F) over the payload bytes it can compute before submitting;
the gateway verifies it with the client's registered keys and the envelope carries both
signatures in the general JSON serialization (RFC 7515 §7.2.1), verifiable with joserfc
alone. A forged, misdirected or key-carrying signature is refused; removing or swapping the
sender's signature in an envelope is caught."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from joserfc.jws import GeneralJSONSerialization

from gateway.delivery.envelope import ENVELOPE_REGISTRY, b64url, open_envelope, unb64url
from gateway.delivery.errors import EnvelopeVerificationError
from gateway.runtime import Runtime
from tests.gateway.delivery.support import (
    Exchange,
    detached_signature,
    exchange,
    payload_for,
    submit,
)
from tests.gateway.delivery.test_attachments import PDF
from tests.gateway.tokens.support import new_ec_key


@pytest.fixture
async def ex(http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]) -> Exchange:
    return await exchange(
        http, runtime, admin_headers, attachment_types=["application/pdf"], max_attachments=1
    )


async def _signed_envelope(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> tuple[dict[str, Any], dict[str, Any]]:
    files = [("scan.pdf", PDF, "application/pdf")]
    request = ex.request(reference="REF-9")
    payload = payload_for(runtime.settings.issuer, ex.sender, request, files)
    request["sender_signature"] = detached_signature(ex.sender.kit, payload)
    response = await submit(http, ex.sender.headers, request, files=files)
    assert response.status_code == 202, response.text
    stored = await runtime.delivery.submissions.stored(response.json()["id"])
    assert stored is not None
    return response.json(), stored.envelope


async def test_the_envelope_carries_the_senders_and_the_gateways_signatures(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    answer, envelope = await _signed_envelope(http, runtime, ex)
    jwks = (await http.get("/.well-known/jwks.json")).json()
    opened = open_envelope(envelope, jwks)
    assert opened.sender_signed and len(opened.verified_kids) == 2
    assert opened.payload_sha256 == answer["payload_sha256"]
    assert opened.facts["sender_key"]["kid"] == ex.sender.kit.kid
    # Independently: joserfc checks both members over the same payload, given the gateway's
    # published keys and the sender's registered key.
    sender_jwk = ex.sender.kit.client.jwks["keys"][0]  # type: ignore[index]
    keys = KeySet.import_key_set({"keys": [*jwks["keys"], sender_jwk]})
    general: GeneralJSONSerialization = {
        "payload": envelope["payload"],
        "signatures": envelope["signatures"],
    }
    verified = jws.deserialize_json(general, keys, registry=ENVELOPE_REGISTRY)
    assert json.loads(verified.payload)["reference"] == "REF-9"
    receipt = jws.deserialize_compact(answer["receipt"], KeySet.import_key_set(jwks))
    assert json.loads(receipt.payload)["sender_signed"] is True


async def test_a_signature_over_other_bytes_or_by_another_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    request = ex.request()
    payload = payload_for(runtime.settings.issuer, ex.sender, request)
    for signature in (
        # The sender signed a different body than it sent.
        detached_signature(
            ex.sender.kit,
            payload_for(
                runtime.settings.issuer, ex.sender, ex.request(body={**request["body"], "x": 1})
            ),
        ),
        # Signed by a key that is not registered for the client.
        detached_signature(ex.sender.kit, payload, key=new_ec_key()),
        # Not detached: the payload is inside.
        detached_signature(ex.sender.kit, payload).replace("..", f".{b64url(payload)}."),
        "not-a-jws",
    ):
        refused = await submit(http, ex.sender.headers, {**request, "sender_signature": signature})
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"] == "urn:govconnect:problem:sender-signature-invalid"


async def test_a_signature_carrying_its_own_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    request = ex.request()
    payload = payload_for(runtime.settings.issuer, ex.sender, request)
    attacker = new_ec_key()
    header = {
        "alg": "ES256",
        "typ": "submission+jws",
        "jwk": attacker.as_dict(private=False),
    }
    compact = jws.serialize_compact(header, payload, attacker)
    protected, _, signature = compact.split(".")
    refused = await submit(
        http, ex.sender.headers, {**request, "sender_signature": f"{protected}..{signature}"}
    )
    assert refused.status_code == 400
    assert refused.json()["type"] == "urn:govconnect:problem:sender-signature-invalid"


async def test_another_clients_signature_does_not_pass_for_the_senders(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    """The recipient's registered key signs over the sender's payload: refused, because
    only the sending client's own keys count."""
    request = ex.request()
    payload = payload_for(runtime.settings.issuer, ex.sender, request)
    forged = detached_signature(ex.recipient.kit, payload)
    refused = await submit(http, ex.sender.headers, {**request, "sender_signature": forged})
    assert refused.status_code == 400


async def test_removing_or_changing_the_senders_signature_breaks_the_envelope(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    _, envelope = await _signed_envelope(http, runtime, ex)
    jwks = (await http.get("/.well-known/jwks.json")).json()
    removed = {**envelope, "signatures": envelope["signatures"][:1]}
    with pytest.raises(EnvelopeVerificationError, match="sender"):
        open_envelope(removed, jwks)
    changed = copy.deepcopy(envelope)
    sender_member = changed["signatures"][1]
    raw = bytearray(unb64url(sender_member["signature"]))
    raw[0] ^= 1
    sender_member["signature"] = b64url(bytes(raw))
    with pytest.raises(EnvelopeVerificationError, match="sender"):
        open_envelope(changed, jwks)
    # An extra signature by a key nobody vouches for is not ignored either.
    unsigned = (await submit(http, ex.sender.headers, ex.request())).json()
    stored = await runtime.delivery.submissions.stored(unsigned["id"])
    assert stored is not None
    smuggled = {
        **stored.envelope,
        "signatures": [*stored.envelope["signatures"], envelope["signatures"][1]],
    }
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(smuggled, jwks)
