"""``govconnect payments``: API keys, webhooks and settings of councils' payment services,
and the daily reconciliation report."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run
from gateway.runtime import Runtime
from payments.models import Mode
from payments.report import reconcile

app = typer.Typer(no_args_is_help=True)
keys = typer.Typer(no_args_is_help=True)
webhooks = typer.Typer(no_args_is_help=True)
services = typer.Typer(no_args_is_help=True)
app.add_typer(keys, name="keys", help="API keys of the GOV.UK Pay compatible payment API.")
app.add_typer(webhooks, name="webhooks", help="Webhooks sending payment events to services.")
app.add_typer(services, name="services", help="Payment settings of council services.")

OrgOption = Annotated[str, typer.Option("--org", help="The organisation's id (org_…).")]
ServiceOption = Annotated[
    str, typer.Option("--service", help="The council service, e.g. parking-fines.")
]
TestOption = Annotated[bool, typer.Option("--test", help="The service's test account.")]


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


@webhooks.command("create")
def create_webhook(
    org: OrgOption,
    service: ServiceOption,
    url: Annotated[str, typer.Option("--url", help="The callback URL (https).")],
    events: Annotated[
        str,
        typer.Option(
            "--events",
            help="Comma-separated event types, e.g. card_payment_succeeded,card_payment_failed.",
        ),
    ],
    description: Annotated[str, typer.Option(help="What the webhook is for.")] = "",
    test: TestOption = False,
    as_json: JsonOption = False,
) -> None:
    """Register a webhook; prints its signing secret (show it again with 'secret')."""

    async def action(runtime: Runtime) -> None:
        issued = await runtime.payments.webhooks.create(
            org,
            service,
            Mode.TEST if test else Mode.LIVE,
            url,
            events.split(","),
            cli_actor(),
            description,
        )
        emit({**issued.webhook.to_api(), "signing_secret": issued.signing_secret}, as_json)

    run(action)


@webhooks.command("list")
def list_webhooks(
    org: Annotated[str | None, typer.Option(help="Only this organisation's webhooks.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List webhooks (never their secrets)."""

    async def action(runtime: Runtime) -> None:
        emit([hook.to_api() for hook in await runtime.payments.webhooks.all(org)], as_json)

    run(action)


@webhooks.command("show")
def show_webhook(webhook_id: str, as_json: JsonOption = False) -> None:
    """A webhook and its latest delivery attempts."""

    async def action(runtime: Runtime) -> None:
        service = runtime.payments.webhooks
        hook = await service.get(webhook_id)
        emit({**hook.to_api(), "attempts": await service.attempts(webhook_id)}, as_json)

    run(action)


@webhooks.command("secret")
def webhook_secret(webhook_id: str, as_json: JsonOption = False) -> None:
    """Show a webhook's signing secret (as GOV.UK Pay's "Manage signing secret")."""

    async def action(runtime: Runtime) -> None:
        service = runtime.payments.webhooks
        hook = await service.get(webhook_id)
        emit({"id": hook.id, "signing_secret": service.signing_secret(hook)}, as_json)

    run(action)


@webhooks.command("deactivate")
def deactivate_webhook(webhook_id: str, as_json: JsonOption = False) -> None:
    """Stop sending messages to a webhook (queued ones included)."""

    async def action(runtime: Runtime) -> None:
        hook = await runtime.payments.webhooks.set_active(webhook_id, False, cli_actor())
        emit(hook.to_api(), as_json)

    run(action)


@webhooks.command("activate")
def activate_webhook(webhook_id: str, as_json: JsonOption = False) -> None:
    """Send messages to a deactivated webhook again."""

    async def action(runtime: Runtime) -> None:
        hook = await runtime.payments.webhooks.set_active(webhook_id, True, cli_actor())
        emit(hook.to_api(), as_json)

    run(action)


@services.command("set")
def set_service(
    org: OrgOption,
    service: ServiceOption,
    pay_before_submit: Annotated[
        bool,
        typer.Option(
            "--pay-before-submit/--no-pay-before-submit",
            help="Whether submissions to the service wait for a successful payment.",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Set a council service's payment settings."""

    async def action(runtime: Runtime) -> None:
        settings = await runtime.payments.checks.set_pay_before_submit(
            org, service, pay_before_submit, cli_actor()
        )
        emit(settings.to_json(), as_json)

    run(action)


@app.command("report")
def report(
    org: OrgOption,
    service: ServiceOption,
    day: Annotated[str, typer.Option("--date", help="The day, in UK time: YYYY-MM-DD.")],
    test: TestOption = False,
    as_json: JsonOption = False,
) -> None:
    """The day's reconciliation report of one service: payments, refunds, fees and totals,
    as CSV (or JSON with --json)."""
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        fail(f"--date {day!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-21", 2)

    async def action(runtime: Runtime) -> None:
        found = await reconcile(
            runtime.payments.payments, org, service, wanted, Mode.TEST if test else Mode.LIVE
        )
        if as_json:
            emit(found.to_json(), True)
        else:
            typer.echo(found.to_csv(), nl=False)

    run(action)
