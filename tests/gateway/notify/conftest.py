"""Fixtures of the notification tests: the GOV.UK Notify stand-in with the catalogue's
templates, and a GovUkNotify client pointed at it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gateway.notify.catalogue import default_catalogue
from gateway.notify.govuk_notify import GovUkNotify, template_key
from gateway.notify.models import Channel
from tests.support.notify_api import NotifyApiStandIn


@pytest.fixture(scope="module")
def notify_api() -> Iterator[NotifyApiStandIn]:
    """A Notify service on loopback, holding each catalogue template as a Notify template."""
    with NotifyApiStandIn().running() as api:
        yield api


@pytest.fixture(scope="module")
def notify_template_ids(notify_api: NotifyApiStandIn) -> dict[str, str]:
    """``GOVCONNECT_NOTIFY_TEMPLATES`` for the stand-in: every template created in it."""
    ids: dict[str, str] = {}
    for template in default_catalogue():
        ids[template_key(template.name, Channel.EMAIL)] = notify_api.add_template(
            "email", template.body, template.subject
        )
        if template.sms is not None:
            ids[template_key(template.name, Channel.SMS)] = notify_api.add_template(
                "sms", template.sms
            )
    return ids


@pytest.fixture
def govuk_notify(notify_api: NotifyApiStandIn, notify_template_ids: dict[str, str]) -> GovUkNotify:
    return GovUkNotify(notify_api.api_key, notify_template_ids, base_url=notify_api.base_url)


@pytest.fixture
def email() -> str:
    """An address no other test uses, so a test finds its own messages."""
    return f"person.{secrets.token_hex(6)}@example.gov.uk"
