"""``govconnect officers``: identity officers, who record identity evidence they check in
person for their organisation (trust_levels.proofing). The same operations as the admin API
``/admin/v1/identity-officers``; each change is in the evidence log under the operator."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, run
from gateway.runtime import Runtime
from trust_levels.proofing.models import Officer

app = typer.Typer(no_args_is_help=True)

AccountArgument = Annotated[
    str, typer.Argument(metavar="ACCOUNT", help="The account's email address or id (acc_…).")
]


def _line(officer: Officer) -> str:
    since = f"{officer.added_at:%Y-%m-%d}"
    return f"{officer.account_id} officer of {officer.organisation_id} since {since}"


@app.command("add")
def add(
    account: AccountArgument,
    organisation: Annotated[
        str, typer.Option(help="The organisation (org_…) they check identities for.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Make an account an identity officer of an organisation."""

    async def action(runtime: Runtime) -> None:
        officer = await runtime.proofing.officers.designate(account, organisation, cli_actor())
        emit(officer.to_json(), as_json, [_line(officer)])

    run(action)


@app.command("list")
def list_officers(as_json: JsonOption = False) -> None:
    """List identity officers and their organisations."""

    async def action(runtime: Runtime) -> None:
        officers = await runtime.proofing.officers.list()
        emit([o.to_json() for o in officers], as_json, [_line(o) for o in officers])

    run(action)


@app.command("remove")
def remove(account: AccountArgument, as_json: JsonOption = False) -> None:
    """Stop an account being an identity officer (the evidence they recorded stays)."""

    async def action(runtime: Runtime) -> None:
        officer = await runtime.proofing.officers.remove(account, cli_actor())
        emit(officer.to_json(), as_json, [f"removed: {_line(officer)}"])

    run(action)
