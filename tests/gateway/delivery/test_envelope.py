"""The envelope (RFC 7515 §7.2.1 general JSON serialization) and the receipt verify with an
independent JOSE library against the published JWKS, and fail after one changed byte; the
same checks run offline in ``govconnect verify`` (tests/gateway/cli/test_delivery.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from joserfc.jws import GeneralJSONSerialization, GeneralJSONSignature, JWSRegistry
from joserfc.registry import HeaderParameter

from gateway.delivery.envelope import (
    ENVELOPE_REGISTRY,
    b64url,
    open_envelope,
    unb64url,
    verify_document,
)
from gateway.delivery.errors import EnvelopeVerificationError
from gateway.runtime import Runtime
from tests.gateway.delivery.support import exchange, submit


@pytest.fixture
async def sent(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the submit answer, the stored envelope) of one submission."""
    ex = await exchange(http, runtime, admin_headers)
    answer = (await submit(http, ex.sender.headers, ex.request())).json()
    stored = await runtime.delivery.submissions.stored(answer["id"])
    assert stored is not None
    return answer, stored.envelope


def _flip(text: str, index: int) -> str:
    """``text`` with one character changed at ``index``, keeping it base64url."""
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


async def test_the_envelope_verifies_with_joserfc_alone(
    http: httpx.AsyncClient, sent: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    answer, envelope = sent
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    general: GeneralJSONSerialization = {
        "payload": envelope["payload"],
        "signatures": envelope["signatures"],
    }
    # The gateway's facts sit in its protected header under "submission" (RFC 7515 §4.3), a
    # parameter joserfc checks once it is told of it.
    registry = JWSRegistry(
        header_registry={"submission": HeaderParameter("GovConnect facts", lambda _: None)},
        algorithms=["ES256"],
    )
    verified = jws.deserialize_json(general, keys, registry=registry)
    assert isinstance(verified, GeneralJSONSignature)
    header = verified.members[0].protected
    assert header is not None
    assert header["submission"]["id"] == answer["id"]
    assert json.loads(verified.payload)["body"]["name"] == "Ada Lovelace"
    assert set(envelope) == {"payload", "signatures"}
    assert header["typ"] == "submission+jws" and header["alg"] == "ES256"


async def test_one_changed_byte_of_the_payload_breaks_the_envelope(
    http: httpx.AsyncClient, sent: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, envelope = sent
    jwks = (await http.get("/.well-known/jwks.json")).json()
    raw = bytearray(unb64url(envelope["payload"]))
    raw[raw.index(b"Ada")] = ord("E")  # one byte of the citizen's name
    tampered: GeneralJSONSerialization = {
        "payload": b64url(bytes(raw)),
        "signatures": envelope["signatures"],
    }
    with pytest.raises(BadSignatureError):
        jws.deserialize_json(tampered, KeySet.import_key_set(jwks), registry=ENVELOPE_REGISTRY)
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(tampered, jwks)


async def test_one_changed_character_of_the_signature_or_header_breaks_the_envelope(
    http: httpx.AsyncClient, sent: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, envelope = sent
    jwks = (await http.get("/.well-known/jwks.json")).json()
    signature = copy.deepcopy(envelope)
    signature["signatures"][0]["signature"] = _flip(signature["signatures"][0]["signature"], 5)
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(signature, jwks)
    header = json.loads(unb64url(envelope["signatures"][0]["protected"]))
    swapped = copy.deepcopy(envelope)
    swapped["signatures"][0]["protected"] = b64url(json.dumps({**header, "alg": "none"}).encode())
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(swapped, jwks)


async def test_a_signature_carrying_its_own_key_is_not_trusted(
    http: httpx.AsyncClient, sent: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, envelope = sent
    jwks = (await http.get("/.well-known/jwks.json")).json()
    header = json.loads(unb64url(envelope["signatures"][0]["protected"]))
    carrying = copy.deepcopy(envelope)
    carrying["signatures"][0]["protected"] = b64url(
        json.dumps({**header, "jwk": jwks["keys"][0]}).encode()
    )
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(carrying, jwks)


async def test_an_envelope_signed_by_no_key_of_the_set_does_not_verify(
    sent: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, envelope = sent
    with pytest.raises(EnvelopeVerificationError):
        open_envelope(envelope, {"keys": []})


async def test_one_changed_character_breaks_the_receipt(
    http: httpx.AsyncClient, sent: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    answer, _ = sent
    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert verify_document(answer["receipt"], jwks).content["sub"] == answer["id"]
    header, payload, signature = answer["receipt"].split(".")
    for tampered in (
        f"{header}.{_flip(payload, 10)}.{signature}",
        f"{header}.{payload}.{_flip(signature, 3)}",
    ):
        with pytest.raises(EnvelopeVerificationError):
            verify_document(tampered, jwks)
