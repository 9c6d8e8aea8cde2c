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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode, urlsplit

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
MAX_DISPLAY_SIZE = 500  # the search's page size limit and default
IDEMPOTENCY_KEY = re.compile(r"[a-zA-Z0-9-]+")  # the specification's header pattern
SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
# A run of 12 to 19 digits, each optionally followed by one space or hyphen: the lengths of
# ISO/IEC 7812 primary account numbers, as people type them.
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,18}")
_SEPARATORS = re.compile(r"[ -]")
PAYMENT_PATH = "/v1/payments"
REFUND_SEARCH_PATH = "/v1/refunds"
T = TypeVar("T")


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
class Citizen:
    """The signed-in citizen a payment is for, proven by an access token the council holds:
    their GovConnect account (kept by the gateway, never shown) and the pairwise subject the
    council knows them by."""

    account_id: str
    subject: str


def _search_date(params: Mapping[str, str], name: str, code: str) -> datetime | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidPaymentRequestError(
            f"Invalid parameters: {name}. Use an ISO 8601 date and time with a time zone, "
            "for example 2026-01-21T17:15:00Z",
            code=code,
            field=name,
        )
    return moment


def _search_int(params: Mapping[str, str], name: str, default: int, top: int, code: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= top:
        raise InvalidPaymentRequestError(
            f"Invalid parameters: {name}. Use a whole number from 1 to {top}",
            code=code,
            field=name,
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a search, and the search's date range (creation time)."""

    page: int
    display_size: int
    from_date: datetime | None
    to_date: datetime | None

    @classmethod
    def parse(cls, params: Mapping[str, str], code: str) -> Paging:
        return cls(
            page=_search_int(params, "page", 1, 10**9, code),
            display_size=_search_int(
                params, "display_size", MAX_DISPLAY_SIZE, MAX_DISPLAY_SIZE, code
            ),
            from_date=_search_date(params, "from_date", code),
            to_date=_search_date(params, "to_date", code),
        )

    def query(self) -> dict[str, str]:
        """The query string of the page links: the dates given, and the page size."""
        given = {
            name: pay_time(moment)
            for name, moment in (("from_date", self.from_date), ("to_date", self.to_date))
            if moment is not None
        }
        return {**given, "display_size": str(self.display_size)}

    def range_ms(self) -> tuple[float | str, float | str]:
        """The index's score range: ``from_date`` inclusive, ``to_date`` exclusive."""
        low: float | str = int(self.from_date.timestamp() * 1000) if self.from_date else "-inf"
        high: float | str = f"({int(self.to_date.timestamp() * 1000)}" if self.to_date else "+inf"
        return low, high


SEARCH_FILTERS = (
    "reference",
    "email",
    "state",
    "card_brand",
    "cardholder_name",
    "first_digits_card_number",
    "last_digits_card_number",
    "from_settled_date",
    "to_settled_date",
    "agreement_id",
)
SEARCH_STATES = frozenset(
    {"created", "started", "submitted", "success", "failed", "cancelled", "error"}
)


@dataclass(frozen=True, slots=True)
class PaymentSearch:
    """``GET /v1/payments``'s query, validated (invalid parameters are ``P0401``)."""

    paging: Paging
    filters: dict[str, str]
    settled_from: datetime | None = None
    settled_to: datetime | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PaymentSearch:
        code = "P0401"
        paging = Paging.parse(params, code)
        filters = {name: params[name] for name in SEARCH_FILTERS if params.get(name)}
        state = filters.get("state")
        if state is not None and state not in SEARCH_STATES:
            raise InvalidPaymentRequestError(
                "Invalid parameters: state. Use one of " + ", ".join(sorted(SEARCH_STATES)),
                code=code,
                field="state",
            )
        for name, digits in (("first_digits_card_number", 6), ("last_digits_card_number", 4)):
            value = filters.get(name)
            if value is not None and (len(value) != digits or not value.isdigit()):
                raise InvalidPaymentRequestError(
                    f"Invalid parameters: {name}. Use exactly {digits} digits",
                    code=code,
                    field=name,
                )
        return cls(paging, filters, *cls.settled_range(params, code))

    def matches(self, payment: Payment) -> bool:
        """GOV.UK Pay's filters: ``reference`` and ``card_brand`` exact (brand in any case),
        ``email`` and ``cardholder_name`` a part in any case, ``state`` the status, the last
        four digits exact. The first six digits are not kept here, and recurring payments
        are not made, so those filters match nothing; "settled" is when the payment was
        captured (the sandbox settles at once)."""
        f = self.filters
        card = payment.card
        if "reference" in f and payment.reference != f["reference"]:
            return False
        if "email" in f and f["email"].lower() not in (payment.email or "").lower():
            return False
        if "state" in f and payment.status.value != f["state"]:
            return False
        if "card_brand" in f and (card is None or card.brand.lower() != f["card_brand"].lower()):
            return False
        name = f.get("cardholder_name")
        if name is not None and (card is None or name.lower() not in card.cardholder_name.lower()):
            return False
        last = f.get("last_digits_card_number")
        if last is not None and (card is None or card.last_digits != last):
            return False
        if "first_digits_card_number" in f or "agreement_id" in f:
            return False
        if self.settled_from or self.settled_to:
            if payment.capture_submitted is None:
                return False
            captured = datetime.fromisoformat(payment.capture_submitted)
            if self.settled_from and captured < self.settled_from:
                return False
            if self.settled_to and captured >= self.settled_to:
                return False
        return True

    def query(self) -> dict[str, str]:
        """The query string of the page links: every filter given, dates and page size."""
        return {**self.filters, **self.paging.query()}

    @staticmethod
    def settled_range(
        params: Mapping[str, str], code: str
    ) -> tuple[datetime | None, datetime | None]:
        """``from_settled_date`` and ``to_settled_date``, checked."""
        return (
            _search_date(params, "from_settled_date", code),
            _search_date(params, "to_settled_date", code),
        )


@dataclass(frozen=True, slots=True)
class SearchPage(Generic[T]):
    """One page of results: ``total`` matched in all, ``results`` on this page."""

    results: list[T]
    total: int
    page: int
    display_size: int

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.display_size))

    def links(self, url: str, query: Mapping[str, str]) -> dict[str, Any]:
        """``SearchNavigationLinks``: self, first, last, and previous and next where they
        exist."""

        def at(page: int) -> dict[str, str]:
            return _link(f"{url}?{urlencode({**query, 'page': str(page)})}")

        links = {"self": at(self.page), "first_page": at(1), "last_page": at(self.last_page)}
        if self.page > 1:
            links["prev_page"] = at(self.page - 1)
        if self.page < self.last_page:
            links["next_page"] = at(self.page + 1)
        return links


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
    citizen: Citizen | None = None
    fee: int | None = None  # pence the provider charged, when it says

    @property
    def org_id(self) -> str:
        return self.account_id.split(":", 1)[0]

    @property
    def service(self) -> str:
        return self.account_id.split(":")[1]

    @property
    def mode(self) -> Mode:
        return Mode(self.account_id.rsplit(":", 1)[1])

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
        if self.fee is not None:
            body["fee"] = self.fee
            body["net_amount"] = self.amount - self.fee
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

    def to_search_api(self, base_url: str) -> dict[str, Any]:
        """``RefundDetailForSearch``: the refund and its (empty) settlement summary."""
        return {**self.to_api(base_url), "settlement_summary": {}}

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
