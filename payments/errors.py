"""Errors of payment collection.

PaymentError
"""

from __future__ import annotations

from gateway.core.errors import GovConnectError


class PaymentError(GovConnectError):
    slug = "payment-error"
    title = "Payment error"
