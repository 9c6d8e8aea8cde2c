"""The daily reconciliation report: one UK day (23 or 25 hours when the clocks change), the
day's payments and refunds of one service's account and their totals, as JSON and CSV from
``govconnect payments report`` run as an operator runs it; a reference that a spreadsheet
would run as a formula is written inert."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.core.settings import Settings
from payments.report import UK, uk_day
from tests.payments.support import Keyed, pay, payment_body
from tests.support.servers import gateway_env, run_cli
from tests.support.web import Browser


def test_a_uk_day_is_midnight_to_midnight_in_london_whatever_the_clocks_do() -> None:
    for day, hours in ((date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 7, 1), 24)):
        start, end = uk_day(day)
        assert end - start == timedelta(hours=hours)
    summer_start, _ = uk_day(date(2026, 7, 1))
    assert summer_start.astimezone(UTC) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, settings: Settings, redis_url: str, pki_dir: Path) -> dict[str, str]:
    extra = {"GOVCONNECT_REDIS_URL": redis_url, "GOVCONNECT_PKI_DIR": str(pki_dir)}
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


async def test_the_report_lists_the_days_payments_refunds_and_totals_as_json_and_csv(
    http: httpx.AsyncClient,
    keyed: Keyed,
    open_browser: Callable[..., Browser],
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    paid = (
        await http.post(
            "/v1/payments", json=payment_body(reference="=SUM(A1)"), headers=keyed.headers
        )
    ).json()
    assert pay(open_browser(), paid["_links"]["next_url"]["href"]).status_code == 303
    refund = await http.post(
        f"/v1/payments/{paid['payment_id']}/refunds", json={"amount": 500}, headers=keyed.headers
    )
    assert refund.status_code == 202
    cancelled = (await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)).json()
    await http.post(f"/v1/payments/{cancelled['payment_id']}/cancel", headers=keyed.headers)

    today = datetime.now(UK).date().isoformat()
    base = ("payments", "report", "--org", keyed.org_id, "--service", keyed.service)
    report = json.loads(run_cli(env, tmp_path, *base, "--date", today, "--test", "--json").stdout)
    assert report["date"] == today and report["time_zone"] == "Europe/London"
    assert [p["payment_id"] for p in report["payments"]] == [
        paid["payment_id"],
        cancelled["payment_id"],
    ]
    assert [r["refund_id"] for r in report["refunds"]] == [refund.json()["refund_id"]]
    assert report["totals"] == {
        "payments": 2,
        "successful_payments": 1,
        "amount": 12_000,
        "fees": 0,
        "net": 12_000,
        "refunds": 1,
        "refunded": 500,
        "balance": 11_500,
    }

    rows = list(
        csv.DictReader(io.StringIO(run_cli(env, tmp_path, *base, "--date", today, "--test").stdout))
    )
    assert [row["kind"] for row in rows] == ["payment", "payment", "refund", "total"]
    assert rows[0]["reference"] == "'=SUM(A1)", "a formula is written inert"
    assert rows[2]["amount"] == "-500" and rows[3]["net"] == "11500"

    live = json.loads(run_cli(env, tmp_path, *base, "--date", today, "--json").stdout)
    assert live["payments"] == [] and live["totals"]["amount"] == 0, "the live account's own"
    bad = run_cli(env, tmp_path, *base, "--date", "28/11/2026", check=False)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
