"""Card payment providers behind one interface (DESIGN.md §6: adapters behind a Protocol).

The hosted payment page hands a :class:`CardEntry` (what the paying user typed) to a
:class:`CardProvider` and gets back an :class:`Authorisation` holding only what the gateway
may keep (:class:`~payments.models.CardDetails`: brand, type, last four digits, expiry,
name). The entry itself lives only for the length of that call: it is never stored, logged
or put in an error, and its ``repr`` hides the number and the security code.

:mod:`payments.providers.sandbox` behaves like GOV.UK Pay's sandbox with its test cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from payments.models import CardDetails


@dataclass(frozen=True, slots=True)
class CardEntry:
    """Card details as typed on the payment page; already checked for shape (digits, Luhn,
    an expiry in the future) by :func:`payments.services.read_card`."""

    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int  # four digits
    security_code: str = field(repr=False)
    cardholder_name: str

    @property
    def expiry(self) -> str:
        """``MM/YY``, as the specification's ``card_details.expiry_date``."""
        return f"{self.expiry_month:02d}/{self.expiry_year % 100:02d}"

    @property
    def last_digits(self) -> str:
        return self.number[-4:]


class Outcome(StrEnum):
    AUTHORISED = "authorised"
    DECLINED = "declined"  # the card was refused: the payment fails with P0010
    ERROR = "error"  # the provider could not process it: the payment ends in error, P0050


@dataclass(frozen=True, slots=True)
class Authorisation:
    """What a provider answered; ``card`` is what may be kept of the card in any outcome."""

    outcome: Outcome
    card: CardDetails
    provider_id: str | None = None


class CardProvider(Protocol):
    """A payment service provider (GOV.UK Pay calls them PSPs)."""

    name: str  # the payment's ``payment_provider``

    def recognises(self, entry: CardEntry) -> bool:
        """Whether this provider can take the card at all (the sandbox takes test cards
        only); the page asks for another card otherwise, and the payment does not move."""
        ...

    async def authorise(self, payment_id: str, amount: int, entry: CardEntry) -> Authorisation:
        """Ask the card issuer to authorise ``amount`` pence on the card."""
        ...

    async def capture(self, provider_id: str, amount: int) -> None:
        """Take an authorised payment."""
        ...

    async def release(self, provider_id: str) -> None:
        """Cancel an authorisation that will not be captured."""
        ...

    async def refund(self, provider_id: str, refund_id: str, amount: int) -> bool:
        """Return ``amount`` pence of a captured payment; False when the provider refused."""
        ...


_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("American Express", ((34, 34), (37, 37))),
    ("Mastercard", ((51, 55), (2221, 2720))),
    ("Visa", ((4, 4),)),
    ("Maestro", ((50, 50), (56, 58), (6, 6))),
)


def card_brand(number: str) -> str:
    """The scheme a card number belongs to, by its issuer identification number prefix
    (ISO/IEC 7812-1); ``Unknown`` otherwise."""
    for brand, ranges in _BRANDS:
        for low, high in ranges:
            width = len(str(low))
            if low <= int(number[:width]) <= high:
                return brand
    return "Unknown"
