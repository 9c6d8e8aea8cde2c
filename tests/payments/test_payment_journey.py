"""The paying user's journey in Chromium with every sandbox test card, each page checked with
axe-core, and the council's webhook receiving each outcome signed with ``Pay-Signature``
(sent by the live gateway's own worker); afterwards neither the Redis data (keys and the
append-only file) nor the logs hold any full test card number."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Page, expect

from tests.gateway.delivery.receiver import Pushed, Receiver, running_receiver
from tests.payments.support import TEST_CARDS, Keyed, page_path, payment_body
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.browser

# The webhook events each card's payment sends, as GOV.UK Pay maps them.
EVENTS = {
    "success": ["card_payment_succeeded", "card_payment_captured"],
    "failed": ["card_payment_failed"],
    "error": ["card_payment_failed"],
}
OUTCOMES = {
    "4444333322221111": ("success", None),
    "4242424242424242": ("success", None),
    "4000000000000002": ("failed", "P0010"),
    "4000000000000069": ("failed", "P0010"),
    "4000000000000127": ("failed", "P0010"),
    "4000000000000119": ("error", "P0050"),
}


def _create(gateway_url: str, keyed: Keyed, reference: str) -> dict[str, object]:
    body = payment_body(reference=reference, return_url=f"{gateway_url}/healthz?ref={reference}")
    response = httpx.post(f"{gateway_url}/v1/payments", json=body, headers=keyed.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def _enter_card(page: Page, number: str, check: bool) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Month").fill("12")
    page.get_by_label("Year").fill("2035")
    page.get_by_label("Name on card").fill("Jo Bloggs")
    page.get_by_label("Card security code").fill("123")
    if check:
        assert_accessible(page, "enter card details, filled in")
    page.get_by_role("button", name="Continue").click()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _register(gateway_url: str, admin_headers: dict[str, str], keyed: Keyed, url: str) -> str:
    """A webhook for every event; its signing secret."""
    response = httpx.post(
        f"{gateway_url}/admin/v1/payment-webhooks",
        json={
            "org_id": keyed.org_id,
            "service": keyed.service,
            "mode": "test",
            "callback_url": url,
            "subscriptions": [
                "card_payment_succeeded",
                "card_payment_captured",
                "card_payment_failed",
                "card_payment_expired",
                "card_payment_refunded",
            ],
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["signing_secret"])


def _arrived(receiver: Receiver, count: int, within: float = 20.0) -> list[Pushed]:
    deadline = time.monotonic() + within
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} webhooks"
        time.sleep(0.05)
    return list(receiver.received)


def _dump(client: redis.Redis) -> str:
    """Every value in the store, whatever its type (SCAN: tests only)."""
    parts: list[str] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == "string":
            parts.append(str(client.get(key)))
        elif kind == "hash":
            parts.append(str(client.hgetall(key)))
        elif kind == "list":
            parts.append(str(client.lrange(key, 0, -1)))
        elif kind == "set":
            parts.append(str(client.smembers(key)))
        elif kind == "zset":
            parts.append(str(client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(str(client.xrange(key)))
        parts.append(str(key))
    return "\n".join(parts)


def _append_only_files(client: redis.Redis) -> list[Path]:
    folder = Path(str(client.config_get("dir")["dir"]))
    return [p for p in folder.rglob("*.aof*") if p.is_file()] if folder.is_dir() else []


def test_every_test_card_in_chromium_with_signed_webhooks_and_no_card_number_kept_or_logged(
    page: Page,
    gateway_url: str,
    keyed: Keyed,
    redis_url: str,
    admin_headers: dict[str, str],
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = _register(gateway_url, admin_headers, keyed, receiver.url)
    expected: list[tuple[str, str, str]] = []  # (payment id, event type, status)
    for index, number in enumerate(TEST_CARDS):
        reference = f"ref-{secrets.token_hex(4)}"
        created = _create(gateway_url, keyed, reference)
        links = created["_links"]
        assert isinstance(links, dict)
        page.goto(gateway_url + page_path(links["next_url"]["href"]))
        expect(page.get_by_role("heading", name="Enter card details")).to_be_visible()
        if index == 0:
            assert_accessible(page, "enter card details")
            page.get_by_role("button", name="Continue").click()
            expect(page.get_by_text("Enter your card number").first).to_be_visible()
            assert_accessible(page, "enter card details, with errors")
        _enter_card(page, number, check=index == 0)
        status, code = OUTCOMES[number]
        if status == "success":
            expect(page.get_by_role("heading", name="Confirm your payment")).to_be_visible()
            expect(page.get_by_text(f"Card ending {number[-4:]}")).to_be_visible()
            if index == 0:
                assert_accessible(page, "confirm your payment")
            page.get_by_role("button", name="Confirm payment").click()
            expect(page).to_have_url(re.compile(rf"/healthz\?ref={reference}$"))
        else:
            expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("payment"))
            assert_accessible(page, f"payment ended: {code}")
            page.get_by_role("button", name=re.compile("Go back|Continue")).click()
            expect(page).to_have_url(re.compile(rf"/healthz\?ref={reference}$"))
        got = httpx.get(
            f"{gateway_url}/v1/payments/{created['payment_id']}", headers=keyed.headers
        ).json()
        assert got["state"]["status"] == status and got["state"].get("code") == code
        assert got["card_details"]["last_digits_card_number"] == number[-4:]
        expected += [(str(created["payment_id"]), event, status) for event in EVENTS[status]]

    # Each outcome reached the council's webhook, signed with the webhook's secret.
    received: list[tuple[str, str, str]] = []
    for sent in _arrived(receiver, len(expected)):
        wanted = hmac.new(secret.encode(), sent.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(sent.headers["pay-signature"], wanted), "Pay-Signature"
        message = json.loads(sent.body)
        assert message["api_version"] == 1 and message["resource_type"] == "payment"
        resource = message["resource"]
        assert resource["payment_id"] == message["resource_id"]
        assert "next_url" not in resource["_links"]
        received.append(
            (message["resource_id"], message["event_type"], resource["state"]["status"])
        )
    assert sorted(received) == sorted(expected)

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stored = _dump(client)
        append_only = [p.read_bytes() for p in _append_only_files(client)]
    finally:
        client.close()
    if redis_url.startswith("unix://"):  # the embedded server: its files are here to read
        assert append_only, "the embedded store's append-only file was not found"
    for number in TEST_CARDS:
        assert number not in stored, "a full card number is in Redis"
        assert all(number.encode() not in blob for blob in append_only), "… in the AOF"
        assert number not in caplog.text, "a full card number was logged"


def test_a_payment_asked_for_in_welsh_is_paid_on_welsh_pages(
    page: Page, gateway_url: str, keyed: Keyed
) -> None:
    """``"language": "cy"`` (GOV.UK Pay's create request) gives the payer every page in
    Welsh, declared as Welsh (``lang="cy"``), its errors included, and accessible."""
    reference = f"ref-{secrets.token_hex(4)}"
    body = payment_body(
        reference=reference, return_url=f"{gateway_url}/healthz?ref={reference}", language="cy"
    )
    created = httpx.post(f"{gateway_url}/v1/payments", json=body, headers=keyed.headers).json()
    assert created["language"] == "cy"
    page.goto(gateway_url + page_path(created["_links"]["next_url"]["href"]))
    expect(page.get_by_role("heading", name="Rhowch fanylion y cerdyn")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    page.get_by_role("button", name="Parhau").click()
    expect(page.get_by_text("Mae problem wedi codi")).to_be_visible()
    expect(page.get_by_text("Rhowch rif eich cerdyn").first).to_be_visible()
    assert page.title().startswith("Gwall: ")
    assert_accessible(page, "Welsh card details, with errors")
    page.get_by_label("Rhif y cerdyn").fill(TEST_CARDS[0])
    page.get_by_label("Mis").fill("12")
    page.get_by_label("Blwyddyn").fill("2035")
    page.get_by_label("Enw ar y cerdyn").fill("Siân Jones")
    page.get_by_label("Cod diogelwch y cerdyn").fill("123")
    page.get_by_role("button", name="Parhau").click()
    expect(page.get_by_role("heading", name="Cadarnhewch eich taliad")).to_be_visible()
    expect(page.get_by_text(f"Cerdyn yn gorffen â {TEST_CARDS[0][-4:]}")).to_be_visible()
    assert_accessible(page, "Welsh confirmation")
    page.get_by_role("button", name="Cadarnhau'r taliad").click()
    expect(page).to_have_url(re.compile(rf"/healthz\?ref={reference}$"))
