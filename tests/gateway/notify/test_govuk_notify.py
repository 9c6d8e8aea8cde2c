"""GovUkNotify against the local GOV.UK Notify API over real HTTP: the official client's JWT
is accepted, the right template id and personalisation arrive, refusals and outages become a
NotifyDeliveryError that says what to do, no log line holds a code or an address, and a
configuration that cannot work is refused before anything is sent."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from gateway.core.errors import Category
from gateway.core.settings import Settings
from gateway.notify.errors import (
    MissingPersonalisationError,
    NotifyConfigurationError,
    NotifyDeliveryError,
    UnknownTemplateError,
)
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Channel, Notification
from tests.support.notify_api import NotifyApiStandIn, Received
from tests.support.servers import free_port

CODE = "482913"


def code_email(to: str, code: str = CODE) -> Notification:
    return Notification(Channel.EMAIL, to, "sign-in-code", {"code": code})


def sent_to(api: NotifyApiStandIn, field: str, to: str) -> list[Received]:
    return [r for r in api.received if r.payload.get(field) == to]


async def test_an_email_arrives_with_its_template_id_and_personalisation(
    govuk_notify: GovUkNotify,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
    email: str,
) -> None:
    await govuk_notify.send(code_email(email))
    [received] = sent_to(notify_api, "email_address", email)
    assert received.type == "email"
    assert received.payload["template_id"] == notify_template_ids["sign-in-code"]
    assert received.payload["personalisation"] == {"code": CODE}
    assert received.payload["reference"].startswith("ntf_")
    assert received.service_id == notify_api.service_id
    assert received.jwt_header == {"typ": "JWT", "alg": "HS256"}
    assert (received.user_agent or "").startswith("NOTIFY-API-PYTHON-CLIENT/")


async def test_a_text_message_arrives_with_the_sms_template(
    govuk_notify: GovUkNotify, notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> None:
    number = f"07700900{uuid.uuid4().int % 1000:03d}"
    await govuk_notify.send(Notification(Channel.SMS, number, "new-message", {"sender": "Anytown"}))
    received = sent_to(notify_api, "phone_number", number)[-1]
    assert received.type == "sms"
    assert received.payload["template_id"] == notify_template_ids["new-message:sms"]
    assert received.payload["personalisation"] == {"sender": "Anytown"}


async def test_concurrent_sends_each_arrive(
    govuk_notify: GovUkNotify, notify_api: NotifyApiStandIn, email: str
) -> None:
    addresses = [f"{i}.{email}" for i in range(8)]
    await asyncio.gather(
        *(govuk_notify.send(code_email(a, f"00000{i}")) for i, a in enumerate(addresses))
    )
    for index, address in enumerate(addresses):
        [received] = sent_to(notify_api, "email_address", address)
        assert received.payload["personalisation"] == {"code": f"00000{index}"}


async def test_a_wrong_api_key_is_refused_by_notify(
    notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str], email: str
) -> None:
    wrong = f"govconnect_test-{notify_api.service_id}-{uuid.uuid4()}"
    notifier = GovUkNotify(wrong, notify_template_ids, base_url=notify_api.base_url)
    with pytest.raises(NotifyDeliveryError) as caught:
        await notifier.send(code_email(email))
    error = caught.value
    assert error.category is Category.UNAVAILABLE
    assert error.extensions["status_code"] == 403 and error.extensions["retryable"] is False
    assert "AuthError: Invalid token: API key not found" in error.detail
    assert "GOVCONNECT_NOTIFY_API_KEY" in error.detail
    assert sent_to(notify_api, "email_address", email) == []


async def test_a_key_of_another_service_is_refused_by_notify(
    notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str], email: str
) -> None:
    other = f"govconnect_test-{uuid.uuid4()}-{notify_api.secret}"
    notifier = GovUkNotify(other, notify_template_ids, base_url=notify_api.base_url)
    with pytest.raises(NotifyDeliveryError, match="Invalid token: service not found"):
        await notifier.send(code_email(email))


async def test_an_address_notify_refuses_is_reported_without_the_address(
    govuk_notify: GovUkNotify,
) -> None:
    with pytest.raises(NotifyDeliveryError) as caught:
        await govuk_notify.send(code_email("not-an-address@"))
    assert caught.value.extensions["status_code"] == 400
    assert "ValidationError: email_address Not a valid email address" in caught.value.detail
    assert "not-an-address@" not in caught.value.detail


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (
            429,
            "RateLimitError",
            "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
        ),
        (500, "Exception", "Internal server error"),
    ],
)
async def test_a_busy_or_failing_notify_is_worth_retrying(
    govuk_notify: GovUkNotify,
    notify_api: NotifyApiStandIn,
    email: str,
    status: int,
    error: str,
    message: str,
) -> None:
    notify_api.fail_next(status, error, message)
    with pytest.raises(NotifyDeliveryError) as caught:
        await govuk_notify.send(code_email(email))
    assert caught.value.extensions == {
        "status_code": status,
        "retryable": True,
        "reference": caught.value.extensions["reference"],
    }
    assert f"{error}: {message}" in caught.value.detail
    await govuk_notify.send(code_email(email))  # the next one goes through
    assert len(sent_to(notify_api, "email_address", email)) == 1


async def test_an_unreachable_notify_is_an_outage(
    notify_template_ids: dict[str, str], notify_api: NotifyApiStandIn, email: str
) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"
    notifier = GovUkNotify(notify_api.api_key, notify_template_ids, base_url=base_url)
    with pytest.raises(NotifyDeliveryError, match="could not be reached") as caught:
        await notifier.send(code_email(email))
    assert caught.value.extensions["retryable"] is True


async def test_a_notification_that_cannot_be_rendered_never_reaches_notify(
    govuk_notify: GovUkNotify, notify_api: NotifyApiStandIn, email: str
) -> None:
    before = (len(notify_api.received), len(notify_api.refused))
    with pytest.raises(MissingPersonalisationError):
        await govuk_notify.send(Notification(Channel.EMAIL, email, "verify-email", {}))
    with pytest.raises(UnknownTemplateError):
        await govuk_notify.send(Notification(Channel.EMAIL, email, "welcome", {}))
    assert (len(notify_api.received), len(notify_api.refused)) == before


async def test_no_log_line_holds_a_code_or_an_address(
    govuk_notify: GovUkNotify,
    notify_api: NotifyApiStandIn,
    notify_template_ids: dict[str, str],
    email: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await govuk_notify.send(code_email(email, "731904"))
    notify_api.fail_next(500, "Exception", "Internal server error")
    with pytest.raises(NotifyDeliveryError):
        await govuk_notify.send(code_email(email, "731905"))
    wrong = GovUkNotify(
        f"govconnect_test-{notify_api.service_id}-{uuid.uuid4()}",
        notify_template_ids,
        base_url=notify_api.base_url,
    )
    with pytest.raises(NotifyDeliveryError):
        await wrong.send(code_email(email, "731906"))
    assert any("GOV.UK Notify" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        logged = record.getMessage() + repr(vars(record))
        for secret in ("731904", "731905", "731906", email):
            assert secret not in logged, (secret, record.name, record.getMessage())


def test_an_api_key_that_is_not_a_notify_key_is_refused_without_repeating_it(
    notify_template_ids: dict[str, str],
) -> None:
    with pytest.raises(NotifyConfigurationError, match=r"not a GOV\.UK Notify API key") as caught:
        GovUkNotify("live-key-abcdef", notify_template_ids)
    assert "abcdef" not in caught.value.detail


def test_a_template_without_a_notify_id_is_refused(
    notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> None:
    ids = {k: v for k, v in notify_template_ids.items() if k != "new-message:sms"}
    with pytest.raises(
        NotifyConfigurationError, match=r"no GOV.UK Notify template id for \['new-message:sms'\]"
    ):
        GovUkNotify(notify_api.api_key, ids)


def test_a_template_id_that_is_not_a_uuid_or_names_no_template_is_refused(
    notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> None:
    with pytest.raises(NotifyConfigurationError, match=r"\['verify-email'\] that are not UUIDs"):
        GovUkNotify(notify_api.api_key, {**notify_template_ids, "verify-email": "verify"})
    with pytest.raises(NotifyConfigurationError, match=r"names \['verify_email'\]"):
        GovUkNotify(notify_api.api_key, {**notify_template_ids, "verify_email": str(uuid.uuid4())})


def test_the_settings_build_a_client(
    notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> None:
    settings = Settings(
        notify_api_key=notify_api.api_key,
        notify_base_url=notify_api.base_url,
        notify_templates=notify_template_ids,
    )
    assert isinstance(GovUkNotify.from_settings(settings), GovUkNotify)
    with pytest.raises(NotifyConfigurationError, match="NOTIFY_API_KEY is not set"):
        GovUkNotify.from_settings(Settings())
