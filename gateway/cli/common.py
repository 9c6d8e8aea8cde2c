"""What every ``govconnect`` command shares: settings, the runtime, output and errors.

Each command prints either lines for a person or, with ``--json``, one JSON document for a
script. A domain error ends the command with its message on stderr and exit status 1
(2 for input the command refused), never a traceback.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Annotated, Any, NoReturn, TypeVar

import redis
import typer

from gateway.admin.models import Actor
from gateway.core.errors import Category, GovConnectError
from gateway.core.settings import Settings
from gateway.runtime import Runtime, open_runtime

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        fail(f"invalid setting: {exc}")


def cli_actor() -> Actor:
    """Operators at the command line are recorded by their OS user name."""
    return Actor("cli", getpass.getuser())


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run(action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open the runtime, run ``action`` on it and close it, turning domain errors into exits."""

    async def main() -> T:
        async with open_runtime(settings()) as runtime:
            return await action(runtime)

    return run_async(main())


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except GovConnectError as exc:
        fail(exc.detail, 2 if exc.category is Category.INVALID else 1)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        fail(f"the store cannot be reached ({exc}); check GOVCONNECT_REDIS_URL or the data folder")


def emit(data: Any, as_json: bool, lines: Iterable[str] | None = None) -> None:
    """Print ``data`` as JSON, or the human ``lines`` (defaulting to key: value pairs)."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    if lines is None:
        lines = _describe(data)
    for line in lines:
        typer.echo(line)


def _describe(data: Any, indent: str = "") -> list[str]:
    if isinstance(data, Mapping):
        out: list[str] = []
        for key, value in data.items():
            if isinstance(value, Mapping | list) and value:
                out.append(f"{indent}{key}:")
                out.extend(_describe(value, indent + "  "))
            else:
                out.append(f"{indent}{key}: {value}")
        return out
    if isinstance(data, list):
        out = []
        for item in data:
            if isinstance(item, Mapping):
                out.extend(_describe(item, indent + "  "))
                out.append("")
            else:
                out.append(f"{indent}- {item}")
        return out
    return [f"{indent}{data}"]


def is_tty() -> bool:
    return sys.stdout.isatty()
