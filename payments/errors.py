"""Errors of payment collection.

Each error that an API caller can meet carries the GOV.UK Pay API error code (``pay_code``,
"P0102") and, where one field or header is to blame, its name; :mod:`payments.routes` maps
the code to the status the GOV.UK Pay specification gives it. Like every domain error they
carry no HTTP status themselves.

PaymentError
├── PaymentAuthenticationError   (no API key, or not a valid one)
├── InvalidPaymentRequestError   (a body, field or header the API refuses: P0101, P0102, …)
├── PaymentNotFoundError         (no such payment or refund for this key's account)
├── IdempotencyConflictError     (an Idempotency-Key reused with a different body: P0191)
├── IllegalTransitionError       (the payment's state does not allow the step)
├── RefundNotAvailableError      (the payment cannot be refunded, or not that much: P0603)
├── RefundAmountMismatchError    (``refund_amount_available`` is stale: P0604)
├── AccountNotConfiguredError    (the key's account has no payment provider: P0940)
├── PaymentKeyNotFoundError      (revoking an API key that does not exist)
├── InvalidPaymentKeyRequestError (an API key asked for an unusable service name)
├── PaymentLinkError             (a payment page link that is unknown, used or expired)
├── PaymentRateLimitedError      (an API key sent more requests a second than allowed: P0900)
├── WebhookNotFoundError         (no webhook has that id)
├── InvalidWebhookRequestError   (a webhook asked for an unusable URL or event type)
└── PaymentRequiredError         (a "pay before submit" service has no successful payment)
"""

from __future__ import annotations

from typing import Any, ClassVar

from gateway.core.errors import Category, GovConnectError


class PaymentError(GovConnectError):
    slug = "payment-error"
    title = "Payment error"
    pay_code: ClassVar[str] = "P0198"  # GOV.UK Pay's "Downstream system error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        header: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail, **extensions)
        self.code = code or self.pay_code
        self.field = field
        self.header = header


class PaymentAuthenticationError(PaymentError):
    category = Category.UNAUTHENTICATED
    slug = "payment-authentication-required"
    title = "API key required"


class InvalidPaymentRequestError(PaymentError):
    category = Category.INVALID
    slug = "invalid-payment-request"
    title = "Invalid payment request"
    pay_code = "P0102"


class PaymentNotFoundError(PaymentError):
    category = Category.NOT_FOUND
    slug = "payment-not-found"
    title = "Payment not found"
    pay_code = "P0200"


class IdempotencyConflictError(PaymentError):
    category = Category.CONFLICT
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"
    pay_code = "P0191"


class IllegalTransitionError(PaymentError):
    category = Category.CONFLICT
    slug = "payment-state-conflict"
    title = "Payment state does not allow this"


class RefundNotAvailableError(PaymentError):
    category = Category.CONFLICT
    slug = "refund-not-available"
    title = "Refund not available"
    pay_code = "P0603"


class RefundAmountMismatchError(PaymentError):
    category = Category.CONFLICT
    slug = "refund-amount-available-mismatch"
    title = "Refund amount available mismatch"
    pay_code = "P0604"


class AccountNotConfiguredError(PaymentError):
    category = Category.CONFLICT
    slug = "payment-account-not-configured"
    title = "Payment account not configured"
    pay_code = "P0940"


class PaymentKeyNotFoundError(PaymentError):
    category = Category.NOT_FOUND
    slug = "payment-key-not-found"
    title = "Payment API key not found"


class InvalidPaymentKeyRequestError(PaymentError):
    category = Category.INVALID
    slug = "invalid-payment-key-request"
    title = "Invalid API key request"


class PaymentLinkError(PaymentError):
    category = Category.NOT_FOUND
    slug = "payment-link-unusable"
    title = "Payment link cannot be used"


class PaymentRateLimitedError(PaymentError):
    category = Category.TOO_MANY
    slug = "payment-rate-limited"
    title = "Too many requests"
    pay_code = "P0900"


class WebhookNotFoundError(PaymentError):
    category = Category.NOT_FOUND
    slug = "payment-webhook-not-found"
    title = "Payment webhook not found"


class InvalidWebhookRequestError(PaymentError):
    category = Category.INVALID
    slug = "invalid-payment-webhook-request"
    title = "Invalid webhook request"


class PaymentRequiredError(PaymentError):
    category = Category.FORBIDDEN
    slug = "payment-required"
    title = "Payment required first"


class CardProviderError(PaymentError):
    """The card provider did not take an authorised payment (a capture failed after its
    retries). The payment is already ``success`` with its capture submitted, as GOV.UK Pay
    reports it; the operator captures it at the provider (the Stripe Dashboard)."""

    slug = "card-provider-failed"
    title = "Card provider failed"
    pay_code: ClassVar[str] = "P0198"  # GOV.UK Pay's "Downstream system error"
