"""A local stand-in for the parts of Stripe's HTTP API that :mod:`payments.providers.stripe`
uses, as a small ASGI (Starlette) app: for the tests, which run it under uvicorn on loopback,
and for an operator who wants to try the Stripe provider without a Stripe account::

    python -m payments.providers.stripe_local --port 12111 --secret-key sk_test_local
    GOVCONNECT_PAYMENTS_LIVE_PROVIDER=stripe GOVCONNECT_STRIPE_SECRET_KEY=sk_test_local \\
    GOVCONNECT_STRIPE_API_BASE=http://127.0.0.1:12111 govconnect serve

It follows Stripe's API reference for what it implements:

- ``POST /v1/payment_intents`` (``amount``, ``currency``, ``capture_method``, ``confirm``,
  ``allowed_payment_method_types`` (or the older ``payment_method_types``),
  ``payment_method_data`` with a raw ``card``, ``metadata``, ``description``, ``expand``),
  ``GET /v1/payment_intents/{id}``,
  ``POST /v1/payment_intents/{id}/capture`` and ``/cancel``; ``POST /v1/refunds``,
  ``GET /v1/refunds/{id}``;
- form-encoded bodies with Stripe's bracket syntax (``card[number]``, ``expand[0]``), and
  ``Received unknown parameter`` for anything else, so a wrong field name fails here as it
  would at Stripe;
- the secret key as ``Authorization: Bearer`` (or HTTP Basic, key as user name), 401 otherwise;
- Stripe's error document ``{"error": {"type", "code", "decline_code", "message", …}}``
  (``card_error`` 402, ``invalid_request_error`` 400/404, ``idempotency_error`` 400,
  ``authentication_error`` 401), with ``payment_intent`` and ``payment_method`` on a decline;
- ``Idempotency-Key`` (per secret key): a repeat with the same parameters answers the saved
  response with ``Idempotent-Replayed: true``; other parameters are an ``idempotency_error``.
  Like Stripe, requests refused before they run (authentication, unknown parameters) are not
  saved;
- Stripe's documented test cards ("Testing": "Cards by brand" and "Declined payments"):

  ==================  ============================================================
  4242424242424242    Visa, succeeds
  4000056655665556    Visa debit, succeeds
  5555555555554444    Mastercard, succeeds
  5200828282828210    Mastercard debit, succeeds
  378282246310005     American Express, succeeds
  4000000000000002    ``card_declined`` (``generic_decline``)
  4000000000009995    ``card_declined`` (``insufficient_funds``)
  4000000000000069    ``expired_card``
  4000000000000127    ``incorrect_cvc``
  4000000000000119    ``processing_error``
  4000002760003184    3-D Secure required: ``requires_action``
  ==================  ============================================================

  any other number passing the Luhn check is declined as Stripe's test mode declines a real
  card (``test_mode_live_card``); one failing it is ``incorrect_number``.

Nothing is logged, and no card number or security code is kept: a PaymentMethod holds the
brand, funding, last four digits and expiry, as Stripe's does. :attr:`StripeStandIn.requests`
lists each request's method, path, idempotency key and whether it was replayed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payments.models import passes_luhn

MINIMUM_AMOUNT = {"gbp": 30, "eur": 50, "usd": 50}  # Stripe, "Minimum and maximum charge amounts"
CANCELLABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class TestCard:
    brand: str
    funding: str
    code: str | None = None  # a card_error code: the card is declined
    decline_code: str | None = None
    message: str = ""
    needs_action: bool = False


_DECLINED = "Your card was declined."
SUCCESS_CARDS = {
    "4242424242424242": TestCard("visa", "credit"),
    "4000056655665556": TestCard("visa", "debit"),
    "5555555555554444": TestCard("mastercard", "credit"),
    "5200828282828210": TestCard("mastercard", "debit"),
    "378282246310005": TestCard("amex", "credit"),
}
DECLINE_CARDS = {
    "4000000000000002": TestCard("visa", "credit", "card_declined", "generic_decline", _DECLINED),
    "4000000000009995": TestCard(
        "visa", "credit", "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000000069": TestCard(
        "visa", "credit", "expired_card", "expired_card", "Your card has expired."
    ),
    "4000000000000127": TestCard(
        "visa",
        "credit",
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "4000000000000119": TestCard(
        "visa",
        "credit",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}
ACTION_CARDS = {"4000002760003184": TestCard("visa", "credit", needs_action=True)}


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(24))


class StripeApiError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved  # whether an idempotent repeat is answered with it
        self.body: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update(extra)


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeApiError:
    return StripeApiError(400, "invalid_request_error", message, code=code, param=param)


def _unknown(name: str) -> StripeApiError:
    return StripeApiError(
        400,
        "invalid_request_error",
        f"Received unknown parameter: {name}",
        code="parameter_unknown",
        param=name,
        saved=False,
    )


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding: ``a[b][c]=v`` nests, ``a[0]=v`` (or ``a[]=v``) is a list."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        keys = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node: Any = root
        for index, key in enumerate(keys):
            if index == len(keys) - 1:
                if isinstance(node, list):
                    node.append(value)
                else:
                    node[key] = value
                break
            following = keys[index + 1]
            empty: Any = [] if following == "" or following.isdigit() else {}
            if isinstance(node, list):
                position = int(key) if key.isdigit() else len(node)
                while len(node) <= position:
                    node.append(empty)
                    empty = [] if isinstance(empty, list) else {}
                node = node[position]
            else:
                node = node.setdefault(key, empty)
    return root


def _check_known(params: dict[str, Any], allowed: dict[str, Any], prefix: str = "") -> None:
    """``allowed`` maps each parameter to None (a value) or to the nested ``allowed``."""
    for name, value in params.items():
        full = f"{prefix}[{name}]" if prefix else name
        if name not in allowed:
            raise _unknown(full)
        nested = allowed[name]
        if isinstance(nested, dict) and nested and isinstance(value, dict):
            _check_known(value, nested, full)


def _integer(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise _invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?[0-9]+", raw):
        raise _invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _boolean(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name, "false")
    if raw not in ("true", "false"):
        raise _invalid(f"Invalid boolean: {raw}", code="parameter_invalid_empty", param=name)
    return bool(raw == "true")


def _pounds(amount: int, currency: str) -> str:
    symbol = {"gbp": "£", "eur": "€", "usd": "$"}.get(currency, "")
    return f"{symbol}{amount / 100:.2f}"


_PAYMENT_INTENT_PARAMS: dict[str, Any] = {
    "amount": None,
    "currency": None,
    "capture_method": None,
    "confirm": None,
    "description": None,
    "metadata": {},
    "expand": None,
    "return_url": None,
    "receipt_email": None,
    "statement_descriptor": None,
    "allowed_payment_method_types": None,
    "payment_method_types": None,  # the name before API version 2026-10-28
    "automatic_payment_methods": {"enabled": None, "allow_redirects": None},
    "payment_method_data": {
        "type": None,
        "card": {"number": None, "exp_month": None, "exp_year": None, "cvc": None},
        "billing_details": {
            "name": None,
            "email": None,
            "phone": None,
            "address": {
                "line1": None,
                "line2": None,
                "city": None,
                "postal_code": None,
                "state": None,
                "country": None,
            },
        },
        "metadata": {},
    },
}


@dataclass
class _Intent:
    id: str
    amount: int
    currency: str
    capture_method: str
    status: str
    created: int
    metadata: dict[str, str]
    description: str | None
    payment_method: dict[str, Any] | None
    client_secret: str
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    latest_charge: str | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    last_payment_error: dict[str, Any] | None = None
    next_action: dict[str, Any] | None = None

    def to_json(self, expand: list[str]) -> dict[str, Any]:
        method = self.payment_method
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": self.next_action,
            "payment_method": (
                method
                if method is not None and "payment_method" in expand
                else method["id"]
                if method is not None
                else None
            ),
            "allowed_payment_method_types": ["card"],
            "payment_method_types": ["card"],
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class Handled:
    """One request the stand-in answered (never its body)."""

    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool


@dataclass
class StripeStandIn:
    """One Stripe account in test mode with one secret key; :meth:`app` serves it."""

    secret_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    base_url: str = ""  # where it is served, for whoever serves it to fill in
    intents: dict[str, _Intent] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Handled] = field(default_factory=list)
    _saved: dict[tuple[str, str], tuple[str, bytes, int, Any]] = field(default_factory=dict)
    _salt: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _lose: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lose_next_responses(self, count: int = 1) -> None:
        """The next ``count`` requests run but their answers are lost: each is answered 500
        ``api_error`` instead, as when a connection drops after Stripe did the work."""
        with self._lock:
            self._lose += count

    def app(self) -> Starlette:
        routes = [
            Route("/v1/payment_intents", self._endpoint, methods=["POST"]),
            Route("/v1/payment_intents/{id}", self._endpoint, methods=["GET"]),
            Route("/v1/payment_intents/{id}/capture", self._endpoint, methods=["POST"]),
            Route("/v1/payment_intents/{id}/cancel", self._endpoint, methods=["POST"]),
            Route("/v1/refunds", self._endpoint, methods=["POST"]),
            Route("/v1/refunds/{id}", self._endpoint, methods=["GET"]),
        ]
        application = Starlette(routes=routes)
        application.add_exception_handler(404, self._not_found)
        application.add_exception_handler(405, self._not_found)
        return application

    # -- HTTP ---------------------------------------------------------------------------

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return _answer(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": (
                        f"Unrecognized request URL ({request.method}: {request.url.path}). "
                        "Please see https://stripe.com/docs or we can help at "
                        "https://support.stripe.com/."
                    ),
                }
            },
        )

    async def _endpoint(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        query = request.url.query
        pairs = parse_qsl(query if request.method == "GET" else body, keep_blank_values=True)
        key = request.headers.get("idempotency-key")
        # Everything below runs without an await, so one request is handled at a time.
        with self._lock:
            status, answer, replayed = self._handle(request, pairs, key)
            lost = self._lose > 0 and status < 500
            if lost:
                self._lose -= 1
            self.requests.append(Handled(request.method, request.url.path, key, status, replayed))
        headers = {
            "Request-Id": new_id("req"),
            "Stripe-Version": request.headers.get("stripe-version", "2025-01-27.acacia"),
        }
        if key is not None:
            headers["Idempotency-Key"] = key
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if lost:
            error = {"type": "api_error", "message": "An unknown error occurred"}
            return _answer(500, {"error": error}, {**headers, "Stripe-Should-Retry": "true"})
        return _answer(status, answer, headers)

    def _handle(
        self, request: Request, pairs: list[tuple[str, str]], key: str | None
    ) -> tuple[int, Any, bool]:
        try:
            secret = self._authenticate(request.headers.get("authorization"))
            params = decode_form(pairs)
            operation = f"{request.method} {request.url.path}"
            # The parameters are compared by a keyed digest, so the card is not kept.
            fingerprint = hmac.new(
                self._salt, json.dumps(params, sort_keys=True).encode(), hashlib.sha256
            ).digest()
            if key is not None and request.method == "POST":
                if len(key) > 255:
                    raise _invalid(
                        "Idempotency-Key must be at most 255 characters long.", param=None
                    )
                saved = self._saved.get((secret, key))
                if saved is not None:
                    if saved[0] != operation or not hmac.compare_digest(saved[1], fingerprint):
                        raise StripeApiError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            saved=False,
                        )
                    return saved[2], saved[3], True
            try:
                status, answer = 200, self._run(request, params)
            except StripeApiError as refused:
                if not refused.saved:
                    raise
                status, answer = refused.status, {"error": refused.body}
            if key is not None and request.method == "POST":
                self._saved[(secret, key)] = (operation, fingerprint, status, answer)
            return status, answer, False
        except StripeApiError as refused:
            return refused.status, {"error": refused.body}, False

    def _authenticate(self, authorization: str | None) -> str:
        """Stripe, "Authentication": the secret key as a bearer token or Basic user name."""
        given = ""
        if authorization and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        elif authorization and authorization[:6].lower() == "basic ":
            try:
                given = base64.b64decode(authorization[6:]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                given = ""
        if not given:
            raise StripeApiError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                "details, or we can help at https://support.stripe.com/.",
                saved=False,
            )
        if not secrets.compare_digest(given.encode(), self.secret_key.encode()):
            prefix = given[: given.find("_", 3) + 1] if given.count("_") >= 2 else ""
            masked = prefix + "*" * max(len(given) - len(prefix) - 4, 0) + given[-4:]
            raise StripeApiError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {masked}",
                saved=False,
            )
        return given

    def _run(self, request: Request, params: dict[str, Any]) -> dict[str, Any]:
        path = request.url.path
        ident = request.path_params.get("id", "")
        if path == "/v1/payment_intents":
            return self._create_intent(params)
        if path == "/v1/refunds":
            return self._create_refund(params)
        if path.startswith("/v1/refunds/"):
            _check_known(params, {"expand": None})
            refund = self.refunds.get(ident)
            if refund is None:
                raise _missing("refund", ident, "id")
            return refund
        intent = self.intents.get(ident)
        if intent is None:
            raise _missing("payment_intent", ident, "intent")
        if path.endswith("/capture"):
            return self._capture(intent, params)
        if path.endswith("/cancel"):
            return self._cancel(intent, params)
        _check_known(params, {"expand": None})
        return intent.to_json(list(params.get("expand") or []))

    # -- PaymentIntents -----------------------------------------------------------------

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, _PAYMENT_INTENT_PARAMS)
        amount = _integer(params, "amount", required=True)
        assert amount is not None
        currency = params.get("currency")
        if not currency:
            raise _invalid(
                "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        currency = str(currency).lower()
        minimum = MINIMUM_AMOUNT.get(currency, 50)
        if amount < minimum:
            raise _invalid(
                f"Amount must be at least {_pounds(minimum, currency)} {currency}",
                code="amount_too_small",
                param="amount",
            )
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise _invalid(
                "Invalid capture_method: must be one of automatic, automatic_async, or manual",
                code="parameter_invalid_empty",
                param="capture_method",
            )
        confirm = _boolean(params, "confirm")
        automatic = params.get("automatic_payment_methods") or {}
        if (
            confirm
            and not params.get("allowed_payment_method_types")
            and not params.get("payment_method_types")
            and automatic.get("allow_redirects") != "never"
            and not params.get("return_url")
        ):
            raise _invalid(
                "This PaymentIntent is configured to accept payment methods enabled in your "
                "Dashboard, because automatic_payment_methods is enabled. Because some of these "
                "payment methods might redirect your customer off of your page, you must "
                "provide a `return_url`. If you don't want to accept redirect-based payment "
                "methods, set `automatic_payment_methods[enabled]` to `true` and "
                "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup "
                "Intents and Payment Intents."
            )
        now = int(time.time())
        intent_id = new_id("pi")
        method_data = params.get("payment_method_data")
        method, test_card = self._payment_method(method_data, now) if method_data else (None, None)
        intent = _Intent(
            id=intent_id,
            amount=amount,
            currency=currency,
            capture_method=str(capture_method),
            status="requires_payment_method" if method is None else "requires_confirmation",
            created=now,
            metadata={str(k): str(v) for k, v in (params.get("metadata") or {}).items()},
            description=params.get("description"),
            payment_method=method,
            client_secret=f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
        )
        self.intents[intent_id] = intent
        expand = list(params.get("expand") or [])
        if confirm and method is not None and test_card is not None:
            self._confirm(intent, test_card, expand)
        return intent.to_json(expand)

    def _payment_method(self, data: dict[str, Any], now: int) -> tuple[dict[str, Any], TestCard]:
        if data.get("type") != "card":
            raise _invalid(
                "Missing required param: payment_method_data[type].",
                code="parameter_missing",
                param="payment_method_data[type]",
            )
        card = data.get("card") or {}
        number = re.sub(r"\s", "", str(card.get("number") or ""))
        for name in ("number", "exp_month", "exp_year"):
            if not card.get(name):
                raise _invalid(
                    f"Missing required param: payment_method_data[card][{name}].",
                    code="parameter_missing",
                    param=f"payment_method_data[card][{name}]",
                )
        if not number.isdigit() or not passes_luhn(number):
            raise _card_error("incorrect_number", "Your card number is incorrect.", "number")
        month = _integer(card, "exp_month") or 0
        year = _integer(card, "exp_year") or 0
        if year < 100:
            year += 2000
        today = datetime.now(UTC)
        if not 1 <= month <= 12:
            raise _card_error(
                "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
            )
        if year < today.year:
            raise _card_error(
                "invalid_expiry_year", "Your card's expiration year is invalid.", "exp_year"
            )
        if (year, month) < (today.year, today.month):
            raise _card_error(
                "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
            )
        cvc = str(card.get("cvc") or "")
        if cvc and (not cvc.isdigit() or len(cvc) not in (3, 4)):
            raise _card_error("invalid_cvc", "Your card's security code is invalid.", "cvc")
        test_card = (
            SUCCESS_CARDS.get(number)
            or DECLINE_CARDS.get(number)
            or ACTION_CARDS.get(number)
            or TestCard(
                "visa" if number.startswith("4") else "unknown",
                "credit",
                "card_declined",
                "test_mode_live_card",
                "Your card was declined. Your request was in test mode, but used a non test "
                "(live) card. For a list of valid test cards, visit: "
                "https://stripe.com/docs/testing.",
            )
        )
        billing = data.get("billing_details") or {}
        method = {
            "id": new_id("pm"),
            "object": "payment_method",
            "billing_details": {
                "address": billing.get("address"),
                "email": billing.get("email"),
                "name": billing.get("name"),
                "phone": billing.get("phone"),
            },
            "card": {
                "brand": test_card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "unchecked" if cvc else None,
                },
                "country": "US",
                "exp_month": month,
                "exp_year": year,
                "funding": test_card.funding,
                "last4": number[-4:],
            },
            "created": now,
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        return method, test_card

    def _confirm(self, intent: _Intent, card: TestCard, expand: list[str]) -> None:
        assert intent.payment_method is not None
        if card.needs_action:
            intent.status = "requires_action"
            intent.next_action = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": new_id("src")},
            }
            return
        charge = new_id("ch")
        intent.latest_charge = charge
        if card.code is not None:
            error = {
                "type": "card_error",
                "code": card.code,
                "decline_code": card.decline_code,
                "doc_url": f"https://stripe.com/docs/error-codes/{card.code.replace('_', '-')}",
                "message": card.message,
                "charge": charge,
                "payment_method": intent.payment_method,
            }
            intent.status = "requires_payment_method"
            intent.last_payment_error = error
            failed = StripeApiError(402, "card_error", card.message, code=card.code)
            failed.body.update(
                decline_code=card.decline_code,
                charge=charge,
                payment_method=intent.payment_method,
                payment_intent=intent.to_json(expand),
            )
            raise failed
        if intent.capture_method == "manual":
            intent.status = "requires_capture"
            intent.amount_capturable = intent.amount
        else:
            intent.status = "succeeded"
            intent.amount_received = intent.amount

    def _capture(self, intent: _Intent, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, {"amount_to_capture": None, "expand": None, "metadata": {}})
        if intent.status != "requires_capture":
            raise _invalid(
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
            )
        amount = _integer(params, "amount_to_capture")
        if amount is None:
            amount = intent.amount_capturable
        if amount <= 0 or amount > intent.amount_capturable:
            raise _invalid(
                "The amount to capture must be a positive integer no greater than the amount "
                f"capturable ({intent.amount_capturable}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        intent.amount_received = amount
        intent.amount_capturable = 0
        intent.status = "succeeded"
        return intent.to_json(list(params.get("expand") or []))

    def _cancel(self, intent: _Intent, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, {"cancellation_reason": None, "expand": None})
        if intent.status not in CANCELLABLE:
            raise _invalid(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                "may be canceled: " + ", ".join(CANCELLABLE) + ".",
                code="payment_intent_unexpected_state",
            )
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise _invalid(
                "Invalid cancellation_reason: must be one of "
                + ", ".join(sorted(CANCELLATION_REASONS)),
                param="cancellation_reason",
            )
        intent.status = "canceled"
        intent.canceled_at = int(time.time())
        intent.cancellation_reason = reason
        intent.amount_capturable = 0
        return intent.to_json(list(params.get("expand") or []))

    # -- Refunds ------------------------------------------------------------------------

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(
            params,
            {
                "payment_intent": None,
                "charge": None,
                "amount": None,
                "reason": None,
                "metadata": {},
                "expand": None,
            },
        )
        ident = params.get("payment_intent")
        charge = params.get("charge")
        intent = None
        if ident:
            intent = self.intents.get(str(ident))
            if intent is None:
                raise _missing("payment_intent", str(ident), "payment_intent")
        elif charge:
            intent = next((i for i in self.intents.values() if i.latest_charge == charge), None)
            if intent is None:
                raise _missing("charge", str(charge), "charge")
        else:
            raise _invalid(
                "One of the following params should be provided for this request: "
                "payment_intent or charge."
            )
        if intent.status != "succeeded":
            raise _invalid(
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund."
            )
        remaining = intent.amount_received - intent.amount_refunded
        if remaining <= 0:
            raise _invalid(
                f"Charge {intent.latest_charge} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _integer(params, "amount")
        if amount is None:
            amount = remaining
        if amount <= 0:
            raise _invalid(
                f"Invalid positive integer: {amount}",
                code="parameter_invalid_integer",
                param="amount",
            )
        if amount > remaining:
            raise _invalid(
                f"Refund amount ({_pounds(amount, intent.currency)}) is greater than unrefunded "
                f"amount on charge ({_pounds(remaining, intent.currency)})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise _invalid(
                "Invalid reason: must be one of " + ", ".join(sorted(REFUND_REASONS)),
                param="reason",
            )
        intent.amount_refunded += amount
        refund_id = new_id("re")
        refund: dict[str, Any] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": intent.latest_charge,
            "created": int(time.time()),
            "currency": intent.currency,
            "metadata": {str(k): str(v) for k, v in (params.get("metadata") or {}).items()},
            "payment_intent": intent.id,
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        return refund


def _missing(kind: str, ident: str, param: str) -> StripeApiError:
    return StripeApiError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{ident}'",
        code="resource_missing",
        param=param,
    )


def _card_error(code: str, message: str, param: str) -> StripeApiError:
    return StripeApiError(402, "card_error", message, code=code, param=param)


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in on loopback until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--secret-key", default="sk_test_local", help="the key it accepts")
    args = parser.parse_args(argv)
    stand_in = StripeStandIn(secret_key=args.secret_key)
    print(f"Stripe stand-in on http://{args.host}:{args.port} (secret key {args.secret_key})")
    uvicorn.run(stand_in.app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
