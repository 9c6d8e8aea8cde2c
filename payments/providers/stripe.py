"""Stripe as the card provider, through the official ``stripe`` library (its async client).

Stripe API reference, "PaymentIntents" and "Refunds"; "Place a hold on a payment method"
(separate authorisation and capture); "Idempotent requests"; "Errors". The request fields are
those of the API version the library pins (``allowed_payment_method_types``, not the older
``payment_method_types``):

- **authorise**: ``POST /v1/payment_intents`` with ``confirm=true``, ``capture_method=manual``,
  ``allowed_payment_method_types=[card]`` and the card as ``payment_method_data[card]``
  (number, expiry, security code) with the cardholder's name. ``requires_capture`` is an
  authorisation; a ``card_error`` is a decline
  (:attr:`~payments.providers.Outcome.DECLINED`), except Stripe's ``processing_error``, which
  is the provider failing (:attr:`~payments.providers.Outcome.ERROR`) as GOV.UK Pay's
  sandbox treats its processing-error card; any other failure (authentication, connection,
  rate limit, Stripe's own errors) is also ``ERROR``, never an exception on the payment page;
- **capture**: ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture``;
- **release**: ``POST /v1/payment_intents/{id}/cancel`` (the hold is dropped, nothing taken);
- **refund**: ``POST /v1/refunds`` for the PaymentIntent; False when Stripe refuses it.

Every write carries an ``Idempotency-Key`` derived from the payment or the refund
(``govconnect-authorise-<payment id>``, ``govconnect-capture-<PaymentIntent>``,
``govconnect-cancel-<PaymentIntent>``, ``govconnect-refund-<refund id>``), so a retry, by the
library after a lost response or by the gateway after a crash, is answered with the first
result by Stripe instead of charging or refunding twice.

Of the card only :class:`~payments.models.CardDetails` is kept: the brand and funding Stripe
reports on the PaymentMethod, the last four digits, the expiry and the name. The number and
the security code go into the one request body and nowhere else: not into a log (the
library's debug record of request bodies is cut here, see :class:`_HideRequestBodies`), not
into an error (what is logged of a Stripe error is its type, code and request id).
"""

from __future__ import annotations

import logging
import os

import stripe
from stripe.params import PaymentIntentCreateParams

from gateway.core.errors import ConfigurationError
from gateway.core.settings import STRIPE_API_BASE
from payments.errors import CardProviderError
from payments.models import CardDetails
from payments.providers import Authorisation, CardEntry, Outcome, card_brand

log = logging.getLogger(__name__)

PROVIDER_NAME = "stripe"
CURRENCY = "gbp"
DEFAULT_TIMEOUT_SECONDS = 30.0
# The library retries a lost connection, a 409 and a 5xx with the same Idempotency-Key.
DEFAULT_NETWORK_RETRIES = 2
# Stripe's card ``brand`` values, as GOV.UK Pay names the schemes in ``card_brand``.
BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "Union Pay",
}
# Card errors that are the provider failing rather than the issuer refusing the card.
ERROR_CODES = frozenset({"processing_error"})
_REDACTED = "[redacted]"


class _HideRequestBodies(logging.Filter):
    """Cut the request body out of the ``stripe`` logger's debug record ("Post details",
    ``post_data=…``, the last field of its logfmt line): for a PaymentIntent it holds the
    card number and security code."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        at = message.find("post_data=")
        if at >= 0:
            record.msg = message[:at] + f"post_data={_REDACTED}"
            record.args = None
        return True


_HIDE_BODIES = _HideRequestBodies()


def _guard_library_logging() -> None:
    logger = logging.getLogger("stripe")
    if _HIDE_BODIES not in logger.filters:
        logger.addFilter(_HIDE_BODIES)
    # NOTE: the library also prints its records to stderr itself when ``stripe.log`` or
    # STRIPE_LOG is "debug", past any logging filter; that would print card numbers, so
    # the provider refuses to start then rather than trust the operator to notice.
    if "debug" in (stripe.log, os.environ.get("STRIPE_LOG")):
        raise ConfigurationError(
            "STRIPE_LOG=debug (or stripe.log = 'debug') makes the stripe library print request "
            "bodies, card numbers included, to stderr; unset it or use 'info'"
        )


def _error_summary(exc: stripe.StripeError) -> str:
    """What may be logged of a Stripe error: its class, type, codes and request id (never
    the message or body, so nothing the request held can come back through a log)."""
    error = exc.error
    kind = error.type if error is not None else None
    decline = error.decline_code if error is not None else None
    return (
        f"{type(exc).__name__} status={exc.http_status} type={kind} code={exc.code} "
        f"decline_code={decline} request_id={exc.request_id}"
    )


class StripeProvider:
    """Implements :class:`~payments.providers.CardProvider` with Stripe PaymentIntents.

    ``api_base`` is Stripe's API unless pointed at a stand-in
    (:mod:`payments.providers.stripe_local`); ``http_client`` is the library's async HTTP
    client (``stripe.HTTPXClient`` unless given)."""

    name = PROVIDER_NAME

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = STRIPE_API_BASE,
        currency: str = CURRENCY,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = DEFAULT_NETWORK_RETRIES,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not secret_key:
            raise ConfigurationError("the Stripe provider needs a secret key")
        _guard_library_logging()
        self._http = http_client or stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self._currency = currency

    def __repr__(self) -> str:
        return f"StripeProvider(currency={self._currency!r})"

    async def aclose(self) -> None:
        """Close the HTTP client's connections."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    def recognises(self, entry: CardEntry) -> bool:
        """Stripe decides about any card; live keys take real cards, test keys its test cards."""
        return True

    async def authorise(self, payment_id: str, amount: int, entry: CardEntry) -> Authorisation:
        """Create and confirm a PaymentIntent that holds ``amount`` pence on the card."""
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": self._currency,
            "capture_method": "manual",
            "confirm": True,
            "allowed_payment_method_types": ["card"],
            "payment_method_data": {
                "type": "card",
                # Raw card data is a feature Stripe enables per account (docs/payments.md,
                # "Card providers"); the library's typed parameters leave it out.
                "card": {  # type: ignore[typeddict-unknown-key]
                    "number": entry.number,
                    "exp_month": entry.expiry_month,
                    "exp_year": entry.expiry_year,
                    "cvc": entry.security_code,
                },
                "billing_details": {"name": entry.cardholder_name},
            },
            "metadata": {"govconnect_payment_id": payment_id},
            "expand": ["payment_method"],
        }
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params,
                {"idempotency_key": f"govconnect-authorise-{payment_id}"},
            )
        except stripe.CardError as exc:
            outcome = Outcome.ERROR if exc.code in ERROR_CODES else Outcome.DECLINED
            log.info("stripe: payment %s %s: %s", payment_id, outcome.value, _error_summary(exc))
            method = exc.error.payment_method if exc.error is not None else None
            return Authorisation(outcome, _card(entry, method))
        except stripe.StripeError as exc:
            log.warning("stripe: payment %s not authorised: %s", payment_id, _error_summary(exc))
            return Authorisation(Outcome.ERROR, _card(entry, None))
        card = _card(entry, intent.payment_method)
        if intent.status != "requires_capture":
            # A 3-D Secure challenge (``requires_action``) needs Stripe.js on the page, which
            # the hosted page does not run: the hold is dropped and the payment ends in error.
            log.warning(
                "stripe: payment %s: PaymentIntent %s is %s, not requires_capture; cancelling",
                payment_id,
                intent.id,
                intent.status,
            )
            await self.release(intent.id)
            return Authorisation(Outcome.ERROR, card)
        return Authorisation(Outcome.AUTHORISED, card, intent.id)

    async def capture(self, provider_id: str, amount: int) -> None:
        """Take ``amount`` pence of the hold; :class:`CardProviderError` if Stripe would not."""
        try:
            await self._client.v1.payment_intents.capture_async(
                provider_id,
                {"amount_to_capture": amount},
                {"idempotency_key": f"govconnect-capture-{provider_id}"},
            )
        except stripe.StripeError as exc:
            log.error("stripe: capture of %s failed: %s", provider_id, _error_summary(exc))
            raise CardProviderError(
                f"The card provider did not capture this payment ({exc.code or 'no code'}); "
                "the GovConnect operator must capture or refund it in the Stripe Dashboard."
            ) from None

    async def release(self, provider_id: str) -> None:
        """Cancel the hold. A failure is logged, not raised: an uncaptured PaymentIntent is
        cancelled by Stripe itself after seven days, and nothing was taken."""
        try:
            await self._client.v1.payment_intents.cancel_async(
                provider_id, options={"idempotency_key": f"govconnect-cancel-{provider_id}"}
            )
        except stripe.StripeError as exc:
            log.warning("stripe: cancel of %s failed: %s", provider_id, _error_summary(exc))

    async def refund(self, provider_id: str, refund_id: str, amount: int) -> bool:
        """Refund ``amount`` pence of the captured PaymentIntent; False when Stripe refuses
        or cannot be reached (the service then marks the refund ``error``)."""
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": provider_id,
                    "amount": amount,
                    "metadata": {"govconnect_refund_id": refund_id},
                },
                {"idempotency_key": f"govconnect-refund-{refund_id}"},
            )
        except stripe.StripeError as exc:
            log.warning("stripe: refund %s refused: %s", refund_id, _error_summary(exc))
            return False
        if refund.status not in ("succeeded", "pending"):
            log.warning("stripe: refund %s is %s", refund_id, refund.status)
            return False
        return True


def _card(entry: CardEntry, method: object) -> CardDetails:
    """What is kept of the card: the PaymentMethod's brand and funding when Stripe sent
    them, else the scheme by its number prefix; the last four digits, expiry and name."""
    card = getattr(method, "card", None)
    brand = BRANDS.get(str(getattr(card, "brand", "")), card_brand(entry.number))
    funding = str(getattr(card, "funding", ""))
    return CardDetails(
        brand=brand,
        card_type={"credit": "credit", "debit": "debit", "prepaid": "debit"}.get(funding, "credit"),
        last_digits=entry.last_digits,
        expiry_date=entry.expiry,
        cardholder_name=entry.cardholder_name,
    )
