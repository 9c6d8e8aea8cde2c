"""The ``/v1/payments`` API over real HTTP: GOV.UK Pay's fields, status codes and
``{code, description}`` errors; bearer keys that only reach their own account; the
``Idempotency-Key`` rules; card numbers refused where they do not belong."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from payments.models import Mode
from tests.conftest import TEST_ACTOR
from tests.payments.support import Keyed, new_key, payment_body


async def _create(http: httpx.AsyncClient, keyed: Keyed, **overrides: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/payments", json=payment_body(**overrides), headers=keyed.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_answers_the_payment_with_its_links_and_get_reads_it(
    http: httpx.AsyncClient, keyed: Keyed, settings: Settings
) -> None:
    issuer = settings.issuer
    created = await _create(http, keyed, metadata={"ledger_code": "AB100", "vat": True})
    assert len(created["payment_id"]) == 26
    assert created["amount"] == 12_000 and created["reference"] == "PCN-AB12-3456"
    assert created["state"] == {"status": "created", "finished": False}
    assert created["metadata"] == {"ledger_code": "AB100", "vat": True}
    assert created["_links"]["next_url"]["href"].startswith(f"{issuer}/pay/")
    assert created["_links"]["self"]["href"] == f"{issuer}/v1/payments/{created['payment_id']}"
    assert created["created_date"].endswith("Z")

    got = await http.get(f"/v1/payments/{created['payment_id']}", headers=keyed.headers)
    assert got.status_code == 200
    assert got.json() == created


async def test_missing_and_invalid_fields_get_govuk_pay_codes(
    http: httpx.AsyncClient, keyed: Keyed
) -> None:
    missing = await http.post(
        "/v1/payments", json={"amount": 100, "reference": "r"}, headers=keyed.headers
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "P0101" and missing.json()["field"] == "description"

    for body, field in (
        (payment_body(amount=10_000_001), "amount"),
        (payment_body(amount=0), "amount"),
        (payment_body(amount="100"), "amount"),
        (payment_body(reference="x" * 256), "reference"),
        (payment_body(return_url="not a url"), "return_url"),
        (payment_body(language="fr"), "language"),
        (payment_body(metadata={"k": {"nested": 1}}), "metadata"),
        (payment_body(metadata={f"k{i}": i for i in range(11)}), "metadata"),
    ):
        response = await http.post("/v1/payments", json=body, headers=keyed.headers)
        assert response.status_code == 422, body
        assert response.json()["code"] == "P0102" and response.json()["field"] == field

    garbage = await http.post(
        "/v1/payments",
        content=b"{not json",
        headers={**keyed.headers, "content-type": "application/json"},
    )
    assert garbage.status_code == 400 and garbage.json()["code"] == "P0197"


@pytest.mark.parametrize(
    "overrides",
    [
        {"reference": "4444333322221111"},
        {"description": "card 4444 3333 2222 1111 thanks"},
        {"description": "4242-4242-4242-4242"},
        {"metadata": {"note": "pan 4000000000000002"}},
    ],
)
async def test_a_card_number_in_reference_description_or_metadata_is_refused(
    http: httpx.AsyncClient, keyed: Keyed, overrides: dict[str, Any]
) -> None:
    response = await http.post(
        "/v1/payments", json=payment_body(**overrides), headers=keyed.headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "P0105"
    assert "4444" not in response.text and "4242" not in response.text


async def test_digit_runs_that_fail_luhn_are_allowed(http: httpx.AsyncClient, keyed: Keyed) -> None:
    await _create(http, keyed, reference="4444333322221112", description="Invoice 123456789012")


async def test_no_key_a_wrong_key_and_a_revoked_key_get_401_without_a_body(
    http: httpx.AsyncClient, runtime: Runtime, keyed: Keyed
) -> None:
    forged = "api_test_" + secrets.token_urlsafe(32)
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic abc"}):
        response = await http.post("/v1/payments", json=payment_body(), headers=headers)
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["www-authenticate"].startswith("Bearer")

    await _create(http, keyed)
    await runtime.payments.keys.revoke(keyed.key_id, TEST_ACTOR)
    revoked = await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)
    assert revoked.status_code == 401


async def test_another_accounts_payment_is_not_found(
    http: httpx.AsyncClient, runtime: Runtime, keyed: Keyed
) -> None:
    created = await _create(http, keyed)
    path = f"/v1/payments/{created['payment_id']}"
    same_org_live = await new_key(runtime, Mode.LIVE, org_id=keyed.org_id)
    other_org = await new_key(runtime)
    for other in (same_org_live, other_org):
        for method, suffix, code in (
            ("GET", "", "P0200"),
            ("GET", "/events", "P0300"),
            ("POST", "/cancel", "P0500"),
            ("POST", "/capture", "P1000"),
            ("GET", "/refunds", "P0800"),
        ):
            response = await http.request(method, path + suffix, headers=other.headers)
            assert response.status_code == 404, (method, suffix)
            assert response.json()["code"] == code
    unknown = await http.get("/v1/payments/nosuchpayment", headers=keyed.headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "P0200"


async def test_cancel_moves_an_unfinished_payment_once_and_events_list_every_state(
    http: httpx.AsyncClient, keyed: Keyed
) -> None:
    created = await _create(http, keyed)
    path = f"/v1/payments/{created['payment_id']}"
    first = await http.post(f"{path}/cancel", headers=keyed.headers)
    assert first.status_code == 204
    again = await http.post(f"{path}/cancel", headers=keyed.headers)
    assert again.status_code == 409 and again.json()["code"] == "P0502"

    got = (await http.get(path, headers=keyed.headers)).json()
    assert got["state"] == {
        "status": "cancelled",
        "finished": True,
        "code": "P0040",
        "message": "Payment was cancelled by the service",
    }
    assert "next_url" not in got["_links"] and "cancel" not in got["_links"]
    events = (await http.get(f"{path}/events", headers=keyed.headers)).json()
    assert [e["state"]["status"] for e in events["events"]] == ["created", "cancelled"]
    assert events["payment_id"] == created["payment_id"]


async def test_the_same_idempotency_key_and_body_answers_the_original_with_200(
    http: httpx.AsyncClient, keyed: Keyed
) -> None:
    headers = {**keyed.headers, "Idempotency-Key": f"idem-{secrets.token_hex(8)}"}
    first = await http.post("/v1/payments", json=payment_body(), headers=headers)
    # The same content with its keys in another order is the same body.
    reordered = dict(reversed(list(payment_body().items())))
    second = await http.post("/v1/payments", json=reordered, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json() == first.json()

    different = await http.post("/v1/payments", json=payment_body(amount=1), headers=headers)
    assert different.status_code == 409
    assert different.json()["code"] == "P0191"
    assert different.json()["header"] == "Idempotency-Key"

    bad = await http.post(
        "/v1/payments", json=payment_body(), headers={**keyed.headers, "Idempotency-Key": "a b"}
    )
    assert bad.status_code == 422 and bad.json()["header"] == "Idempotency-Key"


async def test_the_same_idempotency_key_in_two_accounts_makes_two_payments(
    http: httpx.AsyncClient, runtime: Runtime, keyed: Keyed
) -> None:
    other = await new_key(runtime)
    key = f"shared-{secrets.token_hex(8)}"
    mine = await http.post(
        "/v1/payments", json=payment_body(), headers={**keyed.headers, "Idempotency-Key": key}
    )
    theirs = await http.post(
        "/v1/payments", json=payment_body(), headers={**other.headers, "Idempotency-Key": key}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["payment_id"] != theirs.json()["payment_id"]


async def test_fifty_parallel_creates_with_one_idempotency_key_make_exactly_one_payment(
    gateway_url: str, keyed: Keyed
) -> None:
    headers = {**keyed.headers, "Idempotency-Key": f"race-{secrets.token_hex(8)}"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/payments", json=payment_body(), headers=headers) for _ in range(50))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201]
    assert len({r.json()["payment_id"] for r in responses}) == 1
    next_urls = {r.json()["_links"]["next_url"]["href"] for r in responses}
    assert len(next_urls) == 1
