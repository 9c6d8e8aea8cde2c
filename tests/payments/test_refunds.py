"""Delayed capture and refunds over real HTTP: capture takes the payment once however many
ask, refunds never return more than was paid, and a stale ``refund_amount_available`` is
refused with 412 P0604."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from gateway.runtime import Runtime
from tests.payments.support import Keyed, enter_card, pay, payment_body
from tests.support.web import Browser


async def _paid(http: httpx.AsyncClient, keyed: Keyed, browser: Browser, **overrides: Any) -> str:
    created = await http.post("/v1/payments", json=payment_body(**overrides), headers=keyed.headers)
    assert created.status_code == 201
    assert pay(browser, created.json()["_links"]["next_url"]["href"]).status_code == 303
    payment_id: str = created.json()["payment_id"]
    return payment_id


async def test_a_delayed_capture_payment_waits_and_fifty_parallel_captures_take_it_once(
    http: httpx.AsyncClient,
    gateway_url: str,
    runtime: Runtime,
    keyed: Keyed,
    open_browser: Callable[..., Browser],
) -> None:
    payment_id = await _paid(http, keyed, open_browser(), delayed_capture=True)
    path = f"/v1/payments/{payment_id}"
    held = (await http.get(path, headers=keyed.headers)).json()
    assert held["state"] == {"status": "capturable", "finished": False}
    assert held["_links"]["capture"]["method"] == "POST"
    assert held["refund_summary"]["status"] == "pending"

    async with httpx.AsyncClient(
        base_url=gateway_url, timeout=30, limits=httpx.Limits(max_connections=50)
    ) as client:
        answers = await asyncio.gather(
            *(client.post(f"{path}/capture", headers=keyed.headers) for _ in range(50))
        )
    assert {a.status_code for a in answers} == {204}
    events = (await http.get(f"{path}/events", headers=keyed.headers)).json()["events"]
    assert [e["state"]["status"] for e in events].count("success") == 1
    captured = (await http.get(path, headers=keyed.headers)).json()
    assert captured["state"]["status"] == "success"
    assert "capture_submit_time" in captured["settlement_summary"]


async def test_capturing_a_payment_that_is_not_capturable_is_a_conflict(
    http: httpx.AsyncClient, keyed: Keyed
) -> None:
    created = (await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)).json()
    response = await http.post(
        f"/v1/payments/{created['payment_id']}/capture", headers=keyed.headers
    )
    assert response.status_code == 409 and response.json()["code"] == "P1003"


async def test_partial_then_full_refund_and_a_stale_available_amount_gets_412(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    payment_id = await _paid(http, keyed, open_browser())
    refunds = f"/v1/payments/{payment_id}/refunds"
    partial = await http.post(
        refunds, json={"amount": 2_000, "refund_amount_available": 12_000}, headers=keyed.headers
    )
    assert partial.status_code == 202
    assert partial.json()["status"] == "success" and partial.json()["amount"] == 2_000

    stale = await http.post(
        refunds, json={"amount": 1_000, "refund_amount_available": 12_000}, headers=keyed.headers
    )
    assert stale.status_code == 412 and stale.json()["code"] == "P0604"
    too_much = await http.post(refunds, json={"amount": 10_001}, headers=keyed.headers)
    assert too_much.status_code == 412 and too_much.json()["code"] == "P0603"

    rest = await http.post(
        refunds, json={"amount": 10_000, "refund_amount_available": 10_000}, headers=keyed.headers
    )
    assert rest.status_code == 202
    payment = (await http.get(f"/v1/payments/{payment_id}", headers=keyed.headers)).json()
    assert payment["refund_summary"] == {
        "status": "full",
        "amount_available": 0,
        "amount_submitted": 12_000,
    }
    listed = (await http.get(refunds, headers=keyed.headers)).json()
    assert [r["amount"] for r in listed["_embedded"]["refunds"]] == [2_000, 10_000]
    one = await http.get(f"{refunds}/{rest.json()['refund_id']}", headers=keyed.headers)
    assert one.json() == rest.json()
    missing = await http.get(f"{refunds}/nosuchrefund", headers=keyed.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "P0700"


async def test_fifty_parallel_refunds_never_return_more_than_was_paid(
    http: httpx.AsyncClient,
    gateway_url: str,
    keyed: Keyed,
    open_browser: Callable[..., Browser],
) -> None:
    payment_id = await _paid(http, keyed, open_browser())  # £120.00
    refunds = f"/v1/payments/{payment_id}/refunds"
    async with httpx.AsyncClient(
        base_url=gateway_url, timeout=30, limits=httpx.Limits(max_connections=50)
    ) as client:
        answers = await asyncio.gather(
            *(
                client.post(refunds, json={"amount": 1_000}, headers=keyed.headers)
                for _ in range(50)
            )
        )
    statuses = [a.status_code for a in answers]
    assert statuses.count(202) == 12 and statuses.count(412) == 38
    listed = (await http.get(refunds, headers=keyed.headers)).json()["_embedded"]["refunds"]
    assert sum(r["amount"] for r in listed) == 12_000


async def test_refunding_an_unpaid_payment_or_with_a_bad_amount_is_refused(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = (await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)).json()
    refunds = f"/v1/payments/{created['payment_id']}/refunds"
    unpaid = await http.post(refunds, json={"amount": 100}, headers=keyed.headers)
    assert unpaid.status_code == 412 and unpaid.json()["code"] == "P0603"
    for body, status, code in (
        ({}, 400, "P0601"),
        ({"amount": 0}, 422, "P0602"),
        ({"amount": "100"}, 422, "P0602"),
    ):
        response = await http.post(refunds, json=body, headers=keyed.headers)
        assert response.status_code == status and response.json()["code"] == code

    declined = (await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)).json()
    enter_card(open_browser(), declined["_links"]["next_url"]["href"], "4000000000000002")
    refused = await http.post(
        f"/v1/payments/{declined['payment_id']}/refunds", json={"amount": 1}, headers=keyed.headers
    )
    assert refused.status_code == 412 and refused.json()["code"] == "P0603"
