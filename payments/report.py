"""The daily reconciliation report of one council service (``govconnect payments report``).

One day in UK time (Europe/London, so a day is 23 or 25 hours long when the clocks change):
the payments created that day with their state, the refunds made that day (of payments of any
day), and the totals a finance team reconciles against the bank: successful payments, the
provider's fees, the net amount, successful refunds, and what is left. Amounts are pence.
As JSON, or as CSV with one row per payment, per refund, and the totals last.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from payments.models import (
    Mode,
    Paging,
    Payment,
    PaymentAccount,
    PaymentSearch,
    Refund,
    RefundStatus,
)
from payments.services import PaymentService
from payments.states import Status

UK = ZoneInfo("Europe/London")
CSV_COLUMNS = (
    "kind",
    "id",
    "payment_id",
    "created",
    "reference",
    "state",
    "amount",
    "fee",
    "net",
)
_ALL = 2**31 - 1  # one page holds the whole day


def uk_day(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and ends in UK time."""
    start = datetime.combine(day, time(0), UK)
    end = datetime.combine(day + timedelta(days=1), time(0), UK)
    # In UTC: arithmetic between two London times would ignore the change of offset.
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    org_id: str
    service: str
    mode: Mode
    day: date
    payments: list[Payment]
    refunds: list[Refund]

    def totals(self) -> dict[str, int]:
        paid = [p for p in self.payments if p.status is Status.SUCCESS]
        refunded = [r for r in self.refunds if r.status is RefundStatus.SUCCESS]
        amount = sum(p.amount for p in paid)
        fees = sum(p.fee or 0 for p in paid)
        refunds = sum(r.amount for r in refunded)
        return {
            "payments": len(self.payments),
            "successful_payments": len(paid),
            "amount": amount,
            "fees": fees,
            "net": amount - fees,
            "refunds": len(refunded),
            "refunded": refunds,
            "balance": amount - fees - refunds,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "service": self.service,
            "mode": self.mode.value,
            "date": self.day.isoformat(),
            "time_zone": "Europe/London",
            "payments": [_payment_row(p) for p in self.payments],
            "refunds": [_refund_row(r) for r in self.refunds],
            "totals": self.totals(),
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for payment in self.payments:
            row = _payment_row(payment)
            writer.writerow(
                {
                    "kind": "payment",
                    "id": row["payment_id"],
                    "payment_id": row["payment_id"],
                    "created": row["created"],
                    "reference": _cell(row["reference"]),
                    "state": row["state"],
                    "amount": row["amount"],
                    "fee": row["fee"],
                    "net": row["net"],
                }
            )
        for refund in self.refunds:
            row = _refund_row(refund)
            writer.writerow(
                {
                    "kind": "refund",
                    "id": row["refund_id"],
                    "payment_id": row["payment_id"],
                    "created": row["created"],
                    "state": row["status"],
                    "amount": -row["amount"],
                }
            )
        totals = self.totals()
        writer.writerow(
            {
                "kind": "total",
                "id": self.day.isoformat(),
                "amount": totals["amount"] - totals["refunded"],
                "fee": totals["fees"],
                "net": totals["balance"],
            }
        )
        return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP, "CSV Injection")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local(moment: datetime) -> str:
    return moment.astimezone(UK).isoformat(timespec="seconds")


def _payment_row(payment: Payment) -> dict[str, Any]:
    fee = payment.fee or 0
    success = payment.status is Status.SUCCESS
    return {
        "payment_id": payment.id,
        "created": _local(payment.created),
        "reference": payment.reference,
        "description": payment.description,
        "state": payment.status.value,
        "code": payment.code,
        "amount": payment.amount,
        "fee": fee if success else 0,
        "net": payment.amount - fee if success else 0,
        "card_brand": payment.card.brand if payment.card else None,
        "provider_id": payment.provider_id,
    }


def _refund_row(refund: Refund) -> dict[str, Any]:
    return {
        "refund_id": refund.id,
        "payment_id": refund.payment_id,
        "created": _local(datetime.fromisoformat(refund.created)),
        "status": refund.status.value,
        "amount": refund.amount,
    }


async def reconcile(
    payments: PaymentService, org_id: str, service: str, day: date, mode: Mode = Mode.LIVE
) -> Reconciliation:
    """The report of ``service``'s ``mode`` account for ``day`` (UK time)."""
    start, end = uk_day(day)
    account = PaymentAccount(org_id, service, mode, "report")
    paging = Paging(1, _ALL, start, end)
    found = await payments.search(account, PaymentSearch(paging, {}))
    refunds = await payments.search_refunds(account, paging)
    return Reconciliation(
        org_id,
        service,
        mode,
        day,
        sorted(found.results, key=lambda p: p.created),
        sorted(refunds.results, key=lambda r: r.created),
    )
