"""Real responses of the payment API validated against the GOV.UK Pay public API
specification (a copy of ``shared/reference/govuk-pay-publicapi-openapi.json`` in
``tests/payments/reference/``) with openapi-core.

Two answers the issue asks for are not in the specification's list for their operation, and
are checked against the schema of their nearest sibling: the ``Idempotency-Key`` repeat (200)
against the create's ``CreatePaymentResult``, and its conflict (409, P0191) against
``RequestError``, the shape of every other error of that operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.payments.support import Contract, Keyed, enter_card, pay, payment_body
from tests.support.web import Browser

# A verbatim copy of shared/reference/govuk-pay-publicapi-openapi.json, kept with the tests so a
# clean clone (CI) has it.
PAYMENT = "/v1/payments/{paymentId}"


async def test_every_payment_api_response_validates_against_the_govuk_pay_specification(
    spec: Contract, http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    def post(path: str, body: Any = None, **headers: str) -> Any:
        return http.post(path, json=body, headers={**keyed.headers, **headers})

    def get(path: str) -> Any:
        return http.get(path, headers=keyed.headers)

    created = await post("/v1/payments", payment_body(metadata={"ledger": "AB1", "n": 2}))
    assert created.status_code == 201
    spec.check(created, "/v1/payments")
    payment_id = created.json()["payment_id"]
    path = f"/v1/payments/{payment_id}"
    spec.check(await get(path), PAYMENT)
    spec.check(await get(f"{path}/events"), PAYMENT + "/events")
    spec.check(await post(f"{path}/cancel"), PAYMENT + "/cancel")
    spec.check(await post(f"{path}/cancel"), PAYMENT + "/cancel")  # 409
    spec.check(await get(path), PAYMENT)  # cancelled, with code and message
    spec.check(await get("/v1/payments/nosuchpayment"), PAYMENT)  # 404
    spec.check(await post(f"{path}/capture"), PAYMENT + "/capture")  # 409
    spec.check(await post("/v1/payments", {"amount": 1}), "/v1/payments")  # 400
    spec.check(await post("/v1/payments", payment_body(amount=-1)), "/v1/payments")  # 422
    unauthenticated = await http.post("/v1/payments", json=payment_body())
    assert unauthenticated.status_code == 401
    spec.check(unauthenticated, "/v1/payments")

    idempotent = {"Idempotency-Key": "contract-" + payment_id}
    first = await post("/v1/payments", payment_body(), **idempotent)
    repeat = await post("/v1/payments", payment_body(), **idempotent)
    assert repeat.status_code == 200
    spec.check(repeat, "/v1/payments", as_status=201)
    conflict = await post("/v1/payments", payment_body(amount=5), **idempotent)
    assert conflict.status_code == 409
    spec.check(conflict, "/v1/payments", as_status=400)

    # Paid in full, then refunded: the payment with card details, refunds and their errors.
    paid = first.json()
    assert pay(open_browser(), paid["_links"]["next_url"]["href"]).status_code == 303
    paid_path = f"/v1/payments/{paid['payment_id']}"
    spec.check(await get(paid_path), PAYMENT)
    refund = await post(f"{paid_path}/refunds", {"amount": 100, "refund_amount_available": 12_000})
    assert refund.status_code == 202
    spec.check(refund, PAYMENT + "/refunds")
    spec.check(
        await post(f"{paid_path}/refunds", {"amount": 100, "refund_amount_available": 1}),
        PAYMENT + "/refunds",
    )  # 412
    spec.check(await post(f"{paid_path}/refunds", {"amount": 100}), PAYMENT + "/refunds")
    spec.check(await get(f"{paid_path}/refunds"), PAYMENT + "/refunds")
    spec.check(
        await get(f"{paid_path}/refunds/{refund.json()['refund_id']}"),
        PAYMENT + "/refunds/{refundId}",
    )
    spec.check(await get(f"{paid_path}/refunds/nosuch"), PAYMENT + "/refunds/{refundId}")
    spec.check(await get(f"{paid_path}/events"), PAYMENT + "/events")

    # Delayed capture: capturable, then captured (204).
    held = (await post("/v1/payments", payment_body(delayed_capture=True))).json()
    assert pay(open_browser(), held["_links"]["next_url"]["href"]).status_code == 303
    held_path = f"/v1/payments/{held['payment_id']}"
    spec.check(await get(held_path), PAYMENT)
    spec.check(await post(f"{held_path}/capture"), PAYMENT + "/capture")

    # Declined: failed with P0010 and the card details kept.
    declined = (await post("/v1/payments", payment_body())).json()
    enter_card(open_browser(), declined["_links"]["next_url"]["href"], "4000000000000002")
    spec.check(await get(f"/v1/payments/{declined['payment_id']}"), PAYMENT)


async def test_search_responses_validate_against_the_govuk_pay_specification(
    spec: Contract, http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    def get(path: str, **params: str) -> Any:
        return http.get(path, params=params, headers=keyed.headers)

    paid = (await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)).json()
    assert pay(open_browser(), paid["_links"]["next_url"]["href"]).status_code == 303
    await http.post(
        "/v1/payments", json=payment_body(email="jo@example.org"), headers=keyed.headers
    )
    refund_path = f"/v1/payments/{paid['payment_id']}/refunds"
    assert (await http.post(refund_path, json={"amount": 5}, headers=keyed.headers)).is_success
    spec.check(await get("/v1/payments"), "/v1/payments")
    spec.check(await get("/v1/payments", display_size="1", page="2"), "/v1/payments")
    spec.check(await get("/v1/payments", state="success", card_brand="visa"), "/v1/payments")
    spec.check(await get("/v1/payments", state="nonsense"), "/v1/payments")  # 422
    spec.check(await get("/v1/refunds"), "/v1/refunds")
    spec.check(await get("/v1/refunds", from_date="junk"), "/v1/refunds")  # 422
    unauthenticated = await http.get("/v1/refunds")
    assert unauthenticated.status_code == 401
    spec.check(unauthenticated, "/v1/refunds")
