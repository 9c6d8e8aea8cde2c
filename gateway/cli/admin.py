"""``govconnect admin``: tokens for the admin API."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, run
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


@app.command("create-token")
def create_token(
    name: Annotated[str, typer.Option(help="Who or what will use the token.")],
    as_json: JsonOption = False,
) -> None:
    """Create an admin API token. The secret is printed once and never stored."""

    async def action(runtime: Runtime) -> None:
        issued = await runtime.admin.create_token(name, cli_actor())
        data = {**issued.token.to_json(), "token": issued.secret}
        emit(
            data,
            as_json,
            [
                f"id: {issued.token.id}",
                f"token: {issued.secret}",
                "Keep the token now: it is not shown again.",
            ],
        )

    run(action)


@app.command("list-tokens")
def list_tokens(as_json: JsonOption = False) -> None:
    """List admin tokens (names and ids, never secrets)."""

    async def action(runtime: Runtime) -> None:
        tokens = [t.to_json() for t in await runtime.admin.tokens()]
        emit(tokens, as_json)

    run(action)


@app.command("revoke-token")
def revoke_token(token_id: str, as_json: JsonOption = False) -> None:
    """Revoke an admin token at once."""

    async def action(runtime: Runtime) -> None:
        emit((await runtime.admin.revoke_token(token_id, cli_actor())).to_json(), as_json)

    run(action)
