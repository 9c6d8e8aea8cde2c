"""The message catalogue: sentences pages show, kept out of code (``messages.toml``)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE = Path(__file__).with_name("messages.toml")


@cache
def _catalogue(language: str) -> dict[str, Any]:
    """``messages.toml`` merged with each area's ``messages-<area>.toml`` beside it (so each
    package's pages keep their sentences together); a group defined twice is an error."""
    path = CATALOGUE if language == "en" else CATALOGUE.with_suffix(f".{language}.toml")
    with path.open("rb") as handle:
        merged = tomllib.load(handle)
    if language != "en":
        return merged
    for area in sorted(CATALOGUE.parent.glob("messages-*.toml")):
        with area.open("rb") as handle:
            groups = tomllib.load(handle)
        clash = merged.keys() & groups.keys()
        if clash:
            raise KeyError(f"{area.name} defines {sorted(clash)} again")
        merged.update(groups)
    return merged


def message(key: str, language: str = "en", **values: object) -> str:
    """``message("code.send_limit", seconds=30)``; an unknown key raises KeyError loudly."""
    node: Any = _catalogue(language)
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} names a group, not a message")
    return node.format(**values) if values else node
