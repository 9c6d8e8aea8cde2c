"""``govconnect payments``: API keys for councils' payment services."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, run
from gateway.runtime import Runtime
from payments.models import Mode

app = typer.Typer(no_args_is_help=True)
keys = typer.Typer(no_args_is_help=True)
app.add_typer(keys, name="keys", help="API keys of the GOV.UK Pay compatible payment API.")


@keys.command("create")
def create_key(
    org: Annotated[str, typer.Option(help="The organisation's id (org_…).")],
    service: Annotated[str, typer.Option(help="The council service, e.g. parking-fines.")],
    test: Annotated[
        bool, typer.Option("--test", help="A test key: sandbox payments only.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an API key for one council service. The key is printed once and never stored."""

    async def action(runtime: Runtime) -> None:
        mode = Mode.TEST if test else Mode.LIVE
        issued = await runtime.payments.keys.create(org, service, mode, cli_actor())
        emit(
            {**issued.key.to_json(), "key": issued.secret},
            as_json,
            [
                f"id: {issued.key.id}",
                f"key: {issued.secret}",
                "Keep the key now: it is not shown again.",
            ],
        )

    run(action)


@keys.command("list")
def list_keys(
    org: Annotated[str | None, typer.Option(help="Only this organisation's keys.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (ids, services and modes; never the keys themselves)."""

    async def action(runtime: Runtime) -> None:
        emit([k.to_json() for k in await runtime.payments.keys.list(org)], as_json)

    run(action)


@keys.command("revoke")
def revoke_key(key_id: str, as_json: JsonOption = False) -> None:
    """Revoke an API key at once."""

    async def action(runtime: Runtime) -> None:
        emit((await runtime.payments.keys.revoke(key_id, cli_actor())).to_json(), as_json)

    run(action)
