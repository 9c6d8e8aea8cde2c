"""GOV.UK Notify: the production :class:`~gateway.notify.services.Notifier`.

Messages go through the official ``notifications-python-client`` to Notify's REST API v2
(``POST /v2/notifications/email`` and ``/v2/notifications/sms``), authenticated by the
client with a short-lived HS256 JWT signed with the API key's secret. The text lives in Notify
templates created from ``templates.toml``; the gateway sends each template's Notify id with
the personalisation, and renders the catalogue's copy first so that an unknown template or a
missing value is refused here exactly as the local outbox refuses it.

The client is synchronous (``requests``) and not thread-safe, so each send runs in a worker
thread (:func:`asyncio.to_thread`) with that thread's own client.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from pydantic import SecretStr

from gateway.core.ids import new_id
from gateway.core.settings import Settings
from gateway.notify.catalogue import TemplateCatalogue, default_catalogue
from gateway.notify.errors import NotifyConfigurationError, NotifyDeliveryError
from gateway.notify.models import Channel, Notification

log = logging.getLogger(__name__)

ID_PREFIX = "ntf"
DEFAULT_TIMEOUT_SECONDS = 10.0
SMS_SUFFIX = ":sms"
# A GOV.UK Notify API key: "{key_name}-{service_id}-{secret_key}", both ids being UUIDs (the
# client reads the service id and secret from the last 73 characters).
_API_KEY = re.compile(r"^.+-(?P<service_id>[0-9a-fA-F-]{36})-(?P<secret>[0-9a-fA-F-]{36})$")
_REDACTED = "[redacted]"


def template_key(name: str, channel: Channel) -> str:
    """The key of ``GOVCONNECT_NOTIFY_TEMPLATES`` for a template: its name for the email,
    ``<name>:sms`` for the text message."""
    return name if channel is Channel.EMAIL else f"{name}{SMS_SUFFIX}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_api_key(api_key: str) -> None:
    match = _API_KEY.match(api_key)
    # NOTE: the message never repeats the key, not even in part.
    if match is None or not (_is_uuid(match["service_id"]) and _is_uuid(match["secret"])):
        raise NotifyConfigurationError(
            "GOVCONNECT_NOTIFY_API_KEY is not a GOV.UK Notify API key: a key reads "
            "'{key_name}-{service_id}-{secret_key}', where the last two parts are UUIDs; copy "
            "the whole key from the API integration page of your Notify service"
        )


def _template_ids(
    catalogue: TemplateCatalogue, configured: Mapping[str, str]
) -> dict[tuple[str, Channel], str]:
    """Every (template, channel) of the catalogue mapped to its Notify template id; refuses
    a missing id, an id that is not a UUID and a key that names no template."""
    wanted = {
        template_key(template.name, channel): (template.name, channel)
        for template in catalogue
        for channel in template.channels
    }
    unknown = sorted(set(configured) - set(wanted))
    if unknown:
        raise NotifyConfigurationError(
            f"GOVCONNECT_NOTIFY_TEMPLATES names {unknown}, which are not templates; the keys "
            f"are {sorted(wanted)}"
        )
    missing = sorted(set(wanted) - set(configured))
    if missing:
        raise NotifyConfigurationError(
            f"GOVCONNECT_NOTIFY_TEMPLATES has no GOV.UK Notify template id for {missing}; create "
            "each template in Notify from gateway/notify/templates.toml (an email template for "
            "'<name>', a text message template for '<name>:sms') and add its id"
        )
    malformed = sorted(key for key in wanted if not _is_uuid(configured[key]))
    if malformed:
        raise NotifyConfigurationError(
            f"GOVCONNECT_NOTIFY_TEMPLATES has ids for {malformed} that are not UUIDs; copy "
            "each id from the template's page in GOV.UK Notify"
        )
    return {wanted[key]: configured[key] for key in wanted}


def _redact(text: str, notification: Notification) -> str:
    """``text`` without the personalisation values or the recipient, longest first."""
    secrets = sorted(
        {notification.to, *notification.personalisation.values()} - {""}, key=len, reverse=True
    )
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


def _describe(error: APIError) -> str:
    message = error.message
    if isinstance(message, list):
        return "; ".join(
            f"{item.get('error', 'Error')}: {item.get('message', '')}"
            if isinstance(item, dict)
            else str(item)
            for item in message
        )
    return str(message)


def _advice(status: int) -> str:
    if status in (401, 403):
        return "check GOVCONNECT_NOTIFY_API_KEY (and that the machine's clock is right)"
    if status == 400:
        return "check the template ids in GOVCONNECT_NOTIFY_TEMPLATES and the template text"
    if status == 429:
        return "the service is over a GOV.UK Notify limit; try again later"
    return "try again later"


class GovUkNotify:
    def __init__(
        self,
        api_key: SecretStr | str,
        template_ids: Mapping[str, str],
        *,
        base_url: str = "https://api.notifications.service.gov.uk",
        catalogue: TemplateCatalogue | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        _check_api_key(key)
        self._catalogue = catalogue or default_catalogue()
        self._ids = _template_ids(self._catalogue, template_ids)
        self._api_key = SecretStr(key)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._clients = threading.local()

    @classmethod
    def from_settings(
        cls, settings: Settings, catalogue: TemplateCatalogue | None = None
    ) -> GovUkNotify:
        if settings.notify_api_key is None:
            raise NotifyConfigurationError("GOVCONNECT_NOTIFY_API_KEY is not set")
        return cls(
            settings.notify_api_key,
            settings.notify_templates,
            base_url=settings.notify_base_url,
            catalogue=catalogue,
        )

    async def send(self, notification: Notification) -> None:
        """Send one message; refuses an unknown template or a missing value before any
        request, and turns a refusal by Notify into :class:`NotifyDeliveryError`."""
        self._catalogue.render(notification)
        template_id = self._ids[(notification.template, notification.channel)]
        # Notify shows the reference on its dashboard; it must hold no personal data.
        reference = new_id(ID_PREFIX)
        facts = {
            "reference": reference,
            "template": notification.template,
            "channel": notification.channel.value,
        }
        try:
            response = await asyncio.to_thread(self._post, notification, template_id, reference)
        except APIError as exc:
            error = self._delivery_error(exc, notification, reference)
            log.warning(
                "GOV.UK Notify did not accept a notification",
                extra={**facts, "status_code": error.extensions["status_code"]},
            )
            raise error from None
        # NOTE: neither the recipient nor the personalisation is logged: they are personal
        # data and one-time codes. The reference and Notify's id find the message in Notify.
        log.info(
            "notification sent through GOV.UK Notify",
            extra={**facts, "notify_id": response.get("id") if response else None},
        )

    def _client(self) -> NotificationsAPIClient:
        client: NotificationsAPIClient | None = getattr(self._clients, "client", None)
        if client is None:
            # The client ships py.typed but leaves its functions unannotated.
            client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
                self._api_key.get_secret_value(), base_url=self._base_url, timeout=self._timeout
            )
            self._clients.client = client
        return client

    def _post(self, notification: Notification, template_id: str, reference: str) -> Any:
        client = self._client()
        personalisation = dict(notification.personalisation)
        if notification.channel is Channel.EMAIL:
            return client.send_email_notification(  # type: ignore[no-untyped-call]
                email_address=notification.to,
                template_id=template_id,
                personalisation=personalisation,
                reference=reference,
            )
        return client.send_sms_notification(  # type: ignore[no-untyped-call]
            phone_number=notification.to,
            template_id=template_id,
            personalisation=personalisation,
            reference=reference,
        )

    def _delivery_error(
        self, exc: APIError, notification: Notification, reference: str
    ) -> NotifyDeliveryError:
        status = exc.status_code
        what = f"the {notification.channel.value} '{notification.template}' ({reference})"
        if exc.response is None:
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "no answer"
            detail = (
                f"GOV.UK Notify could not be reached at {self._base_url} to send {what}: "
                f"{cause}; try again later"
            )
            retryable = True
        else:
            described = _redact(_describe(exc), notification)
            detail = f"GOV.UK Notify refused {what} with {status}: {described}; {_advice(status)}"
            retryable = status == 429 or status >= 500
        return NotifyDeliveryError(
            detail, status_code=status, retryable=retryable, reference=reference
        )
