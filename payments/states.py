"""The payment status lifecycle, as GOV.UK Pay documents it.

GOV.UK Pay API reference, "Payment status lifecycle" and "API error codes" (the ``P00x0``
codes of a finished payment)::

    created ─▶ started ─▶ submitted ─▶ success
                              └──────▶ capturable ─▶ success     (delayed_capture)
    started                       ─▶ failed P0010  payment method rejected
    created, started, submitted   ─▶ failed P0020  expired, 90 minutes after creation
    created, started, submitted   ─▶ failed P0030  cancelled by the paying user
    any unfinished state          ─▶ cancelled P0040  cancelled by the service
    started, submitted            ─▶ error P0050  the payment provider returned an error

A :class:`Transition` names its allowed start states; :mod:`payments.store` applies one with
a compare-and-set script, so two requests can never both move a payment, and no code path can
make a move this table does not list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUBMITTED = "submitted"
    CAPTURABLE = "capturable"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        """GOV.UK Pay's ``state.finished``: true once nothing more can happen to the journey."""
        return self in FINISHED


FINISHED = frozenset({Status.SUCCESS, Status.FAILED, Status.CANCELLED, Status.ERROR})
# What a payment page visitor or the expiry job may still act on.
IN_JOURNEY = frozenset({Status.CREATED, Status.STARTED, Status.SUBMITTED})
EXPIRY_SECONDS = 90 * 60


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of the lifecycle: from any of ``sources`` to ``target``; a finished target
    carries GOV.UK Pay's ``code`` and ``message``."""

    name: str
    sources: frozenset[Status]
    target: Status
    code: str | None = None
    message: str | None = None


START = Transition("start", frozenset({Status.CREATED}), Status.STARTED)
AUTHORISE = Transition("authorise", frozenset({Status.STARTED}), Status.SUBMITTED)
REJECT = Transition(
    "reject", frozenset({Status.STARTED}), Status.FAILED, "P0010", "Payment method rejected"
)
CONFIRM = Transition("confirm", frozenset({Status.SUBMITTED}), Status.SUCCESS)
HOLD = Transition("hold", frozenset({Status.SUBMITTED}), Status.CAPTURABLE)
CAPTURE = Transition("capture", frozenset({Status.CAPTURABLE}), Status.SUCCESS)
EXPIRE = Transition("expire", IN_JOURNEY, Status.FAILED, "P0020", "Payment expired")
USER_CANCEL = Transition(
    "user-cancel", IN_JOURNEY, Status.FAILED, "P0030", "Payment was cancelled by the user"
)
SERVICE_CANCEL = Transition(
    "service-cancel",
    IN_JOURNEY | {Status.CAPTURABLE},
    Status.CANCELLED,
    "P0040",
    "Payment was cancelled by the service",
)
PROVIDER_ERROR = Transition(
    "provider-error",
    frozenset({Status.STARTED, Status.SUBMITTED}),
    Status.ERROR,
    "P0050",
    "Payment provider returned an error",
)
