"""Receipts for payments made by signed-in citizens, through a port the secure inbox fills.

A payment created with the citizen's access token beside the API key carries the citizen
(:class:`~payments.models.Citizen`). When such a payment succeeds (captured at once, or a
delayed payment captured by the service), :class:`~payments.services.PaymentService` hands a
:class:`Receipt` to the runtime's :class:`ReceiptSink`. Until the messaging package
(``messaging/``) supplies one that posts to the citizen's inbox, :class:`NoReceipts` keeps
nothing. A sink must be idempotent by ``payment_id``: the call is made after the state change,
and a retried request may make it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt says. ``account_id`` is the citizen's GovConnect account (never shown
    to the council); ``org_id`` and ``service`` name who was paid."""

    payment_id: str
    account_id: str
    org_id: str
    service: str
    amount: int  # pence
    reference: str
    description: str
    paid_at: str  # ISO 8601, UTC
    card_brand: str | None
    last_digits: str | None


class ReceiptSink(Protocol):
    async def payment_received(self, receipt: Receipt) -> None:
        """Deliver the receipt (to the citizen's inbox); the same ``payment_id`` twice must
        leave one receipt."""
        ...


class NoReceipts:
    """The default :class:`ReceiptSink`: keeps nothing."""

    async def payment_received(self, receipt: Receipt) -> None:
        return None
