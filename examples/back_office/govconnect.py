"""GovConnect as this back office sees it: its API (as a client credentials client with
``private_key_jwt``, RFC 7523 §2.2) and the checks of what it sends, made with standard
libraries only (``standardwebhooks`` and ``joserfc``), never with GovConnect's own code.

Checks, as docs/receiving-submissions.md describes them:

- a push: the Standard Webhooks signature over ``{webhook-id}.{webhook-timestamp}.{body}``
  and a timestamp within five minutes (:func:`verify_push`);
- the envelope (RFC 7515 §7.2.1): the gateway's ES256 signature by a key of its published
  JWK Set; the gateway's facts (submission id, time, the citizen's subject) in that
  signature's protected header; and, when the gateway names the sender's key there, the
  sender's own signature over the same payload (:func:`open_envelope`);
- each attachment's SHA-256 and size against the envelope's list (:func:`check_file`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jws import GeneralJSONSerialization, JWSRegistry
from joserfc.registry import HeaderParameter
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ENVELOPE_TYPE = "submission+jws"
SENDER_ALGORITHMS = ["ES256", "PS256", "RS256", "EdDSA"]
JWKS_REFRESH_SECONDS = 10.0


class RefusedError(Exception):
    """Something GovConnect sent (or seems to have sent) does not check out."""


def _facts_parameter(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError("must be an object")


def _registry(algorithms: list[str]) -> JWSRegistry:
    """joserfc's checks, told of the gateway's facts (a header parameter of its own, RFC 7515
    §4.3) and with room for them (joserfc's default header limit is 512 bytes) and for a
    large form (its default payload limit is 128,000 bytes)."""
    registry = JWSRegistry(
        header_registry={"submission": HeaderParameter("GovConnect facts", _facts_parameter)},
        algorithms=algorithms,
    )
    registry.max_header_length = 4096
    registry.max_payload_length = 2 * 1024 * 1024
    return registry


_GATEWAY_ONLY = _registry(["ES256"])
_WITH_SENDER = _registry(SENDER_ALGORITHMS)


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified envelope: the payload, the gateway's facts, the payload's digest."""

    content: dict[str, Any]
    facts: dict[str, Any]
    payload_sha256: str

    @property
    def id(self) -> str:
        return str(self.facts["id"])

    @property
    def sender_signed(self) -> bool:
        return "sender_key" in self.facts


def verify_push(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The event of a signed push; :class:`RefusedError` for a bad signature or an old
    (replayed) timestamp."""
    try:
        event = Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as exc:
        raise RefusedError(f"webhook signature: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise RefusedError("not a submission event")
    return event


def open_envelope(envelope: Mapping[str, Any], jwks: Mapping[str, Any]) -> Opened:
    """Verify every signature of ``envelope``: the gateway's by ``jwks``, and the sender's
    by the key the gateway's (verified) header names. :class:`RefusedError` otherwise."""
    try:
        gateway_keys = KeySet.import_key_set({"keys": list(jwks["keys"])})
        signatures = list(envelope["signatures"])
        kids = {key.kid for key in gateway_keys}
        headers = [json.loads(_unb64(str(s["protected"]))) for s in signatures]
        ours = [i for i, h in enumerate(headers) if h.get("kid") in kids]
        if len(ours) != 1 or headers[ours[0]].get("typ") != ENVELOPE_TYPE:
            raise RefusedError("exactly one signature must be the gateway's")
        gateway_member = signatures[ours[0]]
        jws.deserialize_json(
            {
                "payload": envelope["payload"],
                "protected": gateway_member["protected"],
                "signature": gateway_member["signature"],
            },
            gateway_keys,
            registry=_GATEWAY_ONLY,
        )
        facts = dict(headers[ours[0]]["submission"])
        keys = [key.as_dict(private=False) for key in gateway_keys]
        expected = 1
        if "sender_key" in facts:
            keys.append(facts["sender_key"])
            expected = 2
        if len(signatures) != expected:
            raise RefusedError("a signature by a key the gateway does not vouch for")
        general: GeneralJSONSerialization = {
            "payload": envelope["payload"],
            "signatures": signatures,
        }
        verified = jws.deserialize_json(
            general, KeySet.import_key_set({"keys": keys}), registry=_WITH_SENDER
        )
    except (JoseError, KeyError, TypeError, ValueError) as exc:
        raise RefusedError(f"envelope: {type(exc).__name__} {exc}") from None
    return Opened(json.loads(verified.payload), facts, hashlib.sha256(verified.payload).hexdigest())


def check_file(listed: Mapping[str, Any], content: bytes) -> None:
    """An attachment is the one the signed envelope lists, byte for byte."""
    if hashlib.sha256(content).hexdigest() != listed["sha256"] or len(content) != listed["size"]:
        raise RefusedError(f"attachment {listed['name']!r} does not match its digest")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GovConnect:
    """The submissions API, called with a client credentials token obtained by
    ``private_key_jwt`` and renewed before it expires."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        key: ECKey,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10, transport=transport)
        self._client_id = client_id
        self._key = key
        self._issuer: str | None = None
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0
        self._token: tuple[str, float] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def issuer(self) -> str:
        if self._issuer is None:
            found = await self._http.get("/.well-known/openid-configuration")
            found.raise_for_status()
            self._issuer = str(found.json()["issuer"])
        return self._issuer

    async def jwks(self, *, refresh: bool = False) -> dict[str, Any]:
        """The gateway's published keys with the archive of retired ones, cached; fetched
        again on ``refresh`` (an unknown kid), at most every ten seconds."""
        stale = refresh and time.monotonic() - self._jwks_at > JWKS_REFRESH_SECONDS
        if self._jwks is None or stale:
            current = await self._http.get("/.well-known/jwks.json")
            archive = await self._http.get("/pki/signing-keys-archive.json")
            current.raise_for_status()
            retired = archive.json().get("keys", []) if archive.status_code == 200 else []
            self._jwks = {"keys": [*current.json()["keys"], *retired]}
            self._jwks_at = time.monotonic()
        return self._jwks

    async def open(self, envelope: Mapping[str, Any]) -> Opened:
        try:
            return open_envelope(envelope, await self.jwks())
        except RefusedError:
            return open_envelope(envelope, await self.jwks(refresh=True))

    async def _bearer(self) -> str:
        if self._token is not None and self._token[1] > time.time() + 30:
            return self._token[0]
        now = int(time.time())
        assertion = jwt.encode(
            {"alg": "ES256", "kid": self._key.kid},
            {
                "iss": self._client_id,
                "sub": self._client_id,
                "aud": await self.issuer(),
                "jti": str(uuid.uuid4()),
                "iat": now,
                "exp": now + 60,
            },
            self._key,
        )
        answer = await self._http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        answer.raise_for_status()
        token = answer.json()
        self._token = (str(token["access_token"]), now + int(token["expires_in"]))
        return self._token[0]

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self._bearer()}"}
        answer = await self._http.request(method, path, headers=headers, **kwargs)
        answer.raise_for_status()
        return answer

    async def inbox(self, after: str) -> dict[str, Any]:
        found = await self._call("GET", "/api/v1/inbox", params={"after": after})
        return dict(found.json())

    async def envelope(self, submission_id: str) -> dict[str, Any]:
        return dict(
            (await self._call("GET", f"/api/v1/submissions/{submission_id}/envelope")).json()
        )

    async def attachment(self, submission_id: str, sha256: str) -> bytes:
        path = f"/api/v1/submissions/{submission_id}/attachments/{sha256}"
        return (await self._call("GET", path)).content

    async def acknowledge(self, submission_id: str, payload_sha256: str) -> None:
        """Acknowledge receipt with a JWS signed by this back office's own key."""
        acknowledgement = jwt.encode(
            {"alg": "ES256", "kid": self._key.kid, "typ": "ack+jwt"},
            {
                "iss": self._client_id,
                "aud": await self.issuer(),
                "iat": int(time.time()),
                "submission": submission_id,
                "payload_sha256": payload_sha256,
            },
            self._key,
        )
        await self._call(
            "POST",
            f"/api/v1/submissions/{submission_id}/acknowledgement",
            json={"acknowledgement": acknowledgement},
        )

    async def respond(self, submission_id: str, case_reference: str) -> None:
        """Answer: accepted, with the case reference. A second answer is refused (400) by
        the gateway; the first stands, so that refusal means done."""
        headers = {"Authorization": f"Bearer {await self._bearer()}"}
        answer = await self._http.post(
            f"/api/v1/submissions/{submission_id}/response",
            json={"outcome": "accepted", "case_reference": case_reference},
            headers=headers,
        )
        if answer.status_code != 400 or "answered already" not in answer.text:
            answer.raise_for_status()
