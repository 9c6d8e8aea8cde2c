"""Webhooks to council services as GOV.UK Pay sends them: registration (by the service, the
CLI and the admin API), the ``Pay-Signature`` HMAC, which events reach which webhook, and
that the signing secret is never stored in the clear or listed."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from gateway.runtime import Runtime
from payments.errors import InvalidWebhookRequestError, WebhookNotFoundError
from payments.models import Mode
from payments.webhooks import EventType, signature
from tests.conftest import TEST_ACTOR
from tests.payments.support import Keyed, new_key, own_queue

ALL_EVENTS = [e.value for e in EventType]


def test_pay_signature_is_the_lower_case_hex_hmac_sha256_of_the_exact_body() -> None:
    """Computed independently with the standard library, as a council's code would."""
    body = b'{"id":"abc","event_type":"card_payment_succeeded"}'
    expected = hmac.new(b"webhook_test_secret", body, hashlib.sha256).hexdigest()
    assert signature("webhook_test_secret", body) == expected == expected.lower()
    # A body changed by one byte, or signed with another webhook's secret, does not verify.
    assert signature("webhook_test_secret", body.replace(b"abc", b"abd")) != expected
    assert signature("webhook_test_other", body) != expected


async def test_a_webhook_is_registered_with_a_sealed_signing_secret_never_listed(
    runtime: Runtime, keyed: Keyed
) -> None:
    webhooks = runtime.payments.webhooks
    issued = await webhooks.create(
        keyed.org_id,
        keyed.service,
        Mode.TEST,
        "http://127.0.0.1:9/events",
        ["card_payment_succeeded", "CARD_PAYMENT_FAILED"],
        TEST_ACTOR,
        "Parking fines ledger",
    )
    hook = issued.webhook
    assert issued.signing_secret.startswith("webhook_test_")
    assert hook.events == {EventType.SUCCEEDED, EventType.FAILED}
    listed = [h.to_api() for h in await webhooks.all(keyed.org_id)]
    assert listed == [hook.to_api()]
    assert issued.signing_secret not in json.dumps(listed)
    stored = await runtime.redis.hgetall(f"{{gc:paywh}}:acct:{hook.account_id}")
    assert issued.signing_secret not in json.dumps(stored), "the secret is stored sealed"
    assert webhooks.signing_secret(await webhooks.get(hook.id)) == issued.signing_secret


@pytest.mark.parametrize(
    ("mode", "url", "events"),
    [
        (Mode.LIVE, "http://ledger.anytown.gov.uk/events", ALL_EVENTS),  # live needs https
        (Mode.TEST, "ftp://ledger.anytown.gov.uk/events", ALL_EVENTS),
        (Mode.TEST, "https://user:pass@ledger.anytown.gov.uk/events", ALL_EVENTS),
        (Mode.TEST, "https://ledger.anytown.gov.uk:99999/events", ALL_EVENTS),
        (Mode.TEST, "https://ledger.anytown.gov.uk/" + "a" * 2000, ALL_EVENTS),
        (Mode.TEST, "https://ledger.anytown.gov.uk/events", ["card_payment_hacked"]),
        (Mode.TEST, "https://ledger.anytown.gov.uk/events", []),
    ],
)
async def test_unusable_callback_urls_and_event_types_are_refused(
    runtime: Runtime, keyed: Keyed, mode: Mode, url: str, events: list[str]
) -> None:
    with pytest.raises(InvalidWebhookRequestError):
        await runtime.payments.webhooks.create(
            keyed.org_id, keyed.service, mode, url, events, TEST_ACTOR
        )


async def test_an_event_reaches_only_active_webhooks_of_its_own_account_that_want_it(
    runtime: Runtime, keyed: Keyed, queue_name: str
) -> None:
    webhooks = own_queue(runtime, queue_name)
    store = webhooks.store
    other = await new_key(runtime, org_id=keyed.org_id)  # another service of the same council
    url = "http://127.0.0.1:9/events"

    async def hook(owner: Keyed, events: list[str], mode: Mode = Mode.TEST) -> str:
        issued = await webhooks.create(owner.org_id, owner.service, mode, url, events, TEST_ACTOR)
        return issued.webhook.id

    wanted = await hook(keyed, ["card_payment_succeeded"])
    inactive = await hook(keyed, ["card_payment_succeeded"])
    await webhooks.set_active(inactive, False, TEST_ACTOR)
    await hook(keyed, ["card_payment_failed"])  # not subscribed to this event
    await hook(other, ALL_EVENTS)  # another service
    await hook(keyed, ALL_EVENTS, Mode.LIVE)  # the same service's live account

    account = f"{keyed.org_id}:{keyed.service}:test"
    queued = await webhooks.emit(
        account, (EventType.SUCCEEDED,), "payment", "pay123", {"payment_id": "pay123"}
    )
    assert queued == 1
    await store.ensure_group()
    entries = await store.read_new("test", 10, None)
    jobs = [json.loads(entry.data or "null") for entry in entries]
    assert [job["webhook"] for job in jobs] == [wanted]
    body = json.loads(jobs[0]["body"])
    assert body == {
        "id": jobs[0]["message"],
        "created_date": body["created_date"],
        "resource_id": "pay123",
        "api_version": 1,
        "resource_type": "payment",
        "event_type": "card_payment_succeeded",
        "resource": {"payment_id": "pay123"},
    }


async def test_the_admin_api_registers_lists_shows_and_deactivates_webhooks(
    http: httpx.AsyncClient, admin_headers: dict[str, str], keyed: Keyed
) -> None:
    body = {
        "org_id": keyed.org_id,
        "service": keyed.service,
        "mode": "test",
        "callback_url": "https://ledger.anytown.gov.uk/events",
        "subscriptions": ["card_payment_captured"],
    }
    refused = await http.post("/admin/v1/payment-webhooks", json=body)
    assert refused.status_code == 401
    created = await http.post("/admin/v1/payment-webhooks", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["signing_secret"].startswith("webhook_test_")
    assert hook["status"] == "active"
    listed = await http.get(
        "/admin/v1/payment-webhooks", params={"org_id": keyed.org_id}, headers=admin_headers
    )
    assert [h["id"] for h in listed.json()["webhooks"]] == [hook["id"]]
    assert "signing_secret" not in listed.text
    off = await http.put(
        f"/admin/v1/payment-webhooks/{hook['id']}/status",
        json={"active": False},
        headers=admin_headers,
    )
    assert off.json()["status"] == "inactive"
    shown = await http.get(f"/admin/v1/payment-webhooks/{hook['id']}", headers=admin_headers)
    assert shown.json()["attempts"] == [] and shown.json()["status"] == "inactive"
    missing = await http.get("/admin/v1/payment-webhooks/pwh_nosuch", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith(WebhookNotFoundError.slug)
    bad = await http.post(
        "/admin/v1/payment-webhooks",
        json={**body, "subscriptions": ["card_payment_teleported"]},
        headers=admin_headers,
    )
    assert bad.status_code == 400
