"""The Stripe card provider against the local stand-in of Stripe's API, over real HTTP: each
Stripe test card's outcome, capture, release, partial and full refunds, idempotent retries
that never charge or refund twice, a wrong secret key answered as an error (not a crash),
no card number or security code in our logs or errors, the settings that choose the
provider, and a live-key payment through the hosted page of a gateway that uses Stripe."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from gateway.core.errors import ConfigurationError
from gateway.core.settings import Environment, Settings
from gateway.runtime import Runtime
from payments.errors import CardProviderError
from payments.models import Mode
from payments.providers import CardEntry, Outcome
from payments.providers.stripe import StripeProvider
from payments.providers.stripe_local import StripeStandIn
from payments.services import build_payments
from tests.payments.support import enter_card, new_key, pay, payment_body
from tests.support.evidence import recorded
from tests.support.servers import free_port, threaded_gateway
from tests.support.web import Browser

SUCCESS = "4242424242424242"
SECURITY_CODE = "987"
YEAR = datetime.now(UTC).year + 3


def entry(number: str = SUCCESS) -> CardEntry:
    return CardEntry(number, 12, YEAR, SECURITY_CODE, "Jo Bloggs")


async def _authorised(provider: StripeProvider, payment_id: str, amount: int = 12_000) -> str:
    result = await provider.authorise(payment_id, amount, entry())
    assert result.outcome is Outcome.AUTHORISED
    assert result.provider_id is not None
    return result.provider_id


@pytest.mark.parametrize(
    ("number", "outcome"),
    [
        (SUCCESS, Outcome.AUTHORISED),
        ("4000000000000002", Outcome.DECLINED),  # card_declined
        ("4000000000000069", Outcome.DECLINED),  # expired_card
        ("4000000000000127", Outcome.DECLINED),  # incorrect_cvc
        ("4000000000000119", Outcome.ERROR),  # processing_error
    ],
)
async def test_each_stripe_test_card_gives_its_outcome_and_keeps_only_brand_last_four_expiry(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn, number: str, outcome: Outcome
) -> None:
    result = await stripe_provider.authorise("pay-cards", 12_000, entry(number))
    assert result.outcome is outcome
    assert result.card.brand == "Visa"
    assert result.card.card_type == "credit"
    assert result.card.last_digits == number[-4:]
    assert result.card.expiry_date == f"12/{YEAR % 100:02d}"
    assert number not in repr(result)
    [intent] = stripe_api.intents.values()
    assert intent.metadata == {"govconnect_payment_id": "pay-cards"}
    if outcome is Outcome.AUTHORISED:
        assert result.provider_id == intent.id
        assert (intent.status, intent.capture_method) == ("requires_capture", "manual")
        assert intent.amount_capturable == 12_000
    else:
        assert result.provider_id is None
        assert intent.status == "requires_payment_method"


async def test_a_card_that_needs_3d_secure_ends_in_error_and_its_hold_is_cancelled(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    result = await stripe_provider.authorise("pay-3ds", 12_000, entry("4000002760003184"))
    assert result.outcome is Outcome.ERROR
    [intent] = stripe_api.intents.values()
    assert intent.status == "canceled"


async def test_capture_takes_the_held_amount_once_however_often_it_is_asked(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    intent_id = await _authorised(stripe_provider, "pay-capture")
    await stripe_provider.capture(intent_id, 12_000)
    await stripe_provider.capture(intent_id, 12_000)  # a repeat is replayed, not run
    intent = stripe_api.intents[intent_id]
    assert (intent.status, intent.amount_received, intent.amount_capturable) == (
        "succeeded",
        12_000,
        0,
    )
    captures = [r for r in stripe_api.requests if r.path.endswith("/capture")]
    assert [r.replayed for r in captures] == [False, True]
    assert {r.idempotency_key for r in captures} == {f"govconnect-capture-{intent_id}"}


async def test_release_cancels_the_hold_and_takes_nothing(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    intent_id = await _authorised(stripe_provider, "pay-release")
    await stripe_provider.release(intent_id)
    intent = stripe_api.intents[intent_id]
    assert (intent.status, intent.amount_received, intent.amount_capturable) == ("canceled", 0, 0)


async def test_partial_then_full_refund_and_nothing_more(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    intent_id = await _authorised(stripe_provider, "pay-refund")
    await stripe_provider.capture(intent_id, 12_000)
    assert await stripe_provider.refund(intent_id, "ref-1", 5_000)
    assert not await stripe_provider.refund(intent_id, "ref-2", 7_001)  # more than is left
    assert await stripe_provider.refund(intent_id, "ref-3", 7_000)
    assert not await stripe_provider.refund(intent_id, "ref-4", 1)  # fully refunded
    refunds = sorted(
        (r["amount"], r["metadata"]["govconnect_refund_id"]) for r in stripe_api.refunds.values()
    )
    assert refunds == [(5_000, "ref-1"), (7_000, "ref-3")]


async def test_a_refund_of_an_uncaptured_payment_is_refused(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    intent_id = await _authorised(stripe_provider, "pay-uncaptured")
    assert not await stripe_provider.refund(intent_id, "ref-early", 1_000)
    assert stripe_api.refunds == {}


async def test_authorising_one_payment_again_replays_the_first_payment_intent(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    """What happens when the gateway stopped after Stripe authorised but before the payment
    moved, and the payer sends the card again: the same key, the same PaymentIntent."""
    first = await _authorised(stripe_provider, "pay-twice")
    second = await _authorised(stripe_provider, "pay-twice")
    assert first == second
    assert len(stripe_api.intents) == 1
    creates = [r for r in stripe_api.requests if r.path == "/v1/payment_intents"]
    assert [(r.idempotency_key, r.replayed) for r in creates] == [
        ("govconnect-authorise-pay-twice", False),
        ("govconnect-authorise-pay-twice", True),
    ]


async def test_a_lost_response_is_retried_by_the_library_without_a_second_charge_or_refund(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn
) -> None:
    stripe_api.lose_next_responses(1)
    intent_id = await _authorised(stripe_provider, "pay-lost")
    assert len(stripe_api.intents) == 1
    await stripe_provider.capture(intent_id, 12_000)
    stripe_api.lose_next_responses(1)
    assert await stripe_provider.refund(intent_id, "ref-lost", 12_000)
    assert len(stripe_api.refunds) == 1
    answered = [(r.path, r.status, r.replayed) for r in stripe_api.requests]
    assert answered[:2] == [("/v1/payment_intents", 200, False), ("/v1/payment_intents", 200, True)]
    assert answered[-2:] == [("/v1/refunds", 200, False), ("/v1/refunds", 200, True)]


async def test_a_wrong_secret_key_is_an_error_outcome_not_a_crash(
    stripe_api: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    provider = StripeProvider("sk_test_not-the-right-key-1234", api_base=stripe_api.base_url)
    try:
        with caplog.at_level(logging.INFO, logger="payments.providers.stripe"):
            result = await provider.authorise("pay-wrong-key", 12_000, entry())
            refunded = await provider.refund("pi_unknown", "ref-wrong-key", 100)
            with pytest.raises(CardProviderError) as raised:
                await provider.capture("pi_unknown", 100)
    finally:
        await provider.aclose()
    assert result.outcome is Outcome.ERROR
    assert result.card.last_digits == "4242"
    assert refunded is False
    assert "AuthenticationError status=401" in caplog.text
    assert "not-the-right-key" not in caplog.text
    assert "not-the-right-key" not in str(raised.value) + repr(raised.value)
    assert stripe_api.intents == {}


async def test_an_unreachable_stripe_is_an_error_outcome(caplog: pytest.LogCaptureFixture) -> None:
    provider = StripeProvider(
        "sk_test_nobody", api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0
    )
    try:
        result = await provider.authorise("pay-unreachable", 12_000, entry())
    finally:
        await provider.aclose()
    assert result.outcome is Outcome.ERROR
    assert "APIConnectionError" in caplog.text


async def test_no_card_number_or_security_code_in_our_logs_or_errors(
    stripe_provider: StripeProvider, stripe_api: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything logged at DEBUG (the stripe library's request log included) while paying
    with each kind of card, and what an error says, holds neither; the stand-in did receive
    the card (it made the PaymentMethod's last four digits and brand from the number)."""
    cards = (SUCCESS, "4000000000000002", "4000000000000119", "4000002760003184")
    with caplog.at_level(logging.DEBUG):
        for index, number in enumerate(cards):
            result = await stripe_provider.authorise(f"pay-logs-{index}", 12_000, entry(number))
            if result.provider_id:
                await stripe_provider.capture(result.provider_id, 12_000)
        with pytest.raises(CardProviderError) as raised:
            await stripe_provider.capture("pi_unknown", 100)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "post_data=[redacted]" in logged  # the library's request log was there, cut
    for number in cards:
        assert number not in logged
    for name in ("[cvc]", "%5Bcvc%5D", "card][number]", "%5Bnumber%5D"):
        assert name not in logged  # the request's card fields, encoded or not
    assert SECURITY_CODE not in str(raised.value) + repr(raised.value)
    methods = [i.payment_method for i in stripe_api.intents.values()]
    assert [m["card"]["last4"] for m in methods if m] == [n[-4:] for n in cards]
    assert not any(number in repr(stripe_api.intents) for number in cards)
    assert stripe_api.secret_key not in repr(stripe_provider)


async def test_the_stand_in_refuses_what_stripe_refuses(stripe_api: StripeStandIn) -> None:
    """Unknown parameters, a key reused with other parameters, a missing key: Stripe's errors,
    so a provider that sent the wrong thing would fail here too."""
    card = {
        "amount": "1000",
        "currency": "gbp",
        "confirm": "true",
        "allowed_payment_method_types[0]": "card",
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": SUCCESS,
        "payment_method_data[card][exp_month]": "12",
        "payment_method_data[card][exp_year]": str(YEAR),
    }
    async with httpx.AsyncClient(
        base_url=stripe_api.base_url, auth=(stripe_api.secret_key, "")
    ) as api:
        unknown = await api.post(
            "/v1/payment_intents", data={**card, "payment_method_data[card][numbr]": "1"}
        )
        first = await api.post("/v1/payment_intents", data=card, headers={"Idempotency-Key": "k1"})
        other = await api.post(
            "/v1/payment_intents",
            data={**card, "amount": "2000"},
            headers={"Idempotency-Key": "k1"},
        )
    async with httpx.AsyncClient(base_url=stripe_api.base_url) as nobody:
        anonymous = await nobody.post("/v1/refunds")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "parameter_unknown"
    assert unknown.json()["error"]["param"] == "payment_method_data[card][numbr]"
    assert first.status_code == 200
    assert first.json()["status"] == "succeeded"  # capture_method defaults to automatic
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert anonymous.status_code == 401
    assert len(stripe_api.intents) == 1


def test_stripe_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="GOVCONNECT_STRIPE_SECRET_KEY"):
        Settings(payments_live_provider="stripe")
    with pytest.raises(ValidationError, match="stripe_api_base"):
        Settings(stripe_api_base="api.stripe.com")
    production = Settings(
        env=Environment.PRODUCTION,
        payments_live_provider="stripe",
        stripe_secret_key=SecretStr("sk_test_abc"),
        stripe_api_base="http://stripe.internal.example",
    )
    shortcuts = " ".join(production.development_shortcuts())
    assert "GOVCONNECT_STRIPE_API_BASE=http://stripe.internal.example is plain http" in shortcuts
    assert "not a live-mode key" in shortcuts
    assert "PAYMENTS_LIVE_PROVIDER=sandbox" in " ".join(
        Settings(
            env=Environment.PRODUCTION, payments_live_provider="sandbox"
        ).development_shortcuts()
    )
    fine = Settings(
        env=Environment.PRODUCTION,
        payments_live_provider="stripe",
        stripe_secret_key=SecretStr("sk_live_abc"),
    )
    assert not any("STRIPE" in s for s in fine.development_shortcuts())


async def test_live_keys_use_stripe_when_configured_and_test_keys_the_sandbox(
    runtime: Runtime, stripe_api: StripeStandIn
) -> None:
    settings = runtime.settings.model_copy(
        update={
            "env": Environment.PRODUCTION,
            "payments_live_provider": "stripe",
            "stripe_secret_key": SecretStr(stripe_api.secret_key),
            "stripe_api_base": stripe_api.base_url,
        }
    )
    built = build_payments(
        settings, runtime.redis, runtime.clock, runtime.evidence, runtime.organisations
    )
    providers = built.payments._providers
    assert (providers[Mode.LIVE].name, providers[Mode.TEST].name) == ("stripe", "sandbox")
    unconfigured = runtime.settings.model_copy(update={"env": Environment.PRODUCTION})
    built = build_payments(
        unconfigured, runtime.redis, runtime.clock, runtime.evidence, runtime.organisations
    )
    assert Mode.LIVE not in built.payments._providers
    broken = runtime.settings.model_copy(update={"payments_live_provider": "stripe"})
    with pytest.raises(ConfigurationError, match="GOVCONNECT_STRIPE_SECRET_KEY"):
        build_payments(
            broken, runtime.redis, runtime.clock, runtime.evidence, runtime.organisations
        )


@pytest.fixture
def stripe_gateway(runtime: Runtime, stripe_api: StripeStandIn) -> Iterator[str]:
    """A live gateway whose live keys pay through Stripe (the stand-in)."""
    settings = runtime.settings.model_copy(
        update={
            "payments_live_provider": "stripe",
            "stripe_secret_key": SecretStr(stripe_api.secret_key),
            "stripe_api_base": stripe_api.base_url,
        }
    )
    with threaded_gateway(settings) as base_url:
        yield base_url


async def test_a_live_key_payment_goes_through_stripe_from_created_to_success(
    runtime: Runtime, stripe_api: StripeStandIn, stripe_gateway: str
) -> None:
    keyed = await new_key(runtime, Mode.LIVE)
    async with httpx.AsyncClient(base_url=stripe_gateway, headers=keyed.headers, timeout=30) as api:
        created = await api.post("/v1/payments", json=payment_body(return_url=f"{stripe_gateway}/"))
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["payment_provider"] == "stripe"
        browser = Browser(stripe_gateway)
        try:
            redirect = pay(browser, payment["_links"]["next_url"]["href"], SUCCESS)
        finally:
            browser.close()
        assert redirect.status_code == 303, redirect.text
        got = (await api.get(f"/v1/payments/{payment['payment_id']}")).json()
        events = (await api.get(f"/v1/payments/{payment['payment_id']}/events")).json()["events"]
    assert got["state"] == {"status": "success", "finished": True}
    assert got["payment_provider"] == "stripe"
    assert (got["card_details"]["card_brand"], got["card_details"]["last_digits_card_number"]) == (
        "Visa",
        "4242",
    )
    assert [e["state"]["status"] for e in events] == ["created", "started", "submitted", "success"]
    [intent] = stripe_api.intents.values()
    assert intent.metadata == {"govconnect_payment_id": payment["payment_id"]}
    assert (intent.status, intent.amount_received) == ("succeeded", payment["amount"])


async def test_a_capture_stripe_refuses_still_gives_the_payer_a_page_and_tells_the_operator(
    runtime: Runtime, stripe_api: StripeStandIn, stripe_gateway: str
) -> None:
    """The hold was cancelled at Stripe (in its Dashboard, say) between the card and the
    confirmation: the payer is still sent back to the service, the payment is success with
    its capture submitted (as GOV.UK Pay reports it), and the evidence log says the capture
    failed, for the operator to settle at Stripe."""
    keyed = await new_key(runtime, Mode.LIVE)
    async with httpx.AsyncClient(base_url=stripe_gateway, headers=keyed.headers, timeout=30) as api:
        created = await api.post("/v1/payments", json=payment_body(return_url=f"{stripe_gateway}/"))
        payment = created.json()
        browser = Browser(stripe_gateway)
        try:
            payment_id = enter_card(browser, payment["_links"]["next_url"]["href"], SUCCESS)
            [intent] = stripe_api.intents.values()
            intent.status = "canceled"
            confirmed = browser.client.post(
                f"/pay/{payment_id}/confirm",
                data={"csrf_token": browser.csrf},
                follow_redirects=False,
            )
        finally:
            browser.close()
        got = (await api.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert confirmed.status_code == 303, confirmed.text
    assert got["state"] == {"status": "success", "finished": True}
    assert intent.amount_received == 0
    failed = await recorded(runtime.evidence, "payment.capture-failed", payment["payment_id"])
    assert len(failed) == 1
