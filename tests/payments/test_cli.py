"""``govconnect payments keys`` as an operator runs it: a real subprocess against the test
store; the key is printed once, works at once, is stored only hashed, and stops working when
revoked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from payments.store import KEY_DIGESTS, KEYS
from tests.payments.support import new_key, payment_body
from tests.support.servers import gateway_env, run_cli


@pytest.fixture
def env(tmp_path: Path, settings: Settings, redis_url: str, pki_dir: Path) -> dict[str, str]:
    extra = {"GOVCONNECT_REDIS_URL": redis_url, "GOVCONNECT_PKI_DIR": str(pki_dir)}
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


async def test_create_prints_a_working_key_once_and_revoke_stops_it(
    env: dict[str, str], tmp_path: Path, runtime: Runtime, http: httpx.AsyncClient
) -> None:
    org_id = (await new_key(runtime)).org_id
    created = json.loads(
        run_cli(
            env,
            tmp_path,
            "payments",
            "keys",
            "create",
            "--org",
            org_id,
            "--service",
            "council-tax",
            "--test",
            "--json",
        ).stdout
    )
    secret = created["key"]
    assert secret.startswith("api_test_") and created["mode"] == "test"
    headers = {"Authorization": f"Bearer {secret}"}
    assert (
        await http.post("/v1/payments", json=payment_body(), headers=headers)
    ).status_code == 201

    listed = run_cli(env, tmp_path, "payments", "keys", "list", "--org", org_id, "--json").stdout
    assert created["id"] in listed and secret not in listed
    stored = await runtime.redis.hgetall(KEYS)
    assert secret not in json.dumps(stored)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert await runtime.redis.hexists(KEY_DIGESTS, digest)

    revoked = run_cli(env, tmp_path, "payments", "keys", "revoke", created["id"], "--json")
    assert json.loads(revoked.stdout)["revoked"] is True
    assert (
        await http.post("/v1/payments", json=payment_body(), headers=headers)
    ).status_code == 401


def test_a_bad_service_name_or_unknown_organisation_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = run_cli(
        env,
        tmp_path,
        "payments",
        "keys",
        "create",
        "--org",
        "org_" + "A" * 22,
        "--service",
        "Council Tax!",
        check=False,
    )
    assert bad.returncode == 2 and "service name" in bad.stderr
    unknown = run_cli(
        env,
        tmp_path,
        "payments",
        "keys",
        "create",
        "--org",
        "org_" + "A" * 22,
        "--service",
        "council-tax",
        check=False,
    )
    assert unknown.returncode != 0 and "organisation" in unknown.stderr.lower()


async def test_webhooks_and_service_settings_are_managed_from_the_command_line(
    env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    keyed = await new_key(runtime)
    base = ("payments", "webhooks")
    created = json.loads(
        run_cli(
            env,
            tmp_path,
            *base,
            "create",
            "--org",
            keyed.org_id,
            "--service",
            keyed.service,
            "--url",
            "https://ledger.anytown.gov.uk/events",
            "--events",
            "card_payment_succeeded,card_payment_refunded",
            "--json",
        ).stdout
    )
    assert created["mode"] == "live" and created["status"] == "active"
    secret = created["signing_secret"]
    listed = run_cli(env, tmp_path, *base, "list", "--org", keyed.org_id, "--json").stdout
    assert [h["id"] for h in json.loads(listed)] == [created["id"]] and secret not in listed
    shown = json.loads(run_cli(env, tmp_path, *base, "secret", created["id"], "--json").stdout)
    assert shown["signing_secret"] == secret
    off = json.loads(run_cli(env, tmp_path, *base, "deactivate", created["id"], "--json").stdout)
    assert off["status"] == "inactive"
    refused = run_cli(
        env,
        tmp_path,
        *base,
        "create",
        "--org",
        keyed.org_id,
        "--service",
        keyed.service,
        "--url",
        "http://ledger.anytown.gov.uk/events",
        "--events",
        "card_payment_succeeded",
        check=False,
    )
    assert refused.returncode == 2 and "https" in refused.stderr
    service = json.loads(
        run_cli(
            env,
            tmp_path,
            "payments",
            "services",
            "set",
            "--org",
            keyed.org_id,
            "--service",
            keyed.service,
            "--pay-before-submit",
            "--json",
        ).stdout
    )
    assert service["pay_before_submit"] is True
    assert (await runtime.payments.checks.settings(keyed.org_id, keyed.service)).pay_before_submit
