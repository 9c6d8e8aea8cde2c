"""``govconnect orgs``: register organisations and issue and revoke their certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from pydantic import ValidationError

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run
from gateway.organisations.models import (
    CertificateRecord,
    NewOrganisation,
    OrganisationKind,
    RevocationReason,
    describe_validation_error,
)
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)

INVALID_INPUT = 2


def _endpoints(pairs: list[str]) -> dict[str, str]:
    endpoints: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url:
            fail(f"--endpoint {pair!r}: write it as name=https://host/path", INVALID_INPUT)
        if name in endpoints:
            fail(f"--endpoint {name!r} is given twice; give each name once", INVALID_INPUT)
        endpoints[name] = url
    return endpoints


def _certificate_lines(record: CertificateRecord) -> list[str]:
    lines = [
        f"serial: {record.serial}",
        f"organisation: {record.org_id}",
        f"status: {record.status.value}",
        f"valid: {record.not_before} to {record.not_after}",
        f"sha-256 fingerprint: {record.fingerprint}",
    ]
    if record.revoked_at:
        lines.append(f"revoked: {record.revoked_at} ({record.reason or 'no reason given'})")
    return lines


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    kind: Annotated[OrganisationKind, typer.Option(help="What kind of organisation it is.")],
    contact_email: Annotated[str, typer.Option(help="Who to contact about the connection.")],
    code: Annotated[
        str | None,
        typer.Option(help="Unique code: a council's ONS GSS code (E06000001), or A-Z 0-9 -."),
    ] = None,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(help="A service endpoint as name=https://… (repeat for more)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a council, department or agency."""
    try:
        new = NewOrganisation(
            name=name,
            kind=kind,
            code=code,
            contact_email=contact_email,
            endpoints=_endpoints(endpoint or []),
        )
    except ValidationError as exc:
        fail(describe_validation_error(exc), INVALID_INPUT)

    async def action(runtime: Runtime) -> None:
        organisation = await runtime.organisations.add(new, cli_actor())
        emit(organisation.to_json(), as_json)

    run(action)


@app.command("list")
def list_organisations(as_json: JsonOption = False) -> None:
    """List registered organisations, oldest first."""

    async def action(runtime: Runtime) -> None:
        organisations = await runtime.organisations.list()
        emit(
            [o.to_json() for o in organisations],
            as_json,
            [f"{o.id}  {o.kind.value:<10} {o.code or '-':<10} {o.name}" for o in organisations],
        )

    run(action)


@app.command("show")
def show(org_id: str, as_json: JsonOption = False) -> None:
    """Show one organisation and its certificates."""

    async def action(runtime: Runtime) -> None:
        organisation = await runtime.organisations.get(org_id)
        certificates = await runtime.organisations.certificates(org_id)
        data = {
            **organisation.to_json(),
            "certificates": [
                {k: v for k, v in c.to_json().items() if k != "pem"} for c in certificates
            ],
        }
        emit(data, as_json)

    run(action)


@app.command("issue-cert")
def issue_cert(
    org_id: str,
    csr: Annotated[Path, typer.Option(help="The organisation's PEM certificate signing request.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the PEM certificate to this file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a client certificate from the organisation's CSR (RFC 2986)."""
    try:
        csr_pem = csr.read_bytes()
    except OSError as exc:
        fail(f"cannot read the CSR file {csr}: {exc.strerror}", INVALID_INPUT)

    async def action(runtime: Runtime) -> CertificateRecord:
        return await runtime.organisations.issue_certificate(org_id, csr_pem, cli_actor())

    record = run(action)
    lines = _certificate_lines(record)
    if out is not None:
        try:
            out.write_text(record.pem, encoding="ascii")
        except OSError as exc:
            fail(f"the certificate was issued but cannot be written to {out}: {exc.strerror}")
        lines.append(f"certificate written to {out}")
    else:
        lines.append(record.pem)
    emit(record.to_json(), as_json, lines)


@app.command("revoke-cert")
def revoke_cert(
    org_id: str,
    serial: Annotated[str, typer.Argument(help="The certificate's serial number in hex.")],
    reason: Annotated[
        RevocationReason | None, typer.Option(help="Why, as an RFC 5280 reason code.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a certificate at once; it is listed on the next CRL. Revocation is final."""

    async def action(runtime: Runtime) -> None:
        record = await runtime.organisations.revoke_certificate(
            org_id, serial, reason.value if reason else None, cli_actor()
        )
        emit(record.to_json(), as_json, _certificate_lines(record))

    run(action)


@app.command("crl")
def crl(
    out: Annotated[Path, typer.Option(help="Write the DER CRL to this file.")],
    as_json: JsonOption = False,
) -> None:
    """Write the organisations CA's current CRL (RFC 5280 §5, DER)."""

    async def action(runtime: Runtime) -> bytes:
        return await runtime.organisations.crl()

    der = run(action)
    try:
        out.write_bytes(der)
    except OSError as exc:
        fail(f"cannot write the CRL to {out}: {exc.strerror}")
    parsed = x509.load_der_x509_crl(der)
    data = {
        "path": str(out),
        "revoked": len(parsed),
        "this_update": parsed.last_update_utc.isoformat(),
        "next_update": parsed.next_update_utc.isoformat() if parsed.next_update_utc else None,
    }
    emit(
        data,
        as_json,
        [
            f"CRL with {data['revoked']} revoked certificate(s) written to {out}",
            f"valid until {data['next_update']}",
        ],
    )
