"""The template catalogue: every template the gateway sends is there with the placeholders
the callers fill in, rendering fills them in one pass, and a catalogue, template name or
personalisation that cannot work is refused with a message that names no value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.errors import Category, ConfigurationError
from gateway.notify.catalogue import TemplateCatalogue, default_catalogue
from gateway.notify.errors import (
    MissingPersonalisationError,
    NotifyConfigurationError,
    UnknownTemplateError,
    UnsupportedChannelError,
)
from gateway.notify.models import Channel, Notification

EXPECTED = {
    "verify-email": ("code",),
    "account-exists": (),
    "sign-in-code": ("code",),
    "reset-password": ("code",),
    "email-change-code": ("code",),
    "email-changed": ("new_email_hint",),
    "password-changed": (),
    "new-message": ("sender",),
    "business-invitation": ("business", "role", "link", "expires"),
    "agent-invitation": ("agent_name", "service", "link", "expires"),
}


def email(template: str, **personalisation: str) -> Notification:
    return Notification(Channel.EMAIL, "person@example.gov.uk", template, personalisation)


def test_the_catalogue_holds_every_template_with_its_placeholders() -> None:
    catalogue = default_catalogue()
    assert set(catalogue.names) == set(EXPECTED)
    for template in catalogue:
        assert template.placeholders(Channel.EMAIL) == EXPECTED[template.name], template.name
        assert template.subject and template.body
        for channel in template.channels:
            assert template.placeholders(channel) == EXPECTED[template.name], template.name


def test_a_new_message_notification_names_the_sender_and_carries_no_content() -> None:
    template = default_catalogue().get("new-message")
    assert template.body.startswith("You have a new message from ((sender)). Sign in to read it.")
    rendered = template.render(Channel.EMAIL, {"sender": "Anytown Council", "body": "secret"})
    assert "secret" not in rendered.body and "Anytown Council" in rendered.body


def test_rendering_fills_the_subject_and_body() -> None:
    rendered = default_catalogue().render(email("verify-email", code="482913"))
    assert rendered.subject == "Confirm your email address"
    assert "\n482913\n" in rendered.body and "((" not in rendered.body


def test_a_text_message_has_no_subject() -> None:
    notification = Notification(Channel.SMS, "07700900123", "sign-in-code", {"code": "482913"})
    rendered = default_catalogue().render(notification)
    assert rendered.subject is None
    assert rendered.body.startswith("482913 is your GovConnect security code.")


def test_a_template_without_a_text_message_is_refused_for_sms() -> None:
    notification = Notification(Channel.SMS, "07700900123", "verify-email", {"code": "482913"})
    with pytest.raises(UnsupportedChannelError, match="'verify-email' has no sms text"):
        default_catalogue().render(notification)


def test_a_missing_placeholder_is_refused_by_name() -> None:
    with pytest.raises(MissingPersonalisationError) as caught:
        default_catalogue().render(email("email-changed", code="482913"))
    assert "((new_email_hint))" in caught.value.detail
    assert "482913" not in str(caught.value.detail) + str(caught.value.extensions)
    assert caught.value.extensions["missing"] == ["new_email_hint"]
    assert caught.value.category is Category.INTERNAL


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(UnknownTemplateError, match="no notification template 'welcome'"):
        default_catalogue().render(email("welcome"))


def test_a_value_that_looks_like_a_placeholder_is_shown_as_written() -> None:
    rendered = default_catalogue().render(email("new-message", sender="((code)) Ltd"))
    assert "You have a new message from ((code)) Ltd." in rendered.body


def test_a_notification_keeps_its_personalisation_out_of_repr_and_read_only() -> None:
    notification = email("verify-email", code="482913")
    assert "482913" not in repr(notification)
    with pytest.raises(TypeError):
        notification.personalisation["code"] = "000000"  # type: ignore[index]
    assert notification.channel is Channel.EMAIL
    assert Notification("sms", "07700900123", "x", {}).channel is Channel.SMS  # type: ignore[arg-type]


def test_a_notification_needs_a_recipient_and_string_values() -> None:
    with pytest.raises(ValueError, match="recipient"):
        Notification(Channel.EMAIL, "  ", "verify-email", {"code": "1"})
    with pytest.raises(TypeError, match="'code'"):
        Notification(Channel.EMAIL, "a@example.gov.uk", "verify-email", {"code": 1})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("toml", "phrase"),
    [
        ('[x]\nsubject = "S"\n', "[x] has no body"),
        ('[x]\nsubject = "S"\nbody = "B"\nfooter = "F"\n', "unknown keys ['footer']"),
        ('[x]\nsubject = "S"\nbody = "Hello ((First Name))"\n', "placeholder '((First Name))'"),
        ('[x]\nsubject = "S"\nbody = "Hello ((name)"\n', "unbalanced brackets"),
        ('[x]\nsubject = "S"\nbody = "  "\n', "body must be a non-empty string"),
        ('[Bad_Name]\nsubject = "S"\nbody = "B"\n', "template name 'Bad_Name'"),
        ("[x\n", "not valid TOML"),
        ("", "holds no templates"),
    ],
    ids=[
        "no-body",
        "unknown-key",
        "bad-placeholder",
        "unbalanced",
        "blank",
        "bad-name",
        "toml",
        "empty",
    ],
)
def test_a_broken_catalogue_is_refused_when_loaded(tmp_path: Path, toml: str, phrase: str) -> None:
    path = tmp_path / "templates.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(NotifyConfigurationError) as caught:
        TemplateCatalogue.load(path)
    assert phrase in caught.value.detail
    assert isinstance(caught.value, ConfigurationError)
