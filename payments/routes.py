"""The payment API under ``/v1``, compatible with the GOV.UK Pay public API, and the hosted
payment page (:mod:`payments.pages`).

Paths, fields, status codes and errors follow the GOV.UK Pay public API specification
(``shared/reference/govuk-pay-publicapi-openapi.json``, version 1.0.3), so a council's GOV.UK
Pay client works by changing its base URL and key. Every ``/v1`` route is authenticated with
a bearer API key (RFC 6750 §2.1; :data:`PaymentAccountDep`) and sees only its own account's
payments: another account's payment id is "not found".

# NOTE: on these routes errors are GOV.UK Pay's ``{"code", "description"}`` documents (with
# ``field`` or ``header`` where one is to blame), not the RFC 9457 problems used everywhere
# else: the compatibility contract wins here, because councils' existing GOV.UK Pay clients
# parse these codes. A request without a valid key gets 401 with an empty body and
# ``WWW-Authenticate: Bearer``, as the specification describes.

A council that created the payment for a signed-in citizen sends the citizen's access token
(issued to one of the council's own clients, for this gateway) in ``GovConnect-Citizen-Token``
beside the API key; the payment then records the citizen (:class:`~payments.models.Citizen`).

The admin API (``/admin/v1/payment-webhooks``, admin token) registers webhooks per council
service, as ``govconnect payments webhooks`` does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from gateway.admin.routes import AdminDep
from gateway.clients.errors import ClientError
from gateway.core.deps import RuntimeDep
from gateway.oidc.errors import OAuthError
from payments import pages
from payments.errors import (
    InvalidPaymentRequestError,
    PaymentAuthenticationError,
    PaymentError,
    PaymentNotFoundError,
)
from payments.models import (
    PAYMENT_PATH,
    REFUND_SEARCH_PATH,
    Citizen,
    Mode,
    NewPayment,
    Paging,
    Payment,
    PaymentAccount,
    PaymentSearch,
    RefundRequest,
    idempotency_key,
)
from payments.webhooks import Webhook

log = logging.getLogger(__name__)

# The HTTP status of each GOV.UK Pay error code (API reference, "API error codes").
STATUS_BY_CODE: dict[str, int] = {
    "P0101": 400,  # missing mandatory attribute
    "P0102": 422,  # invalid attribute value
    "P0105": 422,  # a card number in reference, description or metadata
    "P0191": 409,  # Idempotency-Key reused with a different body
    "P0197": 400,  # the body is not JSON
    "P0198": 500,  # downstream system error
    "P0200": 404,  # get payment: not found
    "P0300": 404,  # events: not found
    "P0401": 422,  # search payments: invalid parameters
    "P0402": 404,  # search payments: page not found
    "P0500": 404,  # cancel: not found
    "P0502": 409,  # cancel: the payment is finished
    "P0600": 404,  # refund: payment not found
    "P0601": 400,  # refund: amount missing
    "P0602": 422,  # refund: amount invalid
    "P0603": 412,  # refund: not available (state, or more than is left)
    "P0604": 412,  # refund: refund_amount_available mismatch
    "P0697": 400,  # refund: the body is not JSON
    "P0700": 404,  # get refund: not found
    "P0800": 404,  # list refunds: payment not found
    "P0900": 429,  # too many requests
    "P0940": 409,  # the account has no payment provider configured
    "P1000": 404,  # capture: not found
    "P1003": 409,  # capture: the payment is not capturable
    "P1100": 404,  # search refunds: page not found
    "P1101": 422,  # search refunds: invalid parameters
}
CITIZEN_TOKEN_HEADER = "GovConnect-Citizen-Token"  # noqa: S105 - a header name
# "Not found" has a code per operation; each route names its own.
_NOT_FOUND: dict[tuple[str, str], str] = {
    ("GET", PAYMENT_PATH + "/{payment_id}"): "P0200",
    ("GET", PAYMENT_PATH + "/{payment_id}/events"): "P0300",
    ("POST", PAYMENT_PATH + "/{payment_id}/cancel"): "P0500",
    ("POST", PAYMENT_PATH + "/{payment_id}/refunds"): "P0600",
    ("GET", PAYMENT_PATH + "/{payment_id}/refunds/{refund_id}"): "P0700",
    ("GET", PAYMENT_PATH + "/{payment_id}/refunds"): "P0800",
    ("POST", PAYMENT_PATH + "/{payment_id}/capture"): "P1000",
}


def error_response(exc: PaymentError, not_found_code: str | None = None) -> Response:
    """GOV.UK Pay's ``RequestError`` document for a domain error."""
    if isinstance(exc, PaymentAuthenticationError):
        return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="payments"'})
    code = not_found_code if isinstance(exc, PaymentNotFoundError) and not_found_code else exc.code
    body: dict[str, str] = {"code": code, "description": exc.detail}
    if exc.field:
        body["field"] = exc.field
    if exc.header:
        body["header"] = exc.header
    return JSONResponse(body, status_code=STATUS_BY_CODE.get(code, 500))


class PayApiRoute(APIRoute):
    """A route answering errors in GOV.UK Pay's shape (see the module's NOTE)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        not_found = next(
            (
                code
                for (method, path), code in _NOT_FOUND.items()
                if path == self.path and method in (self.methods or ())
            ),
            None,
        )

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except PaymentError as exc:
                return error_response(exc, not_found)
            except RequestValidationError as exc:
                names = [str(e.get("loc", ("", ""))[-1]) for e in exc.errors()]
                return JSONResponse(
                    {
                        "code": "P0102",
                        "description": f"Invalid attribute value: {', '.join(names)}",
                        "field": names[0] if names else "",
                    },
                    status_code=422,
                )

        return handler


async def require_key(request: Request, runtime: RuntimeDep) -> PaymentAccount:
    """The account of the bearer API key (RFC 6750 §2.1)."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return await runtime.payments.keys.authenticate(
        secret.strip() if scheme.lower() == "bearer" else None
    )


PaymentAccountDep = Annotated[PaymentAccount, Depends(require_key)]

api = APIRouter(prefix=PAYMENT_PATH, tags=["payments"], route_class=PayApiRoute)
refunds_api = APIRouter(prefix=REFUND_SEARCH_PATH, tags=["payments"], route_class=PayApiRoute)
admin = APIRouter(prefix="/admin/v1/payment-webhooks", tags=["payments admin"])


async def citizen_of(
    request: Request, runtime: RuntimeDep, account: PaymentAccount
) -> Citizen | None:
    """The signed-in citizen of ``GovConnect-Citizen-Token``: an access token this gateway
    issued (RFC 9068 §4: signature, lifetime, revocation, audience) to a client of the API
    key's own organisation, for a person. ``None`` without the header."""
    token = request.headers.get(CITIZEN_TOKEN_HEADER)
    if token is None:
        return None

    def refused(why: str) -> InvalidPaymentRequestError:
        return InvalidPaymentRequestError(
            f"Invalid header value: {CITIZEN_TOKEN_HEADER}. {why}",
            code="P0102",
            header=CITIZEN_TOKEN_HEADER,
        )

    try:
        verified = await runtime.tokens.at_resource(
            token.strip(), scheme="bearer", proof=None, method=request.method, url=str(request.url)
        )
        record = verified.record
        if record is None:
            raise refused("The access token was not issued for a person.")
        client = await runtime.clients.get(record.client_id)
    except (OAuthError, ClientError):
        raise refused("Send a current bearer access token issued to your service.") from None
    # NOTE: a council may attach only a token issued to one of its own clients, so one
    # council cannot tie payments to the citizens of another's sign-ins.
    if client.organisation_id != account.org_id:
        raise refused("The access token was issued to another organisation's service.")
    return Citizen(record.account_id, verified.subject)


async def _json(request: Request, code: str) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidPaymentRequestError("Unable to parse JSON", code=code) from None


def _payment(payment: Payment, runtime: RuntimeDep, status: int = 200) -> JSONResponse:
    service = runtime.payments.payments
    body = payment.to_api(service.base_url, page_url=service.page_url(payment))
    return JSONResponse(body, status_code=status)


@api.post("", status_code=201, summary="Create a payment")
async def create_payment(
    request: Request, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """Create a payment (201); the same ``Idempotency-Key`` and body again within 24 hours
    answers the original (200). Bearer API key."""
    key = idempotency_key(request.headers.get("idempotency-key"))
    new = NewPayment.parse(await _json(request, "P0197"), account.mode)
    citizen = await citizen_of(request, runtime, account)
    payment, created = await runtime.payments.payments.create(account, new, key, citizen)
    return _payment(payment, runtime, 201 if created else 200)


def _results(page: Any, items: list[dict[str, Any]], url: str, query: dict[str, str]) -> Response:
    return JSONResponse(
        {
            "total": page.total,
            "count": len(items),
            "page": page.page,
            "results": items,
            "_links": page.links(url, query),
        }
    )


@api.get("", summary="Search payments")
async def search_payments(
    request: Request, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """The account's payments, newest first, filtered and paged as GOV.UK Pay's search.
    Bearer API key."""
    query = PaymentSearch.parse(request.query_params)
    service = runtime.payments.payments
    page = await service.search(account, query)
    items = [payment.to_api(service.base_url) for payment in page.results]
    return _results(page, items, f"{service.base_url}{PAYMENT_PATH}", query.query())


@refunds_api.get("", summary="Search refunds")
async def search_refunds(
    request: Request, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """The account's refunds, newest first, paged. Bearer API key."""
    params = request.query_params
    paging = Paging.parse(params, "P1101")
    PaymentSearch.settled_range(params, "P1101")
    service = runtime.payments.payments
    page = await service.search_refunds(account, paging)
    items = [refund.to_search_api(service.base_url) for refund in page.results]
    return _results(page, items, f"{service.base_url}{REFUND_SEARCH_PATH}", paging.query())


@api.get("/{payment_id}", summary="Get a payment")
async def get_payment(payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep) -> Response:
    """The payment and its state. Bearer API key."""
    return _payment(await runtime.payments.payments.get(account, payment_id), runtime)


@api.get("/{payment_id}/events", summary="Get a payment's events")
async def get_events(payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep) -> Response:
    """Every state change of the payment, oldest first. Bearer API key."""
    service = runtime.payments.payments
    events = await service.events(account, payment_id)
    self_url = f"{service.base_url}{PAYMENT_PATH}/{payment_id}/events"
    return JSONResponse(
        {
            "payment_id": payment_id,
            "events": [event.to_api(payment_id, service.base_url) for event in events],
            "_links": {"self": {"href": self_url, "method": "GET"}},
        }
    )


@api.post("/{payment_id}/cancel", status_code=204, summary="Cancel a payment")
async def cancel_payment(
    payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """Cancel an unfinished payment (``cancelled``, P0040); 204. Bearer API key."""
    await runtime.payments.payments.cancel(account, payment_id)
    return Response(status_code=204)


@api.post("/{payment_id}/capture", status_code=204, summary="Take a delayed payment")
async def capture_payment(
    payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """Capture a ``capturable`` (delayed_capture) payment; 204. Bearer API key."""
    await runtime.payments.payments.capture(account, payment_id)
    return Response(status_code=204)


@api.post("/{payment_id}/refunds", status_code=202, summary="Refund a payment")
async def create_refund(
    request: Request, payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """Refund some or all of a successful payment (202). Bearer API key."""
    refund_request = RefundRequest.parse(await _json(request, "P0697"))
    service = runtime.payments.payments
    refund = await service.refund(account, payment_id, refund_request)
    return JSONResponse(refund.to_api(service.base_url), status_code=202)


@api.get("/{payment_id}/refunds", summary="Get all refunds for a payment")
async def list_refunds(
    payment_id: str, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """The payment's refunds, oldest first. Bearer API key."""
    service = runtime.payments.payments
    refunds = await service.refunds(account, payment_id)
    payment_url = f"{service.base_url}{PAYMENT_PATH}/{payment_id}"
    return JSONResponse(
        {
            "payment_id": payment_id,
            "_links": {
                "self": {"href": f"{payment_url}/refunds", "method": "GET"},
                "payment": {"href": payment_url, "method": "GET"},
            },
            "_embedded": {"refunds": [refund.to_api(service.base_url) for refund in refunds]},
        }
    )


@api.get("/{payment_id}/refunds/{refund_id}", summary="Get a payment refund")
async def get_refund(
    payment_id: str, refund_id: str, account: PaymentAccountDep, runtime: RuntimeDep
) -> Response:
    """One refund. Bearer API key."""
    service = runtime.payments.payments
    refund = await service.get_refund(account, payment_id, refund_id)
    return JSONResponse(refund.to_api(service.base_url))


class NewWebhook(BaseModel):
    """A webhook to register for one council service's test or live account."""

    org_id: str = Field(min_length=1, max_length=64)
    service: str = Field(min_length=1, max_length=63)
    mode: Mode = Mode.LIVE
    callback_url: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=255)
    subscriptions: list[str] = Field(min_length=1, max_length=10)


class WebhookStatus(BaseModel):
    active: bool


@admin.post("", status_code=201, summary="Register a payment webhook (admin token)")
async def create_webhook(body: NewWebhook, actor: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Register a webhook; the answer holds its signing secret. Admin token."""
    issued = await runtime.payments.webhooks.create(
        body.org_id,
        body.service,
        body.mode,
        body.callback_url,
        body.subscriptions,
        actor,
        body.description,
    )
    return {**issued.webhook.to_api(), "signing_secret": issued.signing_secret}


@admin.get("", summary="List payment webhooks (admin token)")
async def list_webhooks(
    _: AdminDep, runtime: RuntimeDep, org_id: str | None = None
) -> dict[str, Any]:
    """Every webhook, or one organisation's; never their secrets. Admin token."""
    hooks: list[Webhook] = await runtime.payments.webhooks.all(org_id)
    return {"webhooks": [hook.to_api() for hook in hooks]}


@admin.get("/{webhook_id}", summary="Show a payment webhook and its attempts (admin token)")
async def show_webhook(webhook_id: str, _: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The webhook and its latest delivery attempts, newest first. Admin token."""
    webhooks = runtime.payments.webhooks
    hook = await webhooks.get(webhook_id)
    return {**hook.to_api(), "attempts": await webhooks.attempts(webhook_id)}


@admin.put("/{webhook_id}/status", summary="Activate or deactivate a webhook (admin token)")
async def set_webhook_status(
    webhook_id: str, body: WebhookStatus, actor: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Deactivate (nothing more is sent, queued messages included) or activate. Admin token."""
    return (await runtime.payments.webhooks.set_active(webhook_id, body.active, actor)).to_api()


router = APIRouter()
router.include_router(api)
router.include_router(refunds_api)
router.include_router(admin)
router.include_router(pages.router)
