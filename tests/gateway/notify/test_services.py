"""build_notifier: GOV.UK Notify when an API key is set, the local outbox otherwise, and
never the outbox in production."""

from __future__ import annotations

import pytest

from gateway.core.settings import Environment, Settings
from gateway.notify.errors import NotifyConfigurationError
from gateway.notify.govuk_notify import GovUkNotify
from gateway.notify.models import Channel, Notification
from gateway.notify.outbox import LocalOutbox
from gateway.notify.services import Notifier, build_notifier
from gateway.runtime import Runtime
from tests.support.notify_api import NotifyApiStandIn


def test_an_api_key_selects_govuk_notify(
    runtime: Runtime, notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]
) -> None:
    settings = Settings(
        notify_api_key=notify_api.api_key,
        notify_base_url=notify_api.base_url,
        notify_templates=notify_template_ids,
    )
    assert isinstance(build_notifier(settings, runtime.redis, runtime.clock), GovUkNotify)


async def test_without_a_key_messages_go_to_the_local_outbox(runtime: Runtime, email: str) -> None:
    notifier: Notifier = build_notifier(Settings(), runtime.redis, runtime.clock)
    assert isinstance(notifier, LocalOutbox)
    await notifier.send(Notification(Channel.EMAIL, email, "password-changed", {}))
    [message] = await notifier.for_recipient(email)
    assert message.subject == "Your GovConnect password has been changed"


def test_production_never_uses_the_local_outbox(runtime: Runtime) -> None:
    settings = Settings(env=Environment.PRODUCTION, issuer="https://gw.example.gov.uk")
    with pytest.raises(NotifyConfigurationError, match="GOVCONNECT_NOTIFY_API_KEY"):
        build_notifier(settings, runtime.redis, runtime.clock)


def test_a_key_without_template_ids_is_refused_at_start_up(runtime: Runtime) -> None:
    key = "live-00000000-0000-4000-8000-000000000000-00000000-0000-4000-8000-000000000001"
    settings = Settings(notify_api_key=key)
    with pytest.raises(NotifyConfigurationError, match="GOVCONNECT_NOTIFY_TEMPLATES has no"):
        build_notifier(settings, runtime.redis, runtime.clock)
