"""A local stand-in for the GOV.UK Notify REST API v2, served over real HTTP on loopback.

It implements what the gateway uses, as Notify does it:

- ``POST /v2/notifications/email`` and ``POST /v2/notifications/sms``;
- authentication by a bearer JWT (``Authorization: Bearer <jwt>``): HS256, ``iss`` = the
  service id, ``iat`` within 30 seconds of now, signed with the secret of one of the
  service's API keys. An API key reads ``{key_name}-{service_id}-{secret}`` (two UUIDs at the
  end); the client sends only the JWT. The signature is checked with joserfc and an HS256
  OctKey under an algorithm allow-list of HS256 alone;
- Notify's schema checks (required fields, no other fields, ``template_id`` a UUID, an email
  address or a UK mobile number that looks right, ``personalisation`` an object) answered
  with 400 ``ValidationError``s, and Notify's template checks (a template of the service,
  of the right type, with every placeholder given) answered with 400 ``BadRequestError``s;
- error bodies ``{"errors": [{"error": …, "message": …}], "status_code": …}`` and, on
  success, 201 with the documented response (id, reference, content, uri, template).

Messages follow Notify's own (its API source and the client documentation). Placeholders
match as Notify matches them: case, spaces, hyphens and underscores aside. Every accepted
request is kept in :attr:`NotifyApiStandIn.received`, every refusal in
:attr:`NotifyApiStandIn.refused`. :meth:`NotifyApiStandIn.fail_next` makes the next
authenticated request fail (a 429 or a 500), as Notify does under load.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jws import extract_compact

CLOCK_SKEW_SECONDS = 30  # notifications_python_client.authentication.__bound__
ALGORITHMS = ["HS256"]
_UUID = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")
_PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")
_EMAIL = re.compile(r"^[^\s\";@]+@([^.@][^@\s]+)$")
_HOST_LABEL = re.compile(r"^(xn|[a-z0-9]+)(-?-[a-z0-9]+)*$", re.IGNORECASE)
_TLD = re.compile(r"^([a-z]{2,63}|xn--([a-z0-9]+-)*[a-z0-9]+)$", re.IGNORECASE)
_SCHEMAS = {
    "email": {
        "required": ("email_address", "template_id"),
        "allowed": {
            "email_address",
            "template_id",
            "personalisation",
            "reference",
            "email_reply_to_id",
            "one_click_unsubscribe_url",
            "sanitise_content_for",
            "scheduled_for",
        },
    },
    "sms": {
        "required": ("phone_number", "template_id"),
        "allowed": {
            "phone_number",
            "template_id",
            "personalisation",
            "reference",
            "sms_sender_id",
            "scheduled_for",
        },
    },
}


def _key(name: str) -> str:
    """Notify's insensitive placeholder key: case, spaces, hyphens and underscores aside."""
    return re.sub(r"[\s_-]", "", name).lower()


def email_problem(address: str) -> str | None:
    """Why Notify would refuse ``address`` (notifications-utils' checks), or None."""
    match = _EMAIL.match(address.strip())
    if match is None or len(address) > 320 or ".." in address:
        return "Not a valid email address"
    labels = match.group(1).split(".")
    if len(labels) < 2 or not _TLD.match(labels[-1]):
        return "Not a valid email address"
    if not all(label and len(label) <= 63 and _HOST_LABEL.match(label) for label in labels):
        return "Not a valid email address"
    return None


def phone_problem(number: str) -> str | None:
    """Why Notify would refuse ``number`` as a UK mobile number, or None."""
    if re.search(r"[^\d\s()+\-.]", number):
        return "Mobile numbers can only include: 0 1 2 3 4 5 6 7 8 9 ( ) + -"
    digits = re.sub(r"\D", "", number).removeprefix("0044").removeprefix("44").lstrip("0")
    if not digits.startswith("7"):
        # Notify's own wording, en dash included.
        return (
            "This does not look like a UK mobile number \u2013 double check the mobile number "
            "you entered"
        )
    if len(digits) > 10:
        return "Mobile number is too long"
    if len(digits) < 10:
        return "Mobile number is too short"
    return None


@dataclass(frozen=True, slots=True)
class StandInTemplate:
    id: str
    type: str  # "email" or "sms"
    body: str
    subject: str | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class Received:
    """A notification Notify accepted: the JSON the client posted, and who sent it."""

    type: str
    payload: dict[str, Any]
    service_id: str
    notification_id: str
    user_agent: str | None
    jwt_header: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refused:
    path: str
    status_code: int
    errors: list[dict[str, str]]


class _AnswerError(Exception):
    def __init__(self, status: int, errors: list[dict[str, str]]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


def _error(status: int, kind: str, message: str) -> _AnswerError:
    return _AnswerError(status, [{"error": kind, "message": message}])


@dataclass
class NotifyApiStandIn:
    """One Notify service with one API key and its templates. Use :meth:`running`."""

    service_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    key_name: str = "govconnect_test"
    templates: dict[str, StandInTemplate] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    base_url: str = ""
    _failures: list[_AnswerError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_key(self) -> str:
        return f"{self.key_name}-{self.service_id}-{self.secret}"

    def add_template(self, type: str, body: str, subject: str | None = None) -> str:
        template_id = str(uuid.uuid4())
        self.templates[template_id] = StandInTemplate(template_id, type, body, subject)
        return template_id

    def fail_next(self, status: int, error: str, message: str) -> None:
        """Answer the next authenticated send with this error, as Notify does under load."""
        with self._lock:
            self._failures.append(_error(status, error, message))

    @contextmanager
    def running(self) -> Iterator[NotifyApiStandIn]:
        """Serve on a free loopback port in a background thread until the block ends."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="notify-stand-in")
        thread.daemon = True
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    # -- the API ------------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        kind = {"/v2/notifications/email": "email", "/v2/notifications/sms": "sms"}.get(path)
        try:
            if kind is None:
                raise _error(404, "NotFound", "The requested URL was not found on the server.")
            jwt_header = self._authenticate(headers.get("authorization"))
            with self._lock:
                failure = self._failures.pop(0) if self._failures else None
            if failure is not None:
                raise failure
            payload = self._payload(body)
            self._validate(kind, payload)
            template = self._template(kind, payload)
            return 201, self._accept(kind, payload, template, headers, jwt_header)
        except _AnswerError as answer:
            with self._lock:
                self.refused.append(Refused(path, answer.status, answer.errors))
            return answer.status, {"errors": answer.errors, "status_code": answer.status}

    def _authenticate(self, authorization: str | None) -> dict[str, Any]:
        """Notify's ``requires_auth``: the bearer JWT of one of this service's keys."""
        if not authorization:
            raise _error(401, "AuthError", "Unauthorized, authentication token must be provided")
        if authorization[:7].title() != "Bearer ":
            raise _error(
                401, "AuthError", "Unauthorized, authentication bearer scheme must be used"
            )
        token = authorization[7:].strip()
        try:
            unverified = extract_compact(token.encode())
            claims = json.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeDecodeError):
            raise _error(
                403, "AuthError", "Invalid token: signature, api token is not valid"
            ) from None
        if not isinstance(claims, dict) or "iss" not in claims:
            raise _error(403, "AuthError", "Invalid token: iss field not provided")
        if not isinstance(claims["iss"], str) or not _UUID.match(claims["iss"]):
            raise _error(403, "AuthError", "Invalid token: service id is not the right data type")
        if claims["iss"] != self.service_id:
            raise _error(403, "AuthError", "Invalid token: service not found")
        if unverified.headers().get("alg") not in ALGORITHMS:
            raise _error(403, "AuthError", "Invalid token: algorithm used is not HS256")
        try:
            verified = jwt.decode(token, OctKey.import_key(self.secret), algorithms=ALGORITHMS)
        except (JoseError, ValueError):
            raise _error(403, "AuthError", "Invalid token: API key not found") from None
        issued_at = verified.claims.get("iat")
        if not isinstance(issued_at, int | float):
            raise _error(403, "AuthError", "Invalid token: iat field not provided")
        if abs(time.time() - issued_at) > CLOCK_SKEW_SECONDS:
            raise _error(
                403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds"
            )
        return dict(verified.header)

    @staticmethod
    def _payload(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            raise _error(400, "BadRequestError", "Invalid JSON supplied in POST data")
        return payload

    @staticmethod
    def _validate(kind: str, payload: dict[str, Any]) -> None:
        """The v2 JSON schema checks; like jsonschema, every problem is listed."""
        schema = _SCHEMAS[kind]
        errors: list[str] = [
            f"{name} is a required property" for name in schema["required"] if name not in payload
        ]
        extra = sorted(set(payload) - set(schema["allowed"]))
        if extra:
            listed = ", ".join(repr(name) for name in extra)
            verb = "was" if len(extra) == 1 else "were"
            errors.append(f"Additional properties are not allowed ({listed} {verb} unexpected)")
        template_id = payload.get("template_id")
        if "template_id" in payload and (
            not isinstance(template_id, str) or not _UUID.match(template_id)
        ):
            errors.append("template_id is not a valid UUID")
        if "email_address" in payload:
            address = payload["email_address"]
            problem = (
                email_problem(address) if isinstance(address, str) else "Not a valid email address"
            )
            if problem:
                errors.append(f"email_address {problem}")
        if "phone_number" in payload:
            number = payload["phone_number"]
            problem = phone_problem(number) if isinstance(number, str) else "Not a UK mobile number"
            if problem:
                errors.append(f"phone_number {problem}")
        if "personalisation" in payload and not isinstance(payload["personalisation"], dict):
            errors.append("personalisation should contain key value pairs")
        if payload.get("reference") is not None and not isinstance(payload["reference"], str):
            errors.append("reference is not of type string, null")
        if errors:
            raise _AnswerError(400, [{"error": "ValidationError", "message": m} for m in errors])

    def _template(self, kind: str, payload: dict[str, Any]) -> StandInTemplate:
        template = self.templates.get(str(payload["template_id"]).lower())
        if template is None:
            raise _error(400, "BadRequestError", "Template not found")
        if template.type != kind:
            raise _error(
                400,
                "BadRequestError",
                f"{template.type} template is not suitable for {kind} notification",
            )
        given = {_key(name) for name in payload.get("personalisation") or {}}
        texts = [template.body, template.subject or ""]
        needed = dict.fromkeys(m.strip() for t in texts for m in _PLACEHOLDER.findall(t))
        missing = [name for name in needed if _key(name) not in given]
        if missing:
            raise _error(400, "BadRequestError", "Missing personalisation: " + ", ".join(missing))
        return template

    def _accept(
        self,
        kind: str,
        payload: dict[str, Any],
        template: StandInTemplate,
        headers: dict[str, str],
        jwt_header: dict[str, Any],
    ) -> dict[str, Any]:
        values = {_key(k): str(v) for k, v in (payload.get("personalisation") or {}).items()}

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[_key(m.group(1))], text)

        notification_id = str(uuid.uuid4())
        content: dict[str, Any] = {"body": fill(template.body)}
        if kind == "email":
            content["subject"] = fill(template.subject or "")
            content["from_email"] = "govconnect.test@notifications.service.gov.uk"
        else:
            content["from_number"] = "GOVUK"
        with self._lock:
            self.received.append(
                Received(
                    kind,
                    payload,
                    self.service_id,
                    notification_id,
                    headers.get("user-agent"),
                    jwt_header,
                )
            )
        return {
            "id": notification_id,
            "reference": payload.get("reference"),
            "content": content,
            "uri": f"{self.base_url}/v2/notifications/{notification_id}",
            "template": {
                "id": template.id,
                "version": template.version,
                "uri": f"{self.base_url}/v2/template/{template.id}",
            },
        }


def _handler(api: NotifyApiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = api.handle(self.path, headers, body)
            self._send(status, answer)

        def _send(self, status: int, answer: Any) -> None:
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read :attr:`NotifyApiStandIn.received` instead."""

    return Handler
