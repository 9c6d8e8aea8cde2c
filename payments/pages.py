"""The hosted payment page: the one place a paying user types card details.

GOV.UK Pay's payment journey ("Payment flow"): the service sends the user to ``next_url``;
they enter card details, confirm, and are sent back to the service's ``return_url``. Here:

1. ``GET /pay/{id}/{token}``: the single-use ``next_url``. The first visit binds the payment
   to the browser's session and starts it, then redirects to ``/pay/{id}``, so the token
   does not stay in the address bar or history; a second browser with the link is refused.
2. ``GET /pay/{id}``: the card form (``started``), the confirmation (``submitted``), or
   what happened (finished), with the way back to the service.
3. ``POST /pay/{id}/card``, ``/confirm``, ``/cancel``: CSRF-checked forms.

Pages work with JavaScript off. Every route is public and authenticated by the browser's
session being the one the link was first opened in (no account is needed to pay). The card
number and security code are read from the form, checked, passed to the provider and
dropped: never stored, logged, or written back into a page.
"""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.core.deps import RuntimeDep
from gateway.sessions.models import Session, handle_of
from gateway.web.messages import message
from gateway.web.pages import (
    PageSession,
    checked_form,
    field,
    redirect,
    render,
    secret_field,
)
from payments.errors import IllegalTransitionError, PaymentLinkError
from payments.models import Payment
from payments.services import PAGE_PATH, read_card
from payments.states import Status

router = APIRouter(include_in_schema=False)


def _amount(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _link_unusable(request: Request, session: Session) -> Response:
    return render(
        request,
        "pay_done.html",
        session,
        status=404,
        title=message("payments.link.title"),
        body=message("payments.link.body"),
        link=None,
    )


def _show(request: Request, session: Session, payment: Payment, **form: object) -> Response:
    """The page for the payment's state."""
    status_code = 400 if form.get("errors") else 200
    # GOV.UK Pay shows its pages in the language the service asked for ("language": "cy").
    language = payment.language
    if payment.status is Status.STARTED:
        return render(
            request,
            "pay_card.html",
            session,
            status=status_code,
            language=language,
            title=message("payments.card_title", language),
            payment=payment,
            amount=_amount(payment.amount),
            month=form.get("month", ""),
            year=form.get("year", ""),
            cardholder_name=form.get(
                "cardholder_name", payment.prefilled.get("cardholder_name", "")
            ),
            errors=form.get("errors"),
        )
    if payment.status is Status.SUBMITTED and payment.card is not None:
        return render(
            request,
            "pay_confirm.html",
            session,
            language=language,
            title=message("payments.confirm_title", language),
            payment=payment,
            amount=_amount(payment.amount),
        )
    key = payment.code or payment.status.value
    declined = payment.status in {Status.FAILED, Status.ERROR}
    return render(
        request,
        "pay_done.html",
        session,
        language=language,
        title=message(f"payments.done.{key}_title", language),
        body=message(f"payments.done.{key}_body", language),
        link={
            "href": payment.return_url,
            "text": message(
                "payments.try_again" if declined else "payments.return_to_service", language
            ),
        },
    )


@router.get(PAGE_PATH + "/{payment_id}/{token}")
async def open_link(
    request: Request, payment_id: str, token: str, session: PageSession, runtime: RuntimeDep
) -> Response:
    """The single-use ``next_url``. Public: the token is the credential, once."""
    try:
        await runtime.payments.payments.open_page(payment_id, token, handle_of(session.id))
    except PaymentLinkError:
        return _link_unusable(request, session)
    return redirect(request, f"{PAGE_PATH}/{payment_id}")


@router.get(PAGE_PATH + "/{payment_id}")
async def payment_page(
    request: Request, payment_id: str, session: PageSession, runtime: RuntimeDep
) -> Response:
    """The payment in this browser. Public; only the session that opened the link."""
    try:
        payment = await runtime.payments.payments.for_page(payment_id, handle_of(session.id))
    except PaymentLinkError:
        return _link_unusable(request, session)
    return _show(request, session, payment)


@router.post(PAGE_PATH + "/{payment_id}/card")
async def submit_card(
    request: Request, payment_id: str, session: PageSession, runtime: RuntimeDep
) -> Response:
    """Card details. Public; only the session that opened the link; CSRF-checked."""
    form = await checked_form(request, session)
    service = runtime.payments.payments
    browser = handle_of(session.id)
    try:
        payment = await service.for_page(payment_id, browser)
    except PaymentLinkError:
        return _link_unusable(request, session)
    if payment.status is not Status.STARTED:
        return redirect(request, f"{PAGE_PATH}/{payment_id}")
    month, year = field(form, "expiry-month"), field(form, "expiry-year")
    name = field(form, "cardholder-name")
    card = read_card(
        secret_field(form, "card-number"),
        month,
        year,
        secret_field(form, "cvc").strip(),
        name,
        runtime.clock.now(),
    )
    language = payment.language
    errors = {
        name: message(f"payments.errors.{key}", language) for name, key in card.errors.items()
    }
    if card.entry is not None and not service.accepts(payment, card.entry):
        errors["card-number"] = message("payments.errors.card_not_accepted", language)
    if card.entry is None or errors:
        # NOTE: the card number and security code are never written back into the page;
        # the paying user types them again.
        return _show(
            request, session, payment, month=month, year=year, cardholder_name=name, errors=errors
        )
    # Submitted twice, or expired meanwhile: the page shows where it stands.
    with contextlib.suppress(IllegalTransitionError):
        await service.submit_card(payment_id, browser, card.entry)
    return redirect(request, f"{PAGE_PATH}/{payment_id}")


@router.post(PAGE_PATH + "/{payment_id}/confirm")
async def confirm(
    request: Request, payment_id: str, session: PageSession, runtime: RuntimeDep
) -> Response:
    """The paying user confirms; sent back to the service. Public; only the session that
    opened the link; CSRF-checked."""
    await checked_form(request, session)
    try:
        payment = await runtime.payments.payments.confirm(payment_id, handle_of(session.id))
    except PaymentLinkError:
        return _link_unusable(request, session)
    except IllegalTransitionError:
        return redirect(request, f"{PAGE_PATH}/{payment_id}")
    return redirect(request, payment.return_url)


@router.post(PAGE_PATH + "/{payment_id}/cancel")
async def cancel(
    request: Request, payment_id: str, session: PageSession, runtime: RuntimeDep
) -> Response:
    """The paying user cancels (``failed``, P0030). Public; only the session that opened
    the link; CSRF-checked."""
    await checked_form(request, session)
    try:
        await runtime.payments.payments.cancel_by_payer(payment_id, handle_of(session.id))
    except PaymentLinkError:
        return _link_unusable(request, session)
    except IllegalTransitionError:
        pass  # finished already: the page shows how
    return redirect(request, f"{PAGE_PATH}/{payment_id}")
