"""The hosted payment page with JavaScript off, over real HTTP: the single-use link, each
sandbox test card's outcome, form errors that never echo the card, CSRF, and the way back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.payments.support import (
    Keyed,
    card_form,
    enter_card,
    page_path,
    pay,
    payment_body,
)
from tests.support.web import Browser

RETURN_URL = "https://parking.anytown.example/paid"


async def _create(http: httpx.AsyncClient, keyed: Keyed, **overrides: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/payments", json=payment_body(return_url=RETURN_URL, **overrides), headers=keyed.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _state(http: httpx.AsyncClient, keyed: Keyed, payment_id: str) -> dict[str, Any]:
    got = await http.get(f"/v1/payments/{payment_id}", headers=keyed.headers)
    state: dict[str, Any] = got.json()["state"]
    return state


async def test_paying_with_a_success_card_returns_to_the_service_and_keeps_only_the_last_four(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed)
    browser = open_browser()
    redirect = pay(browser, created["_links"]["next_url"]["href"])
    assert redirect.status_code == 303
    assert redirect.headers["location"] == RETURN_URL

    got = (await http.get(f"/v1/payments/{created['payment_id']}", headers=keyed.headers)).json()
    assert got["state"] == {"status": "success", "finished": True}
    assert got["card_details"]["last_digits_card_number"] == "1111"
    assert got["card_details"]["card_brand"] == "Visa"
    assert "first_digits_card_number" not in got["card_details"]
    assert got["refund_summary"] == {
        "status": "available",
        "amount_available": 12_000,
        "amount_submitted": 0,
    }
    events = (
        await http.get(f"/v1/payments/{created['payment_id']}/events", headers=keyed.headers)
    ).json()["events"]
    assert [e["state"]["status"] for e in events] == ["created", "started", "submitted", "success"]


@pytest.mark.parametrize(
    ("card", "status", "code"),
    [
        ("4000000000000002", "failed", "P0010"),
        ("4000000000000069", "failed", "P0010"),
        ("4000000000000127", "failed", "P0010"),
        ("4000000000000119", "error", "P0050"),
    ],
)
async def test_each_failing_test_card_ends_the_payment_with_its_code(
    http: httpx.AsyncClient,
    keyed: Keyed,
    open_browser: Callable[..., Browser],
    card: str,
    status: str,
    code: str,
) -> None:
    created = await _create(http, keyed)
    browser = open_browser()
    payment_id = enter_card(browser, created["_links"]["next_url"]["href"], card)
    page = browser.get(f"/pay/{payment_id}")
    assert RETURN_URL in page.text and card not in page.text
    state = await _state(http, keyed, payment_id)
    assert state["status"] == status and state["code"] == code and state["finished"] is True


async def test_the_link_works_once_and_only_in_the_browser_that_opened_it(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed)
    link = page_path(created["_links"]["next_url"]["href"])
    mine, theirs = open_browser(), open_browser()
    assert mine.get(link).status_code == 200
    assert mine.get(link).status_code == 200  # the same browser may come back
    stolen = theirs.get(link)
    assert stolen.status_code == 404
    assert "cannot be used" in stolen.text
    assert theirs.get(f"/pay/{created['payment_id']}").status_code == 404
    forged = open_browser().get(link[:-4] + "AAAA")
    assert forged.status_code == 404
    got = (await http.get(f"/v1/payments/{created['payment_id']}", headers=keyed.headers)).json()
    assert got["state"]["status"] == "started"
    assert "next_url" not in got["_links"]


async def test_a_malformed_or_unknown_card_is_refused_on_the_form_and_never_echoed(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed)
    browser = open_browser()
    browser.get(page_path(created["_links"]["next_url"]["href"]))
    path = f"/pay/{created['payment_id']}/card"
    for form, field in (
        (card_form("4444333322221112"), "card-number"),  # fails the Luhn check
        (card_form("4111111111111111"), "card-number"),  # a real-looking card: not a test card
        (card_form(cvc="12"), "cvc"),
        (card_form(**{"expiry-month": "13"}), "expiry-month"),
        (card_form(**{"expiry-year": "2001"}), "expiry-month"),
        (card_form(**{"cardholder-name": ""}), "cardholder-name"),
    ):
        response = browser.post(path, form)
        assert response.status_code == 400, form
        assert f'href="#{field}"' in response.text
        assert form["card-number"] not in response.text
    assert (await _state(http, keyed, created["payment_id"]))["status"] == "started"


async def test_a_form_without_the_csrf_token_is_refused(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed)
    browser = open_browser()
    browser.get(page_path(created["_links"]["next_url"]["href"]))
    response = browser.post(f"/pay/{created['payment_id']}/card", card_form(), csrf=False)
    assert response.status_code == 403
    assert (await _state(http, keyed, created["payment_id"]))["status"] == "started"


async def test_the_payer_can_cancel_and_is_offered_the_way_back(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed)
    browser = open_browser()
    browser.get(page_path(created["_links"]["next_url"]["href"]))
    page = browser.post(f"/pay/{created['payment_id']}/cancel", {})
    assert "Your payment has been cancelled" in page.text and RETURN_URL in page.text
    state = await _state(http, keyed, created["payment_id"])
    assert state["status"] == "failed" and state["code"] == "P0030"
