"""``govconnect init``: the trust anchor, the signing keys and (optionally) demo data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from certs.authority import CertificateAuthority
from gateway.cli.common import JsonOption, cli_actor, emit, fail, run, settings
from gateway.core.clock import SystemClock
from gateway.core.errors import ConfigurationError
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.oidc.subjects import PAIRWISE_KEY_FILE_NAME, PairwiseSubjects
from gateway.runtime import Runtime
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from gateway.system import demo as demo_data


def init(
    demo: Annotated[
        bool, typer.Option("--demo", help="Also seed a demo council, department and clients.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create what is missing (idempotent): development CAs, TLS certificate, signing keys."""
    config = settings()
    if demo and config.is_production:
        fail("--demo is refused in production: demo data must never reach a live store")
    keys = KeyRing(config.pki_dir / KEY_FILE_NAME, SystemClock(), config.max_token_lifetime_seconds)
    try:
        created = CertificateAuthority.initialise(config.pki_dir)
        keys_created = keys.initialise()
        data_key_created = SecretBox.initialise(config.pki_dir / DATA_KEY_FILE_NAME)
        pairwise_created = PairwiseSubjects.initialise(config.pki_dir / PAIRWISE_KEY_FILE_NAME)
    except ConfigurationError as exc:
        fail(exc.detail)
    result: dict[str, Any] = {
        "pki_dir": str(config.pki_dir),
        "created": created,
        "signing_keys_created": keys_created,
        "data_key_created": data_key_created,
        "pairwise_secret_created": pairwise_created,
    }
    lines = [
        f"trust anchor in {config.pki_dir}: "
        + (f"created {', '.join(created)}" if created else "already present"),
        "signing keys: " + ("created" if result["signing_keys_created"] else "already present"),
        "data encryption key: " + ("created" if data_key_created else "already present"),
        "pairwise subject secret: " + ("created" if pairwise_created else "already present"),
    ]
    if demo:

        async def seed(runtime: Runtime) -> demo_data.DemoCredentials | None:
            return await demo_data.seed(runtime, cli_actor())

        credentials = run(seed)
        path = config.data_dir / "demo-credentials.json"
        if credentials is None:
            result["demo"] = {"seeded": False, "credentials_file": str(path)}
            lines.append(f"demo data: already seeded (credentials in {path})")
        else:
            result["demo"] = {"seeded": True, "credentials_file": str(path), **asdict(credentials)}
            lines += [
                f"demo data: seeded; credentials written to {path} (mode 0600)",
                f"  admin API token: {credentials.admin_token}",
                f"  council website client: {credentials.website_client_id}",
            ]
    emit(result, as_json, lines)
