"""The message catalogue: sentences pages show, kept out of code (``messages.toml``).

English lives in ``messages.toml`` and each area's ``messages-<area>.toml``; another
language in the same files with the language before ``.toml`` (``messages-payments.cy.toml``).
A page in Welsh shows each sentence that has a Welsh translation in Welsh and, until every
area is translated, the others in English (the payment pages are translated in full, as
GOV.UK Pay's are: tests/gateway/web/test_messages.py checks it).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE = Path(__file__).with_name("messages.toml")
LANGUAGES = ("en", "cy")


def _files(language: str) -> list[Path]:
    """The catalogue's files for ``language``: the main one first, then each area's."""
    parts = 2 if language == "en" else 3  # messages-payments.toml, messages-payments.cy.toml
    main = CATALOGUE if language == "en" else CATALOGUE.with_suffix(f".{language}.toml")
    areas = [
        path
        for path in sorted(CATALOGUE.parent.glob("messages-*.toml"))
        if len(path.name.split(".")) == parts and (language == "en" or f".{language}." in path.name)
    ]
    return [path for path in (main, *areas) if path.exists()]


@cache
def _catalogue(language: str) -> dict[str, Any]:
    """The language's files merged (so each package's pages keep their sentences together);
    a group defined twice is an error."""
    if language not in LANGUAGES:
        raise KeyError(f"no catalogue for language {language!r}")
    merged: dict[str, Any] = {}
    for path in _files(language):
        with path.open("rb") as handle:
            groups = tomllib.load(handle)
        clash = merged.keys() & groups.keys()
        if clash:
            raise KeyError(f"{path.name} defines {sorted(clash)} again")
        merged.update(groups)
    return merged


def _lookup(key: str, language: str) -> str | None:
    node: Any = _catalogue(language)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} names a group, not a message")
    return node


def message(key: str, language: str = "en", **values: object) -> str:
    """``message("code.send_limit", seconds=30)``, in ``language`` where translated and in
    English otherwise; a key English lacks raises KeyError loudly."""
    text = _lookup(key, language) if language != "en" else None
    if text is None:
        text = _lookup(key, "en")
    if text is None:
        raise KeyError(key)
    return text.format(**values) if values else text
