"""Search (``GET /v1/payments``, ``GET /v1/refunds``) over real HTTP: GOV.UK Pay's filters,
newest first, paging with ``_links``, its error codes, and another account's payments never
found; and the rate limit of an API key (429 ``P0900``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from payments.errors import PaymentRateLimitedError
from payments.keys import PaymentKeyService
from payments.models import Mode
from payments.store import PaymentKeyStore
from tests.payments.support import Contract, Keyed, new_key, pay, payment_body
from tests.support.clock import MovableClock
from tests.support.servers import threaded_gateway
from tests.support.web import Browser


async def _create(http: httpx.AsyncClient, keyed: Keyed, **body: object) -> dict[str, object]:
    response = await http.post("/v1/payments", json=payment_body(**body), headers=keyed.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_payments_are_found_by_reference_state_and_email_newest_first_and_paged(
    http: httpx.AsyncClient, keyed: Keyed, runtime: Runtime
) -> None:
    tag = secrets.token_hex(3)
    made = [
        await _create(http, keyed, reference=f"R-{tag}", email=f"jo{n}@example.org")
        for n in range(3)
    ]
    other = await _create(http, keyed, reference=f"S-{tag}")
    await http.post(f"/v1/payments/{other['payment_id']}/cancel", headers=keyed.headers)
    stranger = await new_key(runtime)  # another council: never sees these
    await _create(http, stranger, reference=f"R-{tag}")

    found = await http.get("/v1/payments", params={"reference": f"R-{tag}"}, headers=keyed.headers)
    assert found.status_code == 200, found.text
    page = found.json()
    assert page["total"] == 3 and page["count"] == 3 and page["page"] == 1
    ids = [p["payment_id"] for p in page["results"]]
    assert ids == [p["payment_id"] for p in reversed(made)], "newest first"
    assert all("next_url" not in p["_links"] for p in page["results"])

    cancelled = await http.get(
        "/v1/payments",
        params={"state": "cancelled", "reference": f"S-{tag}"},
        headers=keyed.headers,
    )
    assert [p["payment_id"] for p in cancelled.json()["results"]] == [other["payment_id"]]
    by_email = await http.get(
        "/v1/payments",
        params={"email": "JO1@example", "reference": f"R-{tag}"},
        headers=keyed.headers,
    )
    assert [p["payment_id"] for p in by_email.json()["results"]] == [made[1]["payment_id"]]

    second = await http.get(
        "/v1/payments",
        params={"reference": f"R-{tag}", "display_size": "1", "page": "2"},
        headers=keyed.headers,
    )
    body = second.json()
    assert body["total"] == 3 and body["count"] == 1 and body["page"] == 2
    assert body["results"][0]["payment_id"] == made[1]["payment_id"]
    links = body["_links"]
    assert set(links) == {"self", "first_page", "last_page", "prev_page", "next_page"}
    assert "page=3" in links["last_page"]["href"] and f"reference=R-{tag}" in links["self"]["href"]
    following_url = urlsplit(links["next_page"]["href"])  # the issuer's; tests serve on a port
    following = await http.get(f"{following_url.path}?{following_url.query}", headers=keyed.headers)
    assert following.json()["results"][0]["payment_id"] == made[0]["payment_id"]

    past_the_end = await http.get(
        "/v1/payments",
        params={"reference": f"R-{tag}", "display_size": "1", "page": "4"},
        headers=keyed.headers,
    )
    assert past_the_end.status_code == 404 and past_the_end.json()["code"] == "P0402"


async def test_the_date_range_is_from_inclusive_and_to_exclusive(
    http: httpx.AsyncClient, keyed: Keyed
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    made = await _create(http, keyed, reference="dated")
    after = datetime.now(UTC) + timedelta(seconds=1)
    params = {"reference": "dated"}
    inside = await http.get(
        "/v1/payments",
        params={**params, "from_date": before.isoformat(), "to_date": after.isoformat()},
        headers=keyed.headers,
    )
    assert [p["payment_id"] for p in inside.json()["results"]] == [made["payment_id"]]
    outside = await http.get(
        "/v1/payments", params={**params, "to_date": before.isoformat()}, headers=keyed.headers
    )
    assert outside.json()["total"] == 0 and outside.json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"state": "paid"},
        {"display_size": "0"},
        {"display_size": "501"},
        {"page": "-1"},
        {"from_date": "yesterday"},
        {"to_date": "2026-01-21T17:15:00"},  # no time zone
        {"last_digits_card_number": "12a4"},
        {"first_digits_card_number": "1234567"},
    ],
)
async def test_invalid_search_parameters_are_p0401(
    http: httpx.AsyncClient, keyed: Keyed, params: dict[str, str]
) -> None:
    response = await http.get("/v1/payments", params=params, headers=keyed.headers)
    assert response.status_code == 422 and response.json()["code"] == "P0401"


async def test_refunds_are_searched_per_account_newest_first(
    http: httpx.AsyncClient, keyed: Keyed, open_browser: Callable[..., Browser]
) -> None:
    created = await _create(http, keyed, amount=1_000)
    assert pay(open_browser(), str(created["_links"]["next_url"]["href"])).status_code == 303  # type: ignore[index]
    path = f"/v1/payments/{created['payment_id']}/refunds"
    first = (await http.post(path, json={"amount": 100}, headers=keyed.headers)).json()
    second = (await http.post(path, json={"amount": 200}, headers=keyed.headers)).json()
    found = await http.get("/v1/refunds", headers=keyed.headers)
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert [r["refund_id"] for r in results[:2]] == [second["refund_id"], first["refund_id"]]
    assert (
        results[0]["settlement_summary"] == {} and results[0]["payment_id"] == created["payment_id"]
    )
    bad = await http.get("/v1/refunds", params={"display_size": "x"}, headers=keyed.headers)
    assert bad.status_code == 422 and bad.json()["code"] == "P1101"
    gone = await http.get("/v1/refunds", params={"page": "99"}, headers=keyed.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "P1100"


async def test_an_api_key_past_its_requests_a_second_is_refused_until_the_next_second(
    runtime: Runtime, keyed: Keyed
) -> None:
    clock = MovableClock(datetime.now(UTC).replace(microsecond=0))
    keys = PaymentKeyService(
        PaymentKeyStore(runtime.redis), clock, runtime.evidence, runtime.organisations, rate_limit=3
    )
    for _ in range(3):
        await keys.authenticate(keyed.secret)
    with pytest.raises(PaymentRateLimitedError) as refused:
        await keys.authenticate(keyed.secret)
    assert refused.value.code == "P0900"
    other = await new_key(runtime, Mode.TEST, keyed.org_id)  # each key counts on its own
    await keys.authenticate(other.secret)
    clock.advance(seconds=1)
    await keys.authenticate(keyed.secret)


async def test_the_api_answers_429_p0900_past_the_rate_limit(
    settings: Settings, keyed: Keyed, spec: Contract
) -> None:
    """Validated against the specification's ``ErrorResponse`` for 429."""
    limited = settings.model_copy(update={"payments_rate_limit_per_second": 2})
    with threaded_gateway(limited) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            answers = [
                await client.get("/v1/payments/nosuch", headers=keyed.headers) for _ in range(6)
            ]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert refused[0].json()["code"] == "P0900"
    spec.check(refused[0], "/v1/payments/{paymentId}")
