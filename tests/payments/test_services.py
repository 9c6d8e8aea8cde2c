"""The payment service on the real store with a movable clock: the lifecycle table is
enforced whoever asks, payments expire 90 minutes after creation, and every transition is
kept with the payment and chained into the evidence log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.runtime import Runtime
from payments.errors import IllegalTransitionError, PaymentLinkError, PaymentNotFoundError
from payments.models import Mode, NewPayment, PaymentAccount
from payments.providers.sandbox import SandboxProvider
from payments.services import PaymentService, read_card
from payments.states import Status
from payments.store import PaymentStore
from tests.payments.support import new_key, payment_body
from tests.support.clock import MovableClock


@pytest.fixture
def clock() -> MovableClock:
    # Starts now: the live gateways' mop-up (on the system clock) shares this store, and
    # must not find these payments older than they are.
    return MovableClock(datetime.now(UTC))


@pytest.fixture
def service(runtime: Runtime, clock: MovableClock) -> PaymentService:
    sandbox = SandboxProvider()
    return PaymentService(
        PaymentStore(runtime.redis),
        clock,
        runtime.evidence,
        SecretBox.load(runtime.settings.pki_dir / DATA_KEY_FILE_NAME),
        {Mode.TEST: sandbox},
        webhooks=runtime.payments.webhooks,
        base_url=runtime.settings.issuer,
    )


@pytest.fixture
async def account(runtime: Runtime) -> PaymentAccount:
    keyed = await new_key(runtime)
    return await runtime.payments.keys.authenticate(keyed.secret)


def _new(**overrides: object) -> NewPayment:
    return NewPayment.parse(payment_body(**overrides), Mode.TEST)


def _token(service: PaymentService, url: str | None) -> str:
    assert url is not None
    return url.rsplit("/", 1)[1]


async def test_a_payment_not_finished_within_90_minutes_expires_with_p0020(
    service: PaymentService, account: PaymentAccount, clock: MovableClock
) -> None:
    payment, _ = await service.create(account, _new())
    clock.advance(minutes=89)
    assert (await service.get(account, payment.id)).status is Status.CREATED
    clock.advance(minutes=2)
    expired = await service.get(account, payment.id)
    assert expired.status is Status.FAILED and expired.code == "P0020"
    assert service.page_url(expired) is None
    events = await service.events(account, payment.id)
    assert [e.status for e in events] == [Status.CREATED, Status.FAILED]
    # An expired payment's link opens nothing.
    with pytest.raises(PaymentLinkError):
        await service.open_page(payment.id, _token(service, service.page_url(payment)), "b1")


async def test_a_submitted_payment_the_payer_never_confirms_expires_too(
    service: PaymentService, account: PaymentAccount, clock: MovableClock
) -> None:
    payment, _ = await service.create(account, _new())
    await service.open_page(payment.id, _token(service, service.page_url(payment)), "b1")
    card = read_card("4444333322221111", "12", "2040", "123", "Jo", clock.now())
    assert card.entry is not None
    assert (await service.submit_card(payment.id, "b1", card.entry)).status is Status.SUBMITTED
    clock.advance(minutes=91)
    with pytest.raises(IllegalTransitionError):
        await service.confirm(payment.id, "b1")
    assert (await service.get(account, payment.id)).code == "P0020"


async def test_illegal_transitions_are_refused_in_the_service(
    service: PaymentService, account: PaymentAccount, clock: MovableClock
) -> None:
    payment, _ = await service.create(account, _new())
    with pytest.raises(IllegalTransitionError):
        await service.capture(account, payment.id)  # created is not capturable
    await service.open_page(payment.id, _token(service, service.page_url(payment)), "b1")
    with pytest.raises(IllegalTransitionError):
        await service.confirm(payment.id, "b1")  # nothing submitted to confirm
    await service.cancel(account, payment.id)
    card = read_card("4444333322221111", "12", "2040", "123", "Jo", clock.now())
    assert card.entry is not None
    with pytest.raises(IllegalTransitionError):
        await service.submit_card(payment.id, "b1", card.entry)  # cancelled is finished
    with pytest.raises(IllegalTransitionError):
        await service.cancel(account, payment.id)


async def test_of_twenty_parallel_cancels_exactly_one_moves_the_payment(
    service: PaymentService, account: PaymentAccount
) -> None:
    payment, _ = await service.create(account, _new())
    outcomes = await asyncio.gather(
        *(service.cancel(account, payment.id) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(
        isinstance(o, IllegalTransitionError) for o in outcomes if isinstance(o, BaseException)
    )
    assert [e.status for e in await service.events(account, payment.id)] == [
        Status.CREATED,
        Status.CANCELLED,
    ]


async def test_every_transition_is_in_the_evidence_log(
    runtime: Runtime, service: PaymentService, account: PaymentAccount, clock: MovableClock
) -> None:
    seq = (await runtime.evidence.verify()).entries
    payment, _ = await service.create(account, _new())
    await service.open_page(payment.id, _token(service, service.page_url(payment)), "b1")
    card = read_card("4000000000000002", "12", "2040", "123", "Jo", clock.now())
    assert card.entry is not None
    declined = await service.submit_card(payment.id, "b1", card.entry)
    assert declined.status is Status.FAILED and declined.code == "P0010"
    entries = [e for e in await runtime.evidence.entries(seq, 1000) if e["subject"] == payment.id]
    assert [e["action"] for e in entries] == [
        "payment.created",
        "payment.started",
        "payment.failed",
    ]
    assert entries[0]["actor"] == account.actor
    assert "4000000000000002" not in str(entries)
    assert (await runtime.evidence.verify()).ok


async def test_a_second_browser_cannot_use_the_link_and_a_wrong_token_opens_nothing(
    service: PaymentService, account: PaymentAccount
) -> None:
    payment, _ = await service.create(account, _new())
    token = _token(service, service.page_url(payment))
    with pytest.raises(PaymentLinkError):
        await service.open_page(payment.id, token[:-1] + "x", "b1")
    await service.open_page(payment.id, token, "b1")
    with pytest.raises(PaymentLinkError):
        await service.open_page(payment.id, token, "b2")
    with pytest.raises(PaymentLinkError):
        await service.for_page(payment.id, "b2")
    with pytest.raises(PaymentNotFoundError):
        await service.get(
            PaymentAccount(account.org_id, account.service, Mode.LIVE, "pk_x"), payment.id
        )


def test_read_card_accepts_spaced_numbers_and_two_digit_years_and_hides_the_number() -> None:
    card = read_card(
        "4444 3333 2222 1111", "7", "40", "1234", " Jo ", datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert card.errors == {} and card.entry is not None
    assert card.entry.number == "4444333322221111" and card.entry.expiry == "07/40"
    assert "4444333322221111" not in repr(card.entry) and "1234" not in repr(card.entry)
    past = read_card(
        "4444333322221111", "12", "2025", "123", "Jo", datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert past.errors == {"expiry-month": "expiry_past"}
