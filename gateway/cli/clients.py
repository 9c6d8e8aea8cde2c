"""``govconnect clients``: register and manage OAuth / OpenID Connect clients.

The options build the same :class:`~gateway.clients.models.ClientRegistration` (or
:class:`~gateway.clients.models.ClientUpdate`) as the admin API, validated by the same code
before the store is opened, so a refusal reads the same here: on stderr, exit status 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run
from gateway.clients.errors import InvalidClientRegistrationError
from gateway.clients.models import (
    AuthMethod,
    Client,
    ClientRegistration,
    ClientUpdate,
    GrantType,
    IdTokenAlg,
    IssuedClient,
)
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)

M = TypeVar("M", ClientRegistration, ClientUpdate)

RedirectUris = Annotated[
    list[str] | None,
    typer.Option(
        "--redirect-uri",
        help="Where people return after sign-in (repeat for several; https, or http on "
        "127.0.0.1 / [::1] / localhost). On update, the list given replaces the old one.",
    ),
]
PostLogoutUris = Annotated[
    list[str] | None,
    typer.Option("--post-logout-redirect-uri", help="Where people go after signing out (repeat)."),
]
BackchannelUri = Annotated[
    str | None,
    typer.Option(help="Where the gateway posts logout tokens (OIDC Back-Channel Logout)."),
]
AuthMethodOption = Annotated[
    AuthMethod | None,
    typer.Option(
        "--auth-method",
        help="How the client authenticates at the token endpoint (default: private_key_jwt).",
    ),
]
JwksFile = Annotated[
    Path | None,
    typer.Option(
        exists=True, dir_okay=False, readable=True, help="A JSON file holding the public JWK Set."
    ),
]
JwksUri = Annotated[str | None, typer.Option(help="An https URL serving the public JWK Set.")]
GrantTypes = Annotated[
    list[GrantType] | None,
    typer.Option(
        "--grant-type",
        help="A grant the client may use (repeat) (default: authorization_code and refresh_token).",
    ),
]
Scope = Annotated[str | None, typer.Option(help="Space-separated scopes (default: openid).")]
Sector = Annotated[
    str | None,
    typer.Option(
        "--sector",
        help="Host name of the sector for pairwise subject ids; needed when redirect URIs "
        "span several hosts.",
    ),
]
MinLevel = Annotated[
    str | None, typer.Option(help="The lowest level the client accepts, such as Cl.Cm.P2.")
]
IdTokenAlgOption = Annotated[
    IdTokenAlg | None, typer.Option("--id-token-alg", help="ID token signing algorithm.")
]
FirstParty = Annotated[
    bool | None,
    typer.Option("--first-party/--third-party", help="A gateway-operated service."),
]
RequirePar = Annotated[
    bool | None,
    typer.Option("--require-par/--no-require-par", help="Require pushed authorization requests."),
]
RequireDpop = Annotated[
    bool | None,
    typer.Option("--require-dpop/--no-require-dpop", help="Require DPoP-bound tokens."),
]


# The command-line option each registration field (RFC 7591 names) comes from; ``add`` and
# ``update`` share them.
_FIELD_OF_OPTION = {
    "name": "client_name",
    "org": "organisation_id",
    "redirect_uri": "redirect_uris",
    "post_logout_redirect_uri": "post_logout_redirect_uris",
    "backchannel_logout_uri": "backchannel_logout_uri",
    "auth_method": "token_endpoint_auth_method",
    "jwks_uri": "jwks_uri",
    "grant_type": "grant_types",
    "scope": "scope",
    "sector": "sector_identifier",
    "min_level": "min_level",
    "id_token_alg": "id_token_signed_response_alg",
    "first_party": "first_party",
    "require_par": "require_par",
    "require_dpop": "require_dpop",
}


def _metadata(options: Mapping[str, Any]) -> dict[str, Any]:
    """The registration fields for the options a command was given (its ``locals()``);
    ``--jwks-file`` is read here."""
    fields = {
        _FIELD_OF_OPTION[name]: value
        for name, value in options.items()
        if name in _FIELD_OF_OPTION and value is not None
    }
    jwks_file: Path | None = options.get("jwks_file")
    if jwks_file is not None:
        try:
            fields["jwks"] = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"--jwks-file {jwks_file} does not hold JSON: {exc}", 2)
    return fields


def _validated(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.build(data)
    except InvalidClientRegistrationError as exc:
        fail(exc.detail, 2)


def _emit_issued(issued: IssuedClient, as_json: bool) -> None:
    lines = [f"client_id: {issued.client.client_id}"]
    lines.append(f"sector_identifier: {issued.client.sector_identifier}")
    if issued.secret is not None:
        lines += [
            f"client_secret: {issued.secret}",
            "Keep the secret now: it is not shown again.",
        ]
    emit(issued.to_json(), as_json, lines)


def _summary(client: Client) -> str:
    state = "disabled" if client.disabled else "enabled"
    return (
        f"{client.client_id}  {state:<8}  {client.token_endpoint_auth_method.value:<19}  "
        f"{client.organisation_id}  {client.client_name}"
    )


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="The name people see when they sign in.")],
    org: Annotated[str, typer.Option(help="Id of the organisation (org_…) that runs it.")],
    redirect_uri: RedirectUris = None,
    post_logout_redirect_uri: PostLogoutUris = None,
    backchannel_logout_uri: BackchannelUri = None,
    auth_method: AuthMethodOption = None,
    jwks_file: JwksFile = None,
    jwks_uri: JwksUri = None,
    grant_type: GrantTypes = None,
    scope: Scope = None,
    sector: Sector = None,
    min_level: MinLevel = None,
    id_token_alg: IdTokenAlgOption = None,
    first_party: FirstParty = None,
    require_par: RequirePar = None,
    require_dpop: RequireDpop = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client. A client_secret_* client's secret is printed once, never again."""
    options = locals()
    registration = _validated(
        ClientRegistration,
        _metadata(options),
    )

    async def action(runtime: Runtime) -> None:
        _emit_issued(await runtime.clients.add(registration, cli_actor()), as_json)

    run(action)


@app.command("list")
def list_clients(as_json: JsonOption = False) -> None:
    """List clients: id, state, authentication method, organisation and name."""

    async def action(runtime: Runtime) -> None:
        clients = await runtime.clients.list()
        emit([c.to_json() for c in clients], as_json, [_summary(c) for c in clients])

    run(action)


@app.command("show")
def show(client_id: str, as_json: JsonOption = False) -> None:
    """Show one client's registration (never its secret)."""

    async def action(runtime: Runtime) -> None:
        emit((await runtime.clients.get(client_id)).to_json(), as_json)

    run(action)


@app.command("update")
def update(
    client_id: str,
    name: Annotated[str | None, typer.Option(help="A new display name.")] = None,
    org: Annotated[str | None, typer.Option(help="Move the client to this organisation.")] = None,
    redirect_uri: RedirectUris = None,
    post_logout_redirect_uri: PostLogoutUris = None,
    backchannel_logout_uri: BackchannelUri = None,
    auth_method: AuthMethodOption = None,
    jwks_file: JwksFile = None,
    jwks_uri: JwksUri = None,
    grant_type: GrantTypes = None,
    scope: Scope = None,
    sector: Sector = None,
    min_level: MinLevel = None,
    id_token_alg: IdTokenAlgOption = None,
    first_party: FirstParty = None,
    require_par: RequirePar = None,
    require_dpop: RequireDpop = None,
    as_json: JsonOption = False,
) -> None:
    """Change the options given; the whole registration is checked again. Switching to a
    client_secret_* method prints the new secret once."""
    options = locals()
    changes = _validated(
        ClientUpdate,
        _metadata(options),
    )

    async def action(runtime: Runtime) -> None:
        _emit_issued(await runtime.clients.update(client_id, changes, cli_actor()), as_json)

    run(action)


@app.command("disable")
def disable(client_id: str, as_json: JsonOption = False) -> None:
    """Disable a client at once: no more sign-ins or tokens until it is enabled."""

    async def action(runtime: Runtime) -> None:
        client = await runtime.clients.disable(client_id, cli_actor())
        emit(client.to_json(), as_json, [f"{client.client_id} disabled"])

    run(action)


@app.command("enable")
def enable(client_id: str, as_json: JsonOption = False) -> None:
    """Enable a disabled client."""

    async def action(runtime: Runtime) -> None:
        client = await runtime.clients.enable(client_id, cli_actor())
        emit(client.to_json(), as_json, [f"{client.client_id} enabled"])

    run(action)


@app.command("rotate-secret")
def rotate_secret(client_id: str, as_json: JsonOption = False) -> None:
    """Issue a new client secret, printed once; the old secret stops working at once."""

    async def action(runtime: Runtime) -> None:
        secret = await runtime.clients.rotate_secret(client_id, cli_actor())
        emit(
            {"client_id": client_id, "client_secret": secret},
            as_json,
            [f"client_secret: {secret}", "Keep the secret now: it is not shown again."],
        )

    run(action)
