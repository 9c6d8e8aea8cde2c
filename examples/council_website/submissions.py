"""Sending a citizen's form to the council's back office through GovConnect, and following it.

As docs/receiving-submissions.md ("Submitting", "The envelope") spells it:

- the site computes the envelope's payload itself, before it submits: the canonical JSON
  (keys sorted, no spaces, UTF-8) of the issuer, sender, recipient, service, reference, body
  and each attachment's name, media type, size and SHA-256 (:func:`envelope_payload`);
- and signs it with its own key (the one registered for ``private_key_jwt``): a detached JWS,
  RFC 7515 Appendix F, ``typ`` ``submission+jws`` (:func:`detached_signature`), so the
  back office can prove the council sent exactly this, not only that GovConnect passed it on;
- it posts the submission as ``multipart/form-data`` (RFC 7578) with the citizen's access
  token (RFC 6750 §2.1) and an ``Idempotency-Key``, so a retry cannot make a second
  application;
- it checks GovConnect's signed receipt (``receipt+jwt``) and, later, the signed business
  response (``response+jwt``) against GovConnect's published keys, and that both name the
  SHA-256 of the very payload the site signed;
- a refusal is an RFC 9457 problem document: :class:`Refused` carries it, with advice on what
  the citizen can do next.

These functions use joserfc and httpx only, never GovConnect's own code: a council's site
would do the same with its own libraries.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key

from examples.council_website.keys import ALGORITHM
from examples.council_website.logout_tokens import JwksSource, decode_signed

ENVELOPE_TYPE = "submission+jws"
RECEIPT_TYPE = "receipt+jwt"
RESPONSE_TYPE = "response+jwt"
PROBLEM_PREFIX = "urn:govconnect:problem:"
TIMEOUT_SECONDS = 10.0

# An attachment as it is sent: (file name, content, media type), httpx's file tuple.
Upload = tuple[str, bytes, str]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def envelope_payload(
    issuer: str,
    organisation: str,
    client_id: str,
    request: Mapping[str, Any],
    files: Sequence[Upload] = (),
) -> bytes:
    """The exact bytes of the envelope's payload for ``request`` (the submission JSON:
    ``recipient``, ``service``, ``version``, ``reference``, ``body``) sent by ``client_id``
    of ``organisation`` with ``files``, as docs/receiving-submissions.md lists its members."""
    content = {
        "iss": issuer,
        "sender": {"organisation": organisation, "client_id": client_id},
        "recipient": {"organisation": request["recipient"]},
        "service": {"name": request["service"], "version": request["version"]},
        "reference": request.get("reference"),
        "body": request["body"],
        "attachments": [
            {"name": name, "media_type": media_type, "size": len(data), "sha256": sha256_hex(data)}
            for name, data, media_type in files
        ],
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def detached_signature(key: Key, payload: bytes, kid: str | None) -> str:
    """A detached JWS over ``payload`` (RFC 7515 Appendix F): ``<protected>..<signature>``,
    the payload part left empty because the envelope carries it."""
    header = {"alg": ALGORITHM, "kid": kid, "typ": ENVELOPE_TYPE}
    protected, _, signature = jws.serialize_compact(header, payload, key).split(".")
    return f"{protected}..{signature}"


# What the citizen can do next, by the problem GovConnect answered with.
ADVICE = {
    "insufficient-user-authentication": "This service needs you to have signed in with your "
    "authenticator app as well as your password. Sign out, then sign in again and use your "
    "authenticator app.",
    "invalid-token": "Your sign-in has ended. Sign in again, then send your application again.",
    "schema-validation-failed": "Go back and check your answers.",
    "attachment-refused": "Go back and choose a PDF file.",
    "submission-too-large": "Go back and choose a smaller file, or shorten your answers.",
    "idempotency-key-reused": "This form was sent already with other answers. Start a new "
    "application.",
}
ADVICE_OTHERWISE = (
    "The council cannot take applications online at the moment. Try again later, or phone "
    "the council and quote the reference below."
)


class Refused(Exception):  # noqa: N818 - read as "raise Refused(problem)"
    """GovConnect refused a call (an RFC 9457 problem document), or what it sent back did
    not check out."""

    def __init__(self, problem: Mapping[str, Any]) -> None:
        self.problem = dict(problem)
        super().__init__(self.detail)

    @property
    def status(self) -> int:
        status = self.problem.get("status")
        return status if isinstance(status, int) else 502

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).removeprefix(PROBLEM_PREFIX)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "No detail given.")

    @property
    def advice(self) -> str:
        return ADVICE.get(self.slug, ADVICE_OTHERWISE)

    @classmethod
    def of(cls, response: httpx.Response) -> Refused:
        """The problem document of a refusal (RFC 9457 §3), or one made up for a body
        that is not one."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"title": f"GovConnect answered {response.status_code}"}
        return cls({"status": response.status_code, **body})

    @classmethod
    def unchecked(cls, what: str) -> Refused:
        """A signed document from GovConnect that failed a check."""
        return cls({"title": "A signed document did not check out", "status": 502, "detail": what})


@dataclass(frozen=True, slots=True)
class Application:
    """A citizen's application as this site remembers it: the submission id, the site's own
    reference, the SHA-256 of the payload it signed, and the receipt's claims (checked)."""

    id: str
    reference: str
    payload_sha256: str
    receipt: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Status:
    """``GET /api/v1/submissions/{id}`` as the citizen sees it; ``response_claims`` are the
    signed response's, checked, when the back office has answered."""

    view: dict[str, Any]
    response_claims: dict[str, Any] | None

    @property
    def state(self) -> str:
        return str(self.view.get("state", ""))

    @property
    def response(self) -> dict[str, Any] | None:
        response = self.view.get("response")
        return response if isinstance(response, dict) else None

    @property
    def timeline(self) -> list[dict[str, Any]]:
        return [e for e in self.view.get("timeline", []) if isinstance(e, dict)]


class Applications:
    """Each person's applications, by their ``sub`` (in memory, like the sessions): only the
    person who sent an application may look at it here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_person: dict[str, list[Application]] = {}

    def add(self, sub: str, application: Application) -> None:
        """Remember ``application`` for ``sub`` (once: a replayed submit answers with the
        same submission)."""
        with self._lock:
            mine = self._by_person.setdefault(sub, [])
            if all(a.id != application.id for a in mine):
                mine.insert(0, application)

    def of(self, sub: str) -> list[Application]:
        with self._lock:
            return list(self._by_person.get(sub, []))

    def find(self, sub: str, submission_id: str) -> Application | None:
        """The person's application ``submission_id``, or None.

        # NOTE: GovConnect shows a submission to any access token of the sending
        # organisation, so the site itself keeps one citizen from reading another's
        # (OWASP Top 10 A01, broken access control): only ids it recorded for this person.
        """
        return next((a for a in self.of(sub) if a.id == submission_id), None)


class Submissions:
    """GovConnect's submissions API, called by this site for a signed-in citizen."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        organisation_id: str,
        key: ECKey,
        jwks: JwksSource,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.organisation_id = organisation_id
        self._key = key
        self._jwks = jwks
        self._transport = transport

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.issuer, timeout=TIMEOUT_SECONDS, transport=self._transport
        )

    async def submit(
        self,
        access_token: str,
        request: dict[str, Any],
        files: Sequence[Upload],
        idempotency_key: str,
    ) -> Application:
        """Sign ``request`` and send it with ``files`` for the person whose
        ``access_token`` this is; the application, once GovConnect's receipt checked out
        for the very payload signed. A retry with the same ``idempotency_key`` gets the
        first answer (POST is not idempotent, RFC 9110 §9.2.2; the key makes a retry safe),
        however often the site signs again."""
        payload = envelope_payload(
            self.issuer, self.organisation_id, self.client_id, request, files
        )
        signed = {
            **request,
            "sender_signature": detached_signature(self._key, payload, self._key.kid),
        }
        async with self._http() as http:
            answer = await http.post(
                "/api/v1/submissions",
                data={"submission": json.dumps(signed)},
                files=[("attachment", upload) for upload in files],
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Idempotency-Key": idempotency_key,
                },
            )
        if answer.status_code != 202:
            raise Refused.of(answer)
        accepted = answer.json()
        submission_id = str(accepted["id"])
        receipt = await self._checked(accepted["receipt"], RECEIPT_TYPE, submission_id)
        digest = sha256_hex(payload)
        if receipt.get("payload_sha256") != digest:
            raise Refused.unchecked(
                "GovConnect's receipt is for another payload than the one sent."
            )
        return Application(submission_id, str(request.get("reference")), digest, receipt)

    async def status(self, access_token: str, application: Application) -> Status:
        """The submission's state, timeline and answer; the signed response checked."""
        async with self._http() as http:
            answer = await http.get(
                f"/api/v1/submissions/{application.id}",
                headers={"Authorization": f"Bearer {access_token}"},
            )
        if answer.status_code != 200:
            raise Refused.of(answer)
        view = dict(answer.json())
        if view.get("payload_sha256") != application.payload_sha256:
            raise Refused.unchecked("GovConnect holds another payload than the one sent.")
        response = view.get("response")
        claims = None
        if isinstance(response, dict):
            claims = await self._checked(str(response.get("signed")), RESPONSE_TYPE, application.id)
            signed = claims.get("response")
            if not isinstance(signed, dict) or any(
                response.get(name) != value for name, value in signed.items()
            ):
                raise Refused.unchecked("The response shown is not the one GovConnect signed.")
        return Status(view, claims)

    async def _checked(self, token: str, typ: str, submission_id: str) -> dict[str, Any]:
        """The claims of GovConnect's signed ``typ`` document (explicit typing, RFC 8725
        §3.11) about ``submission_id``, signed by a key of its JWK Set."""
        try:
            decoded = await decode_signed(token, self._jwks)
        except (JoseError, ValueError) as exc:
            raise Refused.unchecked(
                f"The {typ} is not signed by GovConnect ({type(exc).__name__})."
            ) from None
        claims = dict(decoded.claims)
        if decoded.header.get("typ") != typ:
            raise Refused.unchecked(f"Expected a {typ}, found {decoded.header.get('typ')!r}.")
        if claims.get("iss") != self.issuer or claims.get("sub") != submission_id:
            raise Refused.unchecked(f"The {typ} names another issuer or submission.")
        return claims


def new_form_key() -> str:
    """A fresh key for one application form: it stays in the form (a hidden field) so that
    sending the same form twice is one application."""
    return secrets.token_urlsafe(24)


def idempotency_key(sub: str, form_key: str) -> str:
    """The ``Idempotency-Key`` for the form ``form_key`` filled in by person ``sub``.

    # NOTE: GovConnect keeps keys per client (this whole site), and the form key comes back
    # from the browser; hashing in the person's ``sub`` means no one can replay someone
    # else's key to be handed their receipt.
    """
    return sha256_hex(f"{sub}\n{form_key}".encode())


def reference_for(form_key: str) -> str:
    """The council's own reference for the application of form ``form_key``: the same on a
    retry, so the retried request is the same request."""
    return f"DBC-{sha256_hex(form_key.encode())[:8].upper()}"


_EVENTS = {
    "accepted": "GovConnect accepted your application and gave the council a signed receipt",
    "queued": "Waiting to be delivered to the council's back office",
    "delivered": "Delivered to the council's back office",
    "acknowledged": "The back office confirmed it received your application (signed)",
    "responded": "The back office answered",
    "failed": "Could not be delivered; the council has been told",
}


def describe(event: Mapping[str, Any]) -> str:
    """A timeline entry of ``GET /api/v1/submissions/{id}`` in words."""
    name = str(event.get("event", ""))
    if name == "attempt":
        return f"Delivery attempt {event.get('attempt', '?')}: {event.get('outcome', '?')}"
    text = _EVENTS.get(name, name)
    if name == "delivered" and event.get("via") in ("push", "pull"):
        how = "sent by GovConnect" if event["via"] == "push" else "collected by the back office"
        text = f"{text} ({how})"
    if name == "responded" and event.get("outcome"):
        text = f"{text}: {event['outcome']}"
        if event.get("case_reference"):
            text = f"{text}, case reference {event['case_reference']}"
    return text
