"""How store keys are spelled, for the ``store.py`` of every package.

Every key starts with a hash tag (``{...}``) so that Redis Cluster puts the keys one
operation touches in one slot (Redis Cluster specification, "Hash tags"). A package's
``store.py`` is the only place that calls these helpers; nothing else spells a key.
"""

from __future__ import annotations


def tagged(slot: str, *parts: str) -> str:
    """``tagged("orgs", "org", "x")`` → ``{gc:orgs}:org:x``: all in the ``gc:orgs`` slot."""
    if "{" in slot or "}" in slot:
        raise ValueError("a slot name must not contain braces")
    return ":".join((f"{{gc:{slot}}}", *parts))
