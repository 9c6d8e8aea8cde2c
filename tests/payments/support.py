"""What the payment tests share: an organisation with API keys, and a payment body."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.organisations.models import NewOrganisation, OrganisationKind
from gateway.runtime import Runtime
from payments.models import Mode
from payments.store import WebhookStore
from payments.webhooks import WebhookService
from tests.conftest import TEST_ACTOR
from tests.support.web import Browser

SPEC = Path(__file__).with_name("reference") / "govuk-pay-publicapi-openapi.json"
SUCCESS_CARD = "4444333322221111"
TEST_CARDS = (
    "4444333322221111",
    "4242424242424242",
    "4000000000000002",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
)


@dataclass(frozen=True)
class Keyed:
    """An organisation's service with a fresh API key: ``headers`` authenticate as it."""

    org_id: str
    service: str
    key_id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


async def new_key(runtime: Runtime, mode: Mode = Mode.TEST, org_id: str | None = None) -> Keyed:
    """A key for a new service (and a new organisation unless one is given)."""
    if org_id is None:
        organisation = await runtime.organisations.add(
            NewOrganisation(
                name="Anytown Council",
                kind=OrganisationKind.COUNCIL,
                contact_email="payments@anytown.example",
            ),
            TEST_ACTOR,
        )
        org_id = organisation.id
    service = f"parking-{secrets.token_hex(4)}"
    issued = await runtime.payments.keys.create(org_id, service, mode, TEST_ACTOR)
    return Keyed(org_id, service, issued.key.id, issued.secret)


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 12_000,
        "reference": "PCN-AB12-3456",
        "description": "Parking fine",
        "return_url": "https://parking.anytown.example/paid",
    }
    body.update(overrides)
    return body


def page_path(next_url: str) -> str:
    """The payment page's path: ``next_url`` names the issuer, tests serve on their own port."""
    return urlsplit(next_url).path


def card_form(number: str = SUCCESS_CARD, **overrides: str) -> dict[str, str]:
    form = {
        "card-number": number,
        "expiry-month": "12",
        "expiry-year": str(datetime.now(UTC).year + 3),
        "cardholder-name": "Jo Bloggs",
        "cvc": "123",
    }
    form.update(overrides)
    return form


def enter_card(browser: Browser, next_url: str, number: str = SUCCESS_CARD) -> str:
    """Open the link (JavaScript off) and submit the card; the payment id."""
    opened = browser.get(page_path(next_url))
    assert opened.status_code == 200, opened.text
    payment_id = page_path(next_url).split("/")[2]
    submitted = browser.post(f"/pay/{payment_id}/card", card_form(number))
    assert submitted.status_code == 200, submitted.text
    return payment_id


def pay(browser: Browser, next_url: str, number: str = SUCCESS_CARD) -> httpx.Response:
    """Pay in full with a test card; the confirmation's redirect (not followed)."""
    payment_id = enter_card(browser, next_url, number)
    return browser.client.post(
        f"/pay/{payment_id}/confirm", data={"csrf_token": browser.csrf}, follow_redirects=False
    )


def own_queue(runtime: Runtime, name: str) -> WebhookService:
    """Webhooks on a queue of the test's own, which the live gateways' workers do not read
    (the registry is the runtime's)."""
    return WebhookService(
        WebhookStore(runtime.redis, name=name),
        runtime.clock,
        runtime.evidence,
        SecretBox.load(runtime.settings.pki_dir / DATA_KEY_FILE_NAME),
        runtime.organisations,
    )


@dataclass(frozen=True)
class Contract:
    """The GOV.UK Pay specification, served (for the validator) at the gateway's issuer."""

    openapi: OpenAPI
    server: str

    def check(
        self, response: httpx.Response, pattern: str, *, as_status: int | None = None
    ) -> None:
        """Validate ``response`` (status, headers, body) against the operation at ``pattern``."""
        request = response.request
        self.openapi.validate_response(
            MockRequest(
                self.server,
                request.method.lower(),
                request.url.path,
                path_pattern=pattern,
                headers=dict(request.headers),
                data=request.content,
                args=dict(request.url.params),
            ),
            MockResponse(
                response.content,
                as_status or response.status_code,
                content_type=response.headers.get("content-type", "application/json"),
            ),
        )
