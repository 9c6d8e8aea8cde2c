"""docs/problems.md lists every problem type the code can answer with: each domain error's
``urn:govconnect:problem:<slug>`` and, for OAuth errors, their ``error`` code. A new error
class without a row fails here, so a council developer never meets an undocumented type."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import gateway
import messaging
import payments
import trust_levels
from gateway.core.errors import GovConnectError
from gateway.oidc.errors import OAuthError

DOC = Path(__file__).parents[3] / "docs" / "problems.md"


def _every_error() -> Iterator[type[GovConnectError]]:
    for package in (gateway, trust_levels, payments, messaging):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    pending: list[type[GovConnectError]] = [GovConnectError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        yield cls


def test_every_problem_type_and_oauth_error_code_is_documented() -> None:
    text = DOC.read_text("utf-8")
    missing = set()
    for cls in _every_error():
        if cls.__subclasses__() or cls.__bases__ == (GovConnectError,):
            continue  # a package's base error: what is raised is always a subclass
        name = cls.error if issubclass(cls, OAuthError) else cls.slug
        if f"`{name}`" not in text:
            missing.add(f"{cls.__module__}.{cls.__name__} ({name})")
    assert not missing, "add these to docs/problems.md:\n" + "\n".join(sorted(missing))
