"""``govconnect accounts``: create, inspect, disable and enable people's accounts.

Accounts are named by id (``acc_…``) or by email address. Passwords, TOTP secrets and codes
are never printed back; ``show`` prints what an operator needs and nothing a person would
have to keep secret.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gateway.accounts.models import Account
from gateway.cli.common import JsonOption, cli_actor, emit, run
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)

AccountArgument = Annotated[
    str, typer.Argument(metavar="ACCOUNT", help="The account's id (acc_…) or email address.")
]


def _summary(account: Account) -> list[str]:
    state = "disabled" if account.disabled else "enabled"
    verified = "confirmed" if account.email_verified else "not confirmed"
    return [
        f"id: {account.id}",
        f"email: {account.email} ({verified})",
        f"state: {state}",
        f"authenticator app: {'on' if account.totp_enabled else 'off'}",
    ]


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="The person's email address.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="The password (asked for, unechoed, when not given).",
        ),
    ],
    totp_secret: Annotated[
        str | None,
        typer.Option(help="Switch on an authenticator app with this base32 secret (128+ bits)."),
    ] = None,
    verified: Annotated[
        bool, typer.Option("--verified", help="Treat the email address as confirmed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an account (for support staff, tests and demonstrations)."""
    # NOTE: --password on the command line is visible to other local users in the process
    # list and stays in shell history; leave it out to be asked for it instead.

    async def action(runtime: Runtime) -> None:
        account = await runtime.accounts.create(
            email, password, verified=verified, totp_secret=totp_secret, actor=cli_actor()
        )
        emit(account.to_json(), as_json, _summary(account))

    run(action)


@app.command("show")
def show(account: AccountArgument, as_json: JsonOption = False) -> None:
    """Show an account (never its password, secrets or codes)."""

    async def action(runtime: Runtime) -> None:
        found = await runtime.accounts.find(account)
        left = (
            await runtime.accounts.remaining_recovery_codes(found.id) if found.totp_enabled else 0
        )
        data: dict[str, Any] = {**found.to_json(), "recovery_codes_remaining": left}
        lines = _summary(found)
        if found.totp_enabled:
            lines.append(f"recovery codes left: {left}")
        emit(data, as_json, lines)

    run(action)


@app.command("disable")
def disable(account: AccountArgument, as_json: JsonOption = False) -> None:
    """Disable an account at once: no more sign-ins, and every browser session ends."""

    async def action(runtime: Runtime) -> None:
        found = await runtime.accounts.find(account)
        disabled = await runtime.accounts.disable(found.id, cli_actor())
        ended = await runtime.sessions.end_all(found.id)
        emit(
            {**disabled.to_json(), "sessions_ended": ended},
            as_json,
            [f"{disabled.id} disabled; {ended} session(s) ended"],
        )

    run(action)


@app.command("enable")
def enable(account: AccountArgument, as_json: JsonOption = False) -> None:
    """Enable a disabled account."""

    async def action(runtime: Runtime) -> None:
        found = await runtime.accounts.find(account)
        enabled = await runtime.accounts.enable(found.id, cli_actor())
        emit(enabled.to_json(), as_json, [f"{enabled.id} enabled"])

    run(action)


@app.command("reset-mfa")
def reset_mfa(account: AccountArgument, as_json: JsonOption = False) -> None:
    """Remove the authenticator app and recovery codes (for a person who lost both). Check
    who is asking first: this leaves the account protected by its password alone."""

    async def action(runtime: Runtime) -> None:
        found = await runtime.accounts.find(account)
        reset = await runtime.accounts.reset_mfa(found.id, cli_actor())
        emit(
            reset.to_json(), as_json, [f"{reset.id}: authenticator app and recovery codes removed"]
        )

    run(action)
