"""``govconnect messaging``: council service teams, their staff, and the sweep.

``teams add`` registers a team of an organisation with its service and retention; ``staff
add``/``remove`` put an account on a team (or take it off), which is what lets it open the
team's conversations; ``sweep`` sends due notifications and destroys messages whose retention
has ended (every ``govconnect serve`` process also sweeps by itself). Each change is written
to the evidence log with the operator as the actor. KEK rotation is ``govconnect keys
rotate-kek``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run
from gateway.organisations.models import describe_validation_error
from gateway.runtime import Runtime
from messaging import worker
from messaging.models import NewTeam, Team

INVALID_INPUT = 2

app = typer.Typer(no_args_is_help=True)
teams_app = typer.Typer(no_args_is_help=True)
staff_app = typer.Typer(no_args_is_help=True)
app.add_typer(teams_app, name="teams", help="Council service teams and their retention.")
app.add_typer(staff_app, name="staff", help="Staff accounts of a team.")


def register(root: typer.Typer) -> None:
    """Add ``govconnect messaging`` to the command."""
    root.add_typer(app, name="messaging", help="Secure messaging: teams, staff and sweeps.")


def _team_line(team: Team) -> str:
    return (
        f"{team.id}  {team.organisation_id}  {team.service:<20} {team.name} "
        f"(view {team.view_days} days, then kept {team.record_days} days)"
    )


@teams_app.command("add")
def add_team(
    organisation: Annotated[str, typer.Option(help="The organisation id (org_...).")],
    name: Annotated[str, typer.Option(help="What citizens see, e.g. 'Council Tax team'.")],
    service: Annotated[str, typer.Option(help="The service, e.g. council-tax.")],
    view_days: Annotated[
        int, typer.Option(help="Days a message stays in the citizen's view.")
    ] = 365,
    record_days: Annotated[
        int, typer.Option(help="Days it is then kept for the council's record before destruction.")
    ] = 2_190,
    as_json: JsonOption = False,
) -> None:
    """Add a council service team."""
    try:
        new = NewTeam(
            organisation_id=organisation,
            name=name,
            service=service,
            view_days=view_days,
            record_days=record_days,
        )
    except ValidationError as exc:
        fail(describe_validation_error(exc), INVALID_INPUT)

    async def action(runtime: Runtime) -> Team:
        return await runtime.messaging.add_team(new, str(cli_actor()))

    team = run(action)
    emit(team.to_json(), as_json, [_team_line(team)])


@teams_app.command("list")
def list_teams(as_json: JsonOption = False) -> None:
    """List every team."""

    async def action(runtime: Runtime) -> list[Team]:
        return await runtime.messaging.teams()

    teams = run(action)
    emit([t.to_json() for t in teams], as_json, [_team_line(t) for t in teams] or ["no teams"])


@staff_app.command("add")
def add_staff(
    team: Annotated[str, typer.Option(help="The team id (tm_...).")],
    account: Annotated[str, typer.Option(help="The account's id or email address.")],
    as_json: JsonOption = False,
) -> None:
    """Put an account on a team: it may then open the team's conversations."""

    async def action(runtime: Runtime) -> str:
        found = await runtime.accounts.find(account)
        await runtime.messaging.add_staff(team, found.id, str(cli_actor()))
        return found.id

    account_id = run(action)
    emit({"team": team, "account_id": account_id}, as_json, [f"{account_id} added to {team}"])


@staff_app.command("remove")
def remove_staff(
    team: Annotated[str, typer.Option(help="The team id (tm_...).")],
    account: Annotated[str, typer.Option(help="The account's id or email address.")],
    as_json: JsonOption = False,
) -> None:
    """Take an account off a team."""

    async def action(runtime: Runtime) -> tuple[str, bool]:
        found = await runtime.accounts.find(account)
        return found.id, await runtime.messaging.remove_staff(team, found.id, str(cli_actor()))

    account_id, removed = run(action)
    line = f"{account_id} removed from {team}" if removed else f"{account_id} was not on {team}"
    emit({"team": team, "account_id": account_id, "removed": removed}, as_json, [line])


@app.command("sweep")
def sweep(as_json: JsonOption = False) -> None:
    """Send the notifications that are due and destroy messages whose retention ended."""
    sent, destroyed = run(worker.sweep)
    emit(
        {"notifications_sent": sent, "messages_destroyed": destroyed},
        as_json,
        [f"notifications sent: {sent}", f"messages destroyed: {destroyed}"],
    )
