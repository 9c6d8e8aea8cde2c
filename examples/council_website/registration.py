"""Registering this website's key with GovConnect, for the demo.

A council registers its client once, by an administrator (``govconnect clients add …`` or
``POST /admin/v1/clients``). For the demo, ``govconnect init --demo`` already registered
"Demo Borough Council website" with this site's URIs; at first start this site switches that
client to ``private_key_jwt`` with its own public key through the admin API (``PATCH
/admin/v1/clients/{id}``), using the demo admin token from ``var/demo-credentials.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from examples.council_website.config import Config

log = logging.getLogger(__name__)


class RegistrationError(Exception):
    """The site cannot tell which client it is, or GovConnect refused to register it."""


@dataclass(frozen=True, slots=True)
class Registration:
    """Who this site is to GovConnect: its client, and the organisation that client belongs
    to (the sender of its submissions; None when neither configured nor known)."""

    client_id: str
    organisation_id: str | None


async def ensure_registered(
    config: Config, jwks: dict[str, Any], http: httpx.AsyncClient
) -> Registration:
    """The client to use; for the demo client, its key and URIs brought up to date and its
    organisation read from its record."""
    if config.client_id is not None:
        return Registration(config.client_id, config.organisation_id)
    try:
        credentials = json.loads(config.demo_credentials.read_text(encoding="utf-8"))
        client_id = str(credentials["website_client_id"])
        token = str(credentials["admin_token"])
    except (OSError, ValueError, KeyError) as exc:
        raise RegistrationError(
            f"no client id: set COUNCIL_CLIENT_ID, or run `govconnect init --demo` (make run) "
            f"so that {config.demo_credentials} exists ({exc})"
        ) from exc
    url = f"{config.govconnect_url}/admin/v1/clients/{client_id}"
    headers = {"Authorization": f"Bearer {token}"}
    wanted = {
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks,
        "redirect_uris": [config.redirect_uri],
        "post_logout_redirect_uris": [config.post_logout_redirect_uri],
        "backchannel_logout_uri": config.backchannel_logout_uri,
    }
    current = await http.get(url, headers=headers)
    if current.status_code != 200:
        raise RegistrationError(f"GET {url} answered {current.status_code}: {current.text}")
    record = current.json()
    organisation_id = config.organisation_id or record.get("organisation_id")
    registration = Registration(client_id, organisation_id)
    if all(record.get(name) == value for name, value in wanted.items()):
        return registration
    changed = await http.patch(url, headers=headers, json=wanted)
    if changed.status_code != 200:
        raise RegistrationError(f"PATCH {url} answered {changed.status_code}: {changed.text}")
    log.warning("registered this site's key with GovConnect client %s (private_key_jwt)", client_id)
    return registration
