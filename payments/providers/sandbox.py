"""A built-in provider that behaves like GOV.UK Pay's sandbox.

GOV.UK Pay documentation, "Testing GOV.UK Pay" → "Mock card numbers": these numbers, with
any future expiry date and any 3-digit security code, give these outcomes:

=====================  =========================================  ======================
card number            what happens                               payment ends
=====================  =========================================  ======================
4444333322221111       success (Visa credit)                      success
4242424242424242       success (Visa debit)                       success
4000000000000002       declined                                   failed, P0010
4000000000000069       declined: the card has expired             failed, P0010
4000000000000127       declined: the security code is wrong       failed, P0010
4000000000000119       processing error                           error, P0050
=====================  =========================================  ======================

Any other number is not recognised, so a real card typed into a test service is refused
before anything happens. Nothing is remembered: the sandbox answers from the number alone.
"""

from __future__ import annotations

import secrets

from payments.models import CardDetails
from payments.providers import Authorisation, CardEntry, Outcome, card_brand

SUCCESS_CARDS = {"4444333322221111": "credit", "4242424242424242": "debit"}
DECLINED_CARDS = frozenset({"4000000000000002", "4000000000000069", "4000000000000127"})
ERROR_CARDS = frozenset({"4000000000000119"})
PROVIDER_NAME = "sandbox"


class SandboxProvider:
    """Implements :class:`~payments.providers.CardProvider` with the test cards above."""

    name = PROVIDER_NAME

    def recognises(self, entry: CardEntry) -> bool:
        return entry.number in SUCCESS_CARDS or entry.number in DECLINED_CARDS | ERROR_CARDS

    async def authorise(self, payment_id: str, amount: int, entry: CardEntry) -> Authorisation:
        card = CardDetails(
            brand=card_brand(entry.number),
            card_type=SUCCESS_CARDS.get(entry.number, "credit"),
            last_digits=entry.last_digits,
            expiry_date=entry.expiry,
            cardholder_name=entry.cardholder_name,
        )
        if entry.number in SUCCESS_CARDS:
            return Authorisation(Outcome.AUTHORISED, card, f"sandbox-{secrets.token_hex(8)}")
        if entry.number in ERROR_CARDS:
            return Authorisation(Outcome.ERROR, card)
        return Authorisation(Outcome.DECLINED, card)

    async def capture(self, provider_id: str, amount: int) -> None:
        return None

    async def release(self, provider_id: str) -> None:
        return None

    async def refund(self, provider_id: str, refund_id: str, amount: int) -> bool:
        return True
