"""``govconnect moves``: setting up Tell Us Once and registering organisations for it.

``hub`` creates what the hub needs and is missing (its organisation, with the code
``TELL-US-ONCE``; its disabled sender client; its messaging team), and is safe to run again.
``register`` lets the hub tell an organisation about moves through one of the
``change-of-address…`` services registered with ``govconnect services add``: the service's
schema says which fields that organisation receives (docs/tell-us-once.md). Each change is
written to the evidence log with the operator as the actor.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, run
from gateway.delivery.models import RoutingRule
from gateway.moves.services import Hub
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``govconnect moves`` to the command."""
    root.add_typer(app, name="moves", help="Tell Us Once: the hub and who can be told.")


@app.command("hub")
def hub(
    contact_email: Annotated[
        str, typer.Option(help="Who runs Tell Us Once, for the hub organisation's record.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Set up the hub (whatever of it is missing)."""

    async def action(runtime: Runtime) -> Hub:
        return await runtime.moves.set_up_hub(contact_email, cli_actor())

    found = run(action)
    data = {
        "organisation": found.organisation.id,
        "client": found.client.client_id,
        "team": found.team.id,
    }
    emit(data, as_json, [f"hub organisation {data['organisation']}", f"team {data['team']}"])


@app.command("register")
def register_organisation(
    organisation: Annotated[str, typer.Option(help="The organisation to tell (org_...).")],
    service: Annotated[str, typer.Option(help="Its change-of-address service's name.")],
    as_json: JsonOption = False,
) -> None:
    """Let the hub tell an organisation about moves through its change-of-address service."""

    async def action(runtime: Runtime) -> RoutingRule:
        return await runtime.moves.register(organisation, service, cli_actor())

    rule = run(action)
    emit(rule.to_json(), as_json, [f"{rule.id}: hub may send {rule.service} to {organisation}"])
