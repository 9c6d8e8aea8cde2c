"""Payments joined to the rest of GovConnect: a payment created with a signed-in citizen's
access token records the citizen (and refuses a token of another council, a forged one, or
one not for a person); a successful payment of a citizen hands a receipt to the receipt sink;
a "pay before submit" service's check accepts only a successful payment of that service."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.runtime import Runtime
from payments.errors import PaymentRequiredError
from payments.models import Citizen, Mode, NewPayment, PaymentAccount
from payments.providers import CardEntry
from payments.providers.sandbox import SandboxProvider
from payments.receipts import Receipt
from payments.services import PaymentService
from payments.states import Status
from payments.store import PaymentStore
from tests.conftest import TEST_ACTOR
from tests.gateway.tokens.support import exchange, issue_code, key_client
from tests.payments.support import Keyed, new_key, payment_body
from tests.support.accounts import PASSWORD

HEADER = "GovConnect-Citizen-Token"


@pytest.fixture(scope="module")
async def citizen(runtime: Runtime) -> Account:
    return await runtime.accounts.create(
        f"payer-{secrets.token_hex(5)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=None,
        actor=TEST_ACTOR,
    )


async def _token(
    http: httpx.AsyncClient, runtime: Runtime, org_id: str, account: Account
) -> tuple[str, str]:
    """An access token for ``account`` at a new client of ``org_id``; the client's sector."""
    kit = await key_client(runtime, org_id)
    issued = await issue_code(runtime, kit, account)
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    return response.json()["access_token"], kit.client.sector_identifier


async def test_a_payment_created_with_a_citizens_access_token_records_the_citizen(
    http: httpx.AsyncClient, runtime: Runtime, keyed: Keyed, citizen: Account
) -> None:
    token, sector = await _token(http, runtime, keyed.org_id, citizen)
    created = await http.post(
        "/v1/payments", json=payment_body(), headers={**keyed.headers, HEADER: token}
    )
    assert created.status_code == 201, created.text
    assert citizen.id not in created.text, "the account id is never shown to the council"
    payment = await runtime.payments.payments.find(created.json()["payment_id"])
    assert payment is not None
    assert payment.citizen == Citizen(citizen.id, runtime.subjects.subject(sector, citizen.id))
    plain = await http.post("/v1/payments", json=payment_body(), headers=keyed.headers)
    found = await runtime.payments.payments.find(plain.json()["payment_id"])
    assert found is not None and found.citizen is None


async def test_a_citizen_token_of_another_council_or_forged_is_refused_and_nothing_is_made(
    http: httpx.AsyncClient, runtime: Runtime, keyed: Keyed, citizen: Account
) -> None:
    stranger = await new_key(runtime)
    their_token, _ = await _token(http, runtime, stranger.org_id, citizen)
    for token in (their_token, their_token[:-4] + "AAAA", "not-a-token", ""):
        reference = f"ref-{secrets.token_hex(3)}"
        answer = await http.post(
            "/v1/payments",
            json=payment_body(reference=reference),
            headers={**keyed.headers, HEADER: token},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "P0102" and answer.json()["header"] == HEADER
        search = await http.get(
            "/v1/payments", params={"reference": reference}, headers=keyed.headers
        )
        assert search.json()["total"] == 0


@dataclass
class KeptReceipts:
    """A receipt sink of the test's own, as the messaging package will supply one."""

    kept: list[Receipt] = field(default_factory=list)

    async def payment_received(self, receipt: Receipt) -> None:
        self.kept.append(receipt)


def _service(runtime: Runtime, receipts: KeptReceipts) -> PaymentService:
    return PaymentService(
        PaymentStore(runtime.redis),
        runtime.clock,
        runtime.evidence,
        SecretBox.load(runtime.settings.pki_dir / DATA_KEY_FILE_NAME),
        {Mode.TEST: SandboxProvider(), Mode.LIVE: SandboxProvider()},
        webhooks=runtime.payments.webhooks,
        base_url=runtime.settings.issuer,
        receipts=receipts,
    )


async def _paid(
    service: PaymentService,
    account: PaymentAccount,
    citizen: Citizen | None,
    *,
    delayed: bool = False,
) -> str:
    payment, _ = await service.create(
        account,
        NewPayment.parse(payment_body(delayed_capture=delayed), account.mode),
        None,
        citizen,
    )
    browser = secrets.token_hex(8)
    token = (service.page_url(payment) or "").rsplit("/", 1)[1]
    await service.open_page(payment.id, token, browser)
    year = datetime.now(UTC).year + 2
    card = CardEntry("4444333322221111", 12, year, "123", "Jo Bloggs")
    await service.submit_card(payment.id, browser, card)
    await service.confirm(payment.id, browser)
    return payment.id


async def test_a_citizens_successful_payment_hands_one_receipt_to_the_sink(
    runtime: Runtime, keyed: Keyed
) -> None:
    receipts = KeptReceipts()
    service = _service(runtime, receipts)
    account = PaymentAccount(keyed.org_id, keyed.service, Mode.TEST, keyed.key_id)
    someone = Citizen("acct_someone", "pairwise-sub")
    paid = await _paid(service, account, someone)
    await _paid(service, account, None)  # no citizen: no receipt
    held = await _paid(service, account, someone, delayed=True)
    assert [r.payment_id for r in receipts.kept] == [paid], "capturable is not yet paid"
    await service.capture(account, held)
    assert [r.payment_id for r in receipts.kept] == [paid, held]
    receipt = receipts.kept[0]
    assert receipt.account_id == "acct_someone" and receipt.amount == 12_000
    assert receipt.org_id == keyed.org_id and receipt.service == keyed.service
    assert receipt.last_digits == "1111" and receipt.card_brand == "Visa"


async def test_a_pay_before_submit_service_accepts_only_its_own_successful_live_payment(
    runtime: Runtime, keyed: Keyed
) -> None:
    checks = runtime.payments.checks
    service = _service(runtime, KeptReceipts())
    org, name = keyed.org_id, keyed.service
    assert await checks.require_payment(org, name, None) is None, "not required yet"
    settings = await checks.set_pay_before_submit(org, name, True, TEST_ACTOR)
    assert settings.pay_before_submit

    live = PaymentAccount(org, name, Mode.LIVE, keyed.key_id)
    test = PaymentAccount(org, name, Mode.TEST, keyed.key_id)
    paid_live = await _paid(service, live, None)
    paid_test = await _paid(service, test, None)
    unpaid, _ = await service.create(live, NewPayment.parse(payment_body(), Mode.LIVE))
    other = await new_key(runtime, org_id=org)
    other_live = PaymentAccount(org, other.service, Mode.LIVE, other.key_id)
    paid_elsewhere = await _paid(service, other_live, None)

    found = await checks.require_payment(org, name, paid_live)
    assert found is not None and found.status is Status.SUCCESS
    for wrong in (None, "", "nosuchpayment", unpaid.id, paid_elsewhere, paid_test, "x" * 500):
        with pytest.raises(PaymentRequiredError):
            await checks.require_payment(org, name, wrong)
    assert await checks.require_payment(org, name, paid_test, include_test=True) is not None
    await checks.set_pay_before_submit(org, name, False, TEST_ACTOR)
    assert await checks.require_payment(org, name, None) is None
