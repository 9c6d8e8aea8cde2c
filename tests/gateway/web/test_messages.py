"""The message catalogue in English and Welsh: the payment pages are Welsh in full, each
Welsh sentence answers an English one with the same placeholders, and a sentence not yet
translated falls back to English rather than failing the page."""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.web.messages import CATALOGUE, message

WEB = CATALOGUE.parent


def _flat(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        tree = tomllib.load(handle)

    def walk(node: dict[str, Any], prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, value in node.items():
            key = f"{prefix}{name}"
            found.update(walk(value, key + ".") if isinstance(value, dict) else {key: value})
        return found

    return walk(tree, "")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(
    ("english", "welsh", "complete"),
    [
        ("messages.toml", "messages.cy.toml", False),
        ("messages-payments.toml", "messages-payments.cy.toml", True),
    ],
)
def test_each_welsh_sentence_answers_an_english_one_with_the_same_placeholders(
    english: str, welsh: str, complete: bool
) -> None:
    en, cy = _flat(WEB / english), _flat(WEB / welsh)
    assert cy.keys() <= en.keys(), sorted(cy.keys() - en.keys())
    if complete:
        assert cy.keys() == en.keys(), sorted(en.keys() - cy.keys())
    for key, text in cy.items():
        assert _fields(text) == _fields(en[key]), key
        assert (text.strip() and text != en[key]) or key.endswith("service_name"), key


def test_welsh_is_shown_where_translated_and_english_where_not() -> None:
    assert message("payments.card_ending", "cy", digits="4242") == "Cerdyn yn gorffen â 4242"
    assert message("layout.there_is_a_problem", "cy") == "Mae problem wedi codi"
    assert message("email.missing", "cy") == message("email.missing")  # not yet translated
    assert message("payments.card_ending", digits="4242") == "Card ending 4242"


def test_an_unknown_key_or_language_fails_loudly() -> None:
    with pytest.raises(KeyError):
        message("payments.no_such_sentence", "cy")
    with pytest.raises(KeyError):
        message("payments.card_title", "fr")
