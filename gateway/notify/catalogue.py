"""The template catalogue: ``templates.toml`` read once and checked when loaded.

A catalogue that cannot work (a missing body, an unknown key, a malformed placeholder) is
refused with a :class:`~gateway.notify.errors.NotifyConfigurationError` naming the template
and the fix, so a bad edit fails at start-up rather than when a person waits for a code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.notify.errors import NotifyConfigurationError, UnknownTemplateError
from gateway.notify.models import PLACEHOLDER, Notification, Rendered, Template

CATALOGUE_FILE = "templates.toml"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_PLACEHOLDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = frozenset({"subject", "body", "sms"})


def _refuse(source: str, message: str) -> NotifyConfigurationError:
    return NotifyConfigurationError(f"{source}: {message}")


def _text(source: str, name: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _refuse(source, f"[{name}] {key} must be a non-empty string")
    text = value.strip()
    leftover = PLACEHOLDER.sub("", text)
    if "((" in leftover or "))" in leftover:
        raise _refuse(
            source, f"[{name}] {key} has unbalanced brackets; write placeholders as ((name))"
        )
    for match in PLACEHOLDER.finditer(text):
        if not _PLACEHOLDER_NAME.match(match.group(1).strip()):
            raise _refuse(
                source,
                f"[{name}] {key} has the placeholder {match.group(0)!r}; placeholder names are "
                "lower-case letters, digits and underscores, such as ((new_email_hint))",
            )
    return text


def _template(source: str, name: str, entry: object) -> Template:
    if not _NAME.match(name):
        raise _refuse(
            source, f"template name {name!r} must be lower-case letters, digits and hyphens"
        )
    if not isinstance(entry, dict):
        raise _refuse(source, f"[{name}] must be a table with subject and body")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise _refuse(
            source, f"[{name}] has unknown keys {unknown}; use only subject, body and sms"
        )
    for key in ("subject", "body"):
        if key not in entry:
            raise _refuse(source, f"[{name}] has no {key}")
    return Template(
        name=name,
        subject=_text(source, name, "subject", entry["subject"]),
        body=_text(source, name, "body", entry["body"]),
        sms=_text(source, name, "sms", entry["sms"]) if "sms" in entry else None,
    )


class TemplateCatalogue:
    """Every template by name; :meth:`render` turns a notification into its text."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self._templates = dict(templates)

    @classmethod
    def parse(cls, data: Mapping[str, Any], source: str = CATALOGUE_FILE) -> TemplateCatalogue:
        if not data:
            raise _refuse(source, "the catalogue holds no templates")
        return cls({name: _template(source, name, entry) for name, entry in data.items()})

    @classmethod
    def load(cls, path: Path | None = None) -> TemplateCatalogue:
        """The catalogue in ``path``; the one shipped beside this module by default."""
        if path is None:
            raw = resources.files("gateway.notify").joinpath(CATALOGUE_FILE).read_bytes()
            source = f"gateway/notify/{CATALOGUE_FILE}"
        else:
            raw, source = path.read_bytes(), str(path)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise _refuse(source, f"not valid TOML: {exc}") from None
        return cls.parse(data, source)

    def __iter__(self) -> Iterator[Template]:
        return iter(self._templates.values())

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._templates)

    def get(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            raise UnknownTemplateError(
                f"there is no notification template {name!r}; the templates are "
                + ", ".join(sorted(self._templates)),
                template=name,
            )
        return template

    def render(self, notification: Notification) -> Rendered:
        """The notification's text; refuses an unknown template, a channel the template
        has no text for, and a placeholder without a value."""
        template = self.get(notification.template)
        return template.render(notification.channel, notification.personalisation)


@cache
def default_catalogue() -> TemplateCatalogue:
    """The shipped catalogue, read once per process."""
    return TemplateCatalogue.load()
