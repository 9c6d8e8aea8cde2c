"""``govconnect``: run the gateway and administer it.

Every sub-command has ``--json`` for scripts. Commands talk to the store directly through the
same services as the admin API; with the embedded store they use the running gateway's Redis
if one is up, or start it for the length of the command.
"""

from __future__ import annotations

import typer

from gateway.cli import accounts, admin, audit, clients, keys, officers, orgs, serve, setup, worker
from gateway.cli import bench as bench_cli
from gateway.cli import delivery as delivery_cli
from gateway.cli import messaging as messaging_cli
from gateway.cli import moves as moves_cli
from gateway.cli import payments as payments_cli

app = typer.Typer(
    name="govconnect",
    help="GovConnect gateway: sign-in, signed delivery, secure messaging and payments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("init")(setup.init)
app.add_typer(orgs.app, name="orgs", help="Connected organisations and their certificates.")
app.add_typer(clients.app, name="clients", help="OAuth / OpenID Connect clients (relying parties).")
app.add_typer(keys.app, name="keys", help="The gateway's signing keys.")
app.add_typer(accounts.app, name="accounts", help="People's accounts (operators and test set-ups).")
app.add_typer(admin.app, name="admin", help="Admin API tokens.")
app.add_typer(audit.app, name="audit", help="The hash-chained evidence log.")
app.add_typer(payments_cli.app, name="payments", help="Payment API keys (GOV.UK Pay compatible).")
delivery_cli.register(app)
messaging_cli.register(app)
moves_cli.register(app)
app.add_typer(officers.app, name="officers", help="Identity officers (identity proofing).")
bench_cli.register(app)


def main() -> None:
    app()
