"""Errors of notifications.

NotifyError
├── UnknownTemplateError            (internal: no template by that name in the catalogue)
├── UnsupportedChannelError         (internal: the template has no text for that channel)
├── MissingPersonalisationError     (internal: a ((placeholder)) of the template has no value)
├── NotifyDeliveryError             (unavailable: GOV.UK Notify refused the message or could
│                                    not be reached; ``status_code`` and ``retryable`` say more)
└── NotifyConfigurationError        (also a core ConfigurationError: the catalogue, the API key
                                     or the template ids cannot work)

The first three are defects in the calling code (a template name or a placeholder that the
catalogue does not know), so they are ``internal``: a person can do nothing about them. None
of these errors ever carries a personalisation value: values hold one-time codes.
"""

from __future__ import annotations

from gateway.core.errors import Category, ConfigurationError, GovConnectError


class NotifyError(GovConnectError):
    slug = "notify-error"
    title = "Notification error"


class UnknownTemplateError(NotifyError):
    category = Category.INTERNAL
    slug = "unknown-notification-template"
    title = "Unknown notification template"


class UnsupportedChannelError(NotifyError):
    category = Category.INTERNAL
    slug = "unsupported-notification-channel"
    title = "Unsupported notification channel"


class MissingPersonalisationError(NotifyError):
    category = Category.INTERNAL
    slug = "missing-personalisation"
    title = "Missing personalisation"


class NotifyDeliveryError(NotifyError):
    category = Category.UNAVAILABLE
    slug = "notification-not-delivered"
    title = "Notification not delivered"


class NotifyConfigurationError(NotifyError, ConfigurationError):
    category = Category.INTERNAL
    slug = "notify-configuration-error"
    title = "Notification configuration error"
