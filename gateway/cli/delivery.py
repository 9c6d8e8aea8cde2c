"""``govconnect services``, ``routes``, ``recipients``, ``submissions`` and ``verify``: the
delivery engine's registry, its dead letters, and offline checks of envelopes and receipts.
(The push worker runs in ``govconnect serve`` and ``govconnect worker``.)

:func:`register` adds them all to the ``govconnect`` command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run, settings
from gateway.core.clock import SystemClock
from gateway.core.errors import ConfigurationError
from gateway.delivery.envelope import verify_document
from gateway.delivery.errors import EnvelopeVerificationError
from gateway.delivery.models import (
    DeliveryMode,
    NewRecipientSettings,
    NewRoute,
    NewService,
    RoutingRule,
    Service,
)
from gateway.organisations.models import describe_validation_error
from gateway.runtime import Runtime
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME

INVALID_INPUT = 2

services_app = typer.Typer(no_args_is_help=True)
routes_app = typer.Typer(no_args_is_help=True)
recipients_app = typer.Typer(no_args_is_help=True)
submissions_app = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the delivery commands to ``govconnect``."""
    app.add_typer(services_app, name="services", help="Services: document types and schemas.")
    app.add_typer(routes_app, name="routes", help="Routing rules: who may send what to whom.")
    app.add_typer(recipients_app, name="recipients", help="How organisations receive (push/pull).")
    app.add_typer(submissions_app, name="submissions", help="Submissions and their delivery.")
    app.command("verify")(verify)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}", INVALID_INPUT)
    except ValueError as exc:
        fail(f"{what} {path} is not JSON: {exc}", INVALID_INPUT)


def _service_line(service: Service) -> str:
    level = service.min_level or "-"
    return f"{service.key:<40} level {level:<10} {service.title}"


def _route_line(rule: RoutingRule) -> str:
    return f"{rule.id}  {rule.sender} --{rule.service}--> {rule.recipient}"


# --- services ------------------------------------------------------------------------------


@services_app.command("add")
def add_service(
    name: Annotated[str, typer.Option(help="The document type, e.g. parking-permit.")],
    version: Annotated[str, typer.Option(help="1, 1.2 or 1.2.3.")],
    title: Annotated[str, typer.Option(help="What the service is called.")],
    schema: Annotated[Path, typer.Option(help="A file holding the body's JSON Schema.")],
    min_level: Annotated[
        str | None, typer.Option(help="The level a citizen's submission needs, e.g. Cl.Cm.P2.")
    ] = None,
    max_body_bytes: Annotated[int | None, typer.Option(help="The largest body accepted.")] = None,
    retention_days: Annotated[int | None, typer.Option(help="Days bodies are kept.")] = None,
    attachment_type: Annotated[
        list[str] | None,
        typer.Option(
            help="A media type attachments may have (repeat for more); none: no attachments."
        ),
    ] = None,
    max_attachments: Annotated[int | None, typer.Option(help="Attachments per submission.")] = None,
    max_attachment_bytes: Annotated[
        int | None, typer.Option(help="The largest attachment accepted.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a service version with its JSON Schema."""
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "title": title,
        "schema": _read_json(schema, "the schema file"),
        "min_level": min_level,
    }
    if max_body_bytes is not None:
        fields["max_body_bytes"] = max_body_bytes
    if retention_days is not None:
        fields["retention_days"] = retention_days
    if attachment_type:
        fields["attachment_types"] = attachment_type
    if max_attachments is not None:
        fields["max_attachments"] = max_attachments
    if max_attachment_bytes is not None:
        fields["max_attachment_bytes"] = max_attachment_bytes
    try:
        new = NewService.model_validate(fields)
    except ValidationError as exc:
        fail(describe_validation_error(exc), INVALID_INPUT)

    async def action(runtime: Runtime) -> None:
        service = await runtime.delivery.registry.add_service(new, cli_actor())
        emit(service.to_json(), as_json, [f"registered {_service_line(service)}"])

    run(action)


@services_app.command("list")
def list_services(as_json: JsonOption = False) -> None:
    """List services and their versions."""

    async def action(runtime: Runtime) -> None:
        services = await runtime.delivery.registry.services()
        emit([s.to_json() for s in services], as_json, [_service_line(s) for s in services])

    run(action)


@services_app.command("show")
def show_service(name: str, version: str, as_json: JsonOption = False) -> None:
    """Show one service version, its schema included."""

    async def action(runtime: Runtime) -> None:
        service = await runtime.delivery.registry.service(name, version)
        data = service.to_json()
        emit(data, as_json, [*_describe(data)])

    run(action)


def _describe(data: dict[str, Any]) -> list[str]:
    return [
        f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}"
        for key, value in data.items()
    ]


# --- routing rules -------------------------------------------------------------------------


@routes_app.command("add")
def add_route(
    sender: Annotated[str, typer.Option(help="The sending organisation's id.")],
    service: Annotated[str, typer.Option(help="The service name (every version).")],
    recipient: Annotated[str, typer.Option(help="The receiving organisation's id.")],
    as_json: JsonOption = False,
) -> None:
    """Let an organisation send a service to another."""
    try:
        new = NewRoute(sender=sender, service=service, recipient=recipient)
    except ValidationError as exc:
        fail(describe_validation_error(exc), INVALID_INPUT)

    async def action(runtime: Runtime) -> None:
        rule = await runtime.delivery.registry.add_route(new, cli_actor())
        emit(rule.to_json(), as_json, [f"added {_route_line(rule)}"])

    run(action)


@routes_app.command("list")
def list_routes(as_json: JsonOption = False) -> None:
    """List routing rules, oldest first."""

    async def action(runtime: Runtime) -> None:
        rules = await runtime.delivery.registry.routes()
        emit([r.to_json() for r in rules], as_json, [_route_line(r) for r in rules])

    run(action)


@routes_app.command("remove")
def remove_route(rule_id: str, as_json: JsonOption = False) -> None:
    """Remove a routing rule: the sender's next submission of that service is refused."""

    async def action(runtime: Runtime) -> None:
        rule = await runtime.delivery.registry.remove_route(rule_id, cli_actor())
        emit(rule.to_json(), as_json, [f"removed {_route_line(rule)}"])

    run(action)


# --- recipients ----------------------------------------------------------------------------


@recipients_app.command("set")
def set_recipient(
    org_id: str,
    push: Annotated[
        str | None, typer.Option(help="Push to this https:// endpoint (Standard Webhooks).")
    ] = None,
    pull: Annotated[bool, typer.Option("--pull", help="The recipient polls instead.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Set how an organisation receives; the first push set-up prints its webhook secret once."""
    if (push is None) == (not pull):
        fail("give either --push URL or --pull", INVALID_INPUT)
    try:
        new = NewRecipientSettings(
            mode=DeliveryMode.PULL if pull else DeliveryMode.PUSH, endpoint=push
        )
    except ValidationError as exc:
        fail(describe_validation_error(exc), INVALID_INPUT)

    async def action(runtime: Runtime) -> None:
        issued = await runtime.delivery.registry.set_recipient(org_id, new, cli_actor())
        emit(issued.to_json(), as_json)

    run(action)


@recipients_app.command("show")
def show_recipient(org_id: str, as_json: JsonOption = False) -> None:
    """Show an organisation's delivery settings (never its secrets)."""

    async def action(runtime: Runtime) -> None:
        found = await runtime.delivery.registry.recipient(org_id)
        if found is None:
            fail(f"{org_id} has no delivery settings; it can pull without any")
        emit(found.public_json(), as_json)

    run(action)


@recipients_app.command("rotate-secret")
def rotate_secret(org_id: str, as_json: JsonOption = False) -> None:
    """Issue a new webhook secret, printed once; the old one also signs for a day."""

    async def action(runtime: Runtime) -> None:
        issued = await runtime.delivery.registry.rotate_secret(org_id, cli_actor())
        emit(issued.to_json(), as_json)

    run(action)


# --- submissions ---------------------------------------------------------------------------


@submissions_app.command("dead-letters")
def dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50, as_json: JsonOption = False
) -> None:
    """Pushes given up on, newest first, with the reason."""

    async def action(runtime: Runtime) -> None:
        letters = await runtime.delivery.queue.dead_letters(limit)
        emit(
            letters,
            as_json,
            [f"{d.get('failed_at')} {d.get('j')} {d.get('reason')}" for d in letters],
        )

    run(action)


# --- offline verification ------------------------------------------------------------------


def verify(
    file: Annotated[Path, typer.Argument(help="An envelope, receipt or signed response.")],
    jwks: Annotated[
        Path | None,
        typer.Option(
            help="The gateway's JWK Set (jwks.json, with archived keys); default: this "
            "installation's key ring."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check an envelope, receipt or response offline against the gateway's keys.

    Exits 1 if it does not verify."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", INVALID_INPUT)
    keys = _read_json(jwks, "the JWK Set") if jwks is not None else _local_jwks()
    try:
        found = verify_document(text, keys)
    except EnvelopeVerificationError as exc:
        if as_json:
            emit({"ok": False, "reason": exc.detail}, as_json)
        fail(f"{file} does not verify: {exc.detail}")
    content = found.content
    emit(
        {
            "ok": True,
            "kind": found.kind,
            "payload_sha256": found.payload_sha256,
            "content": content,
        },
        as_json,
        [
            f"{found.kind} verified: submission {content.get('id') or content.get('sub')}",
            f"payload sha-256: {found.payload_sha256}",
        ],
    )


def _local_jwks() -> dict[str, Any]:
    config = settings()
    ring = KeyRing(config.pki_dir / KEY_FILE_NAME, SystemClock(), config.max_token_lifetime_seconds)
    try:
        return {"keys": [*ring.jwks()["keys"], *ring.archive()["keys"]]}
    except ConfigurationError as exc:
        fail(exc.detail)
