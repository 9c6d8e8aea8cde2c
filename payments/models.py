"""Payments, refunds, their events, API keys, and the requests that make them.

The request values (:class:`NewPayment`, :class:`RefundRequest`) validate when they are
parsed, with the GOV.UK Pay API's error codes and sentences ("Missing mandatory attribute:
amount", P0101; "Invalid attribute value: …", P0102), so holding one means the API would
accept it. The results (:class:`Payment`, :class:`Refund`, :class:`PaymentEvent`) render
themselves as the GOV.UK Pay public API specification's ``PaymentWithAllLinks``, ``Refund``
and ``PaymentEvent`` documents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from gateway.core.settings import is_loopback_host
from payments.errors import InvalidPaymentRequestError
from payments.states import Status

MAX_AMOUNT = 10_000_000  # pence; CreateCardPaymentRequest.amount maximum
MAX_TEXT = 255  # reference and description maxLength
MAX_RETURN_URL = 2000
MAX_EMAIL = 254
MAX_METADATA_KEYS = 10
MAX_METADATA_KEY = 30
MAX_METADATA_VALUE = 100
MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_KEY = re.compile(r"[a-zA-Z0-9-]+")  # the specification's header pattern
SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
# A run of 12 to 19 digits, each optionally followed by one space or hyphen: the lengths of
# ISO/IEC 7812 primary account numbers, as people type them.
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,18}")
_SEPARATORS = re.compile(r"[ -]")
PAYMENT_PATH = "/v1/payments"


class Mode(StrEnum):
    """A GOV.UK Pay service has a test account and a live account; a key belongs to one."""

    TEST = "test"
    LIVE = "live"


def new_pay_id() -> str:
    """26 lowercase base32 characters (130 bits), the shape of GOV.UK Pay's payment ids."""
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def pay_time(moment: datetime) -> str:
    """``2016-01-21T17:15:00.000Z``: the specification's date-time form (UTC, milliseconds)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def passes_luhn(digits: str) -> bool:
    """ISO/IEC 7812-1 Annex B check digit: the test every payment card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds a run of 12 to 19 digits (spaces or hyphens allowed between
    them) that passes the Luhn check: what a card number typed into the wrong box looks like."""
    for match in _DIGIT_RUN.finditer(text):
        if passes_luhn(_SEPARATORS.sub("", match.group())):
            return True
    return False


def _missing(name: str) -> InvalidPaymentRequestError:
    return InvalidPaymentRequestError(
        f"Missing mandatory attribute: {name}", code="P0101", field=name
    )


def _invalid(name: str, why: str, code: str = "P0102") -> InvalidPaymentRequestError:
    return InvalidPaymentRequestError(
        f"Invalid attribute value: {name}. {why}", code=code, field=name
    )


def _card_number_in(name: str) -> InvalidPaymentRequestError:
    # NOTE: GOV.UK Pay refuses card numbers in these fields (P0105) because they are shown to
    # staff and sent in reports; the value itself is never echoed back or logged.
    return _invalid(name, "Must not contain a card number", code="P0105")


def _text(raw: dict[str, Any], name: str, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    if name not in raw or raw[name] is None:
        if required:
            raise _missing(name)
        return None
    value = raw[name]
    if not isinstance(value, str):
        raise _invalid(name, "Must be a string")
    if len(value) > limit:
        raise _invalid(name, f"Must be less than or equal to {limit} characters length")
    return value


def _return_url(value: str, mode: Mode) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - urlsplit parses the port lazily; this raises if it is junk
    except ValueError:
        raise _invalid("return_url", "Must be a valid URL format") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname or " " in value:
        raise _invalid("return_url", "Must be a valid URL format")
    # NOTE: plain http is accepted from test keys (as GOV.UK Pay's test accounts allow) and
    # for loopback hosts; a live payment sends the paying user back over https only.
    if parts.scheme == "http" and mode is Mode.LIVE and not is_loopback_host(parts.hostname):
        raise _invalid("return_url", "Must be an https URL for a live account")
    return value


def _metadata(value: Any) -> dict[str, str | int | float | bool]:
    """GOV.UK Pay's rules: at most 10 keys of 1-30 characters; each value a string of at most
    100 characters, a number or a boolean (API reference, "Add custom metadata")."""
    if not isinstance(value, dict):
        raise _invalid("metadata", "Must be an object of JSON")
    if len(value) > MAX_METADATA_KEYS:
        raise _invalid("metadata", f"Cannot have more than {MAX_METADATA_KEYS} key-value pairs")
    checked: dict[str, str | int | float | bool] = {}
    for key, item in value.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY:
            raise _invalid("metadata", "Keys must be between 1 and 30 characters long")
        if not isinstance(item, str | int | float | bool):
            raise _invalid("metadata", "Values must be of type String, Boolean or Number")
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE:
            raise _invalid("metadata", "Values must be no greater than 100 characters long")
        if contains_card_number(key) or (isinstance(item, str) and contains_card_number(item)):
            raise _card_number_in("metadata")
        checked[key] = item
    return checked


def _prefilled(value: Any) -> dict[str, Any]:
    name = "prefilled_cardholder_details"
    if not isinstance(value, dict):
        raise _invalid(name, "Must be an object of JSON")
    out: dict[str, Any] = {}
    holder = value.get("cardholder_name")
    if holder is not None:
        if not isinstance(holder, str) or len(holder) > MAX_TEXT:
            raise _invalid(name, "cardholder_name must be a string of at most 255 characters")
        out["cardholder_name"] = holder
    address = value.get("billing_address")
    if address is not None:
        if not isinstance(address, dict):
            raise _invalid(name, "billing_address must be an object")
        limits = {"line1": 255, "line2": 255, "postcode": 25, "city": 255, "country": 2}
        kept: dict[str, str] = {}
        for part, limit in limits.items():
            item = address.get(part)
            if item is None:
                continue
            if not isinstance(item, str) or len(item) > limit:
                raise _invalid(name, f"billing_address.{part} must be at most {limit} characters")
            kept[part] = item
        out["billing_address"] = kept
    return out


def canonical_digest(raw: Any) -> str:
    """SHA-256 of the body's canonical JSON: two bodies with the same content match however
    their keys were ordered or spaced (what ``Idempotency-Key`` compares)."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewPayment:
    """A create-payment request the API accepts (``CreateCardPaymentRequest``)."""

    amount: int
    reference: str
    description: str
    return_url: str
    language: str = "en"
    email: str | None = None
    delayed_capture: bool = False
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)
    prefilled: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def parse(cls, raw: Any, mode: Mode) -> NewPayment:
        """Validate a decoded JSON body; raises :class:`InvalidPaymentRequestError` with the
        code and sentence GOV.UK Pay gives the first thing wrong."""
        if not isinstance(raw, dict):
            raise InvalidPaymentRequestError("Unable to parse JSON", code="P0197")
        if "amount" not in raw or raw["amount"] is None:
            raise _missing("amount")
        amount = raw["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise _invalid("amount", "Must be a whole number of pence")
        if amount > MAX_AMOUNT:
            raise _invalid("amount", f"Must be less than or equal to {MAX_AMOUNT}")
        if amount < 1:
            raise _invalid("amount", "Must be greater than or equal to 1")
        reference = _text(raw, "reference", required=True) or ""
        description = _text(raw, "description", required=True) or ""
        return_url = _text(raw, "return_url", required=True, limit=MAX_RETURN_URL) or ""
        for name, text in (("reference", reference), ("description", description)):
            if contains_card_number(text):
                raise _card_number_in(name)
        language = raw.get("language", "en")
        if language not in {"en", "cy"}:
            raise _invalid("language", 'Must be "en" or "cy"')
        email = _text(raw, "email", required=False, limit=MAX_EMAIL)
        delayed = raw.get("delayed_capture", False)
        if not isinstance(delayed, bool):
            raise _invalid("delayed_capture", "Must be true or false")
        mode_asked = raw.get("authorisation_mode", "web")
        if mode_asked != "web":
            raise _invalid("authorisation_mode", "Only web payments are supported")
        if raw.get("moto", False) is not False:
            raise _invalid("moto", "MOTO payments are not supported")
        for unsupported in ("set_up_agreement", "agreement_id", "agreement_payment_type"):
            if unsupported in raw:
                raise _invalid(unsupported, "Recurring payments are not supported")
        metadata = _metadata(raw["metadata"]) if raw.get("metadata") is not None else {}
        prefilled = (
            _prefilled(raw["prefilled_cardholder_details"])
            if raw.get("prefilled_cardholder_details") is not None
            else {}
        )
        return cls(
            amount=amount,
            reference=reference,
            description=description,
            return_url=_return_url(return_url, mode),
            language=language,
            email=email,
            delayed_capture=delayed,
            metadata=metadata,
            prefilled=prefilled,
            digest=canonical_digest(raw),
        )


def idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header, checked against the specification's pattern."""
    if value is None or value == "":
        return None
    if len(value) > MAX_IDEMPOTENCY_KEY or not IDEMPOTENCY_KEY.fullmatch(value):
        raise InvalidPaymentRequestError(
            "Invalid header value: Idempotency-Key. Use 1 to 255 of a-z, A-Z, 0-9 and '-'",
            code="P0102",
            header="Idempotency-Key",
        )
    return value


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """``PaymentRefundRequest``: the amount, and what the caller believes is available."""

    amount: int
    refund_amount_available: int | None

    @classmethod
    def parse(cls, raw: Any) -> RefundRequest:
        if not isinstance(raw, dict):
            raise InvalidPaymentRequestError("Unable to parse JSON", code="P0697")
        if raw.get("amount") is None:
            raise InvalidPaymentRequestError(
                "Missing mandatory attribute: amount", code="P0601", field="amount"
            )
        values: list[int | None] = []
        for name in ("amount", "refund_amount_available"):
            value = raw.get(name)
            whole = isinstance(value, int) and not isinstance(value, bool)
            if value is not None and (not whole or not 1 <= value <= MAX_AMOUNT):
                raise _invalid(name, f"Must be a whole number from 1 to {MAX_AMOUNT}", "P0602")
            values.append(value)
        assert values[0] is not None
        return cls(values[0], values[1])


@dataclass(frozen=True, slots=True)
class PaymentAccount:
    """Whose payments an API key reaches: one council service's test or live account."""

    org_id: str
    service: str
    mode: Mode
    key_id: str

    @property
    def id(self) -> str:
        return f"{self.org_id}:{self.service}:{self.mode.value}"

    @property
    def actor(self) -> str:
        """Who acted, as the evidence log names it."""
        return f"payment-key:{self.key_id}"


@dataclass(frozen=True, slots=True)
class PaymentKey:
    """A stored API key: only the SHA-256 of the secret is kept."""

    id: str
    org_id: str
    service: str
    mode: Mode
    created_at: str
    revoked: bool = False

    def account(self) -> PaymentAccount:
        return PaymentAccount(self.org_id, self.service, self.mode, self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org_id": self.org_id,
            "service": self.service,
            "mode": self.mode.value,
            "created_at": self.created_at,
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaymentKey:
        return cls(
            id=data["id"],
            org_id=data["org_id"],
            service=data["service"],
            mode=Mode(data["mode"]),
            created_at=data["created_at"],
            revoked=bool(data.get("revoked", False)),
        )


@dataclass(frozen=True, slots=True)
class IssuedPaymentKey:
    """A newly created key: the secret is shown once and never stored."""

    key: PaymentKey
    secret: str


@dataclass(frozen=True, slots=True)
class CardDetails:
    """All the gateway keeps of a card: brand, type, last four digits, expiry and the name
    and address the paying user gave. Never the full number or the security code."""

    brand: str
    card_type: str
    last_digits: str
    expiry_date: str  # MM/YY
    cardholder_name: str
    billing_address: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "card_brand": self.brand,
            "card_type": self.card_type,
            "last_digits_card_number": self.last_digits,
            "expiry_date": self.expiry_date,
            "cardholder_name": self.cardholder_name,
        }
        if self.billing_address:
            body["billing_address"] = dict(self.billing_address)
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardDetails:
        return cls(
            brand=data["card_brand"],
            card_type=data["card_type"],
            last_digits=data["last_digits_card_number"],
            expiry_date=data["expiry_date"],
            cardholder_name=data["cardholder_name"],
            billing_address=dict(data.get("billing_address") or {}),
        )


def _link(href: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "method": method}


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as stored, with its state. ``link`` is the token of the payment page while
    the page has not been opened and the payment is unfinished; ``None`` otherwise."""

    id: str
    account_id: str
    amount: int
    reference: str
    description: str
    return_url: str
    language: str
    email: str | None
    delayed_capture: bool
    metadata: dict[str, str | int | float | bool]
    prefilled: dict[str, Any]
    created: datetime
    status: Status
    provider: str
    code: str | None = None
    message: str | None = None
    card: CardDetails | None = None
    provider_id: str | None = None
    refunded: int = 0
    capture_submitted: str | None = None
    link: str | None = None

    @property
    def refund_available(self) -> int:
        return self.amount - self.refunded if self.status is Status.SUCCESS else 0

    def refund_status(self) -> str:
        """GOV.UK Pay's ``refund_summary.status``."""
        if self.status is Status.SUCCESS:
            return "available" if self.refund_available > 0 else "full"
        return "unavailable" if self.status.finished else "pending"

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"status": self.status.value, "finished": self.status.finished}
        if self.code:
            state["code"] = self.code
            state["message"] = self.message or ""
        return state

    def to_api(self, base_url: str, *, page_url: str | None = None) -> dict[str, Any]:
        """``PaymentWithAllLinks`` (and ``CreatePaymentResult``, a subset of it)."""
        self_url = f"{base_url}{PAYMENT_PATH}/{self.id}"
        links: dict[str, Any] = {
            "self": _link(self_url),
            "events": _link(f"{self_url}/events"),
            "refunds": _link(f"{self_url}/refunds"),
        }
        if page_url is not None:
            links["next_url"] = _link(page_url)
        if not self.status.finished:
            links["cancel"] = _link(f"{self_url}/cancel", "POST")
        if self.status is Status.CAPTURABLE:
            links["capture"] = _link(f"{self_url}/capture", "POST")
        body: dict[str, Any] = {
            "payment_id": self.id,
            "amount": self.amount,
            "reference": self.reference,
            "description": self.description,
            "return_url": self.return_url,
            "language": self.language,
            "delayed_capture": self.delayed_capture,
            "moto": False,
            "authorisation_mode": "web",
            "created_date": pay_time(self.created),
            "state": self.state(),
            "payment_provider": self.provider,
            "refund_summary": {
                "status": self.refund_status(),
                "amount_available": self.refund_available,
                "amount_submitted": self.refunded,
            },
            "settlement_summary": (
                {"capture_submit_time": self.capture_submitted} if self.capture_submitted else {}
            ),
            "_links": links,
        }
        if self.email is not None:
            body["email"] = self.email
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        if self.provider_id is not None:
            body["provider_id"] = self.provider_id
        if self.card is not None:
            body["card_details"] = self.card.to_json()
            body["card_brand"] = self.card.brand
        return body


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """One state change, as ``GET /v1/payments/{id}/events`` lists it."""

    status: Status
    updated: str
    code: str | None = None
    message: str | None = None

    def to_api(self, payment_id: str, base_url: str) -> dict[str, Any]:
        state: dict[str, Any] = {"status": self.status.value, "finished": self.status.finished}
        if self.code:
            state["code"] = self.code
            state["message"] = self.message or ""
        return {
            "payment_id": payment_id,
            "state": state,
            "updated": self.updated,
            "_links": {"payment_url": _link(f"{base_url}{PAYMENT_PATH}/{payment_id}")},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "updated": self.updated,
            "code": self.code,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaymentEvent:
        return cls(Status(data["status"]), data["updated"], data.get("code"), data.get("message"))


class RefundStatus(StrEnum):
    """A refund's lifecycle (GOV.UK Pay "Checking the status of a refund")."""

    SUBMITTED = "submitted"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str
    amount: int
    status: RefundStatus
    created: str

    def to_api(self, base_url: str) -> dict[str, Any]:
        payment_url = f"{base_url}{PAYMENT_PATH}/{self.payment_id}"
        return {
            "refund_id": self.id,
            "payment_id": self.payment_id,
            "amount": self.amount,
            "status": self.status.value,
            "created_date": self.created,
            "_links": {
                "self": _link(f"{payment_url}/refunds/{self.id}"),
                "payment": _link(payment_url),
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payment_id": self.payment_id,
            "amount": self.amount,
            "status": self.status.value,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Refund:
        return cls(
            data["id"],
            data["payment_id"],
            int(data["amount"]),
            RefundStatus(data["status"]),
            data["created"],
        )
