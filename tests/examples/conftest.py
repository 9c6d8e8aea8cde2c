"""Fixtures of the example tests: a live gateway whose issuer is its own address (the example
discovers its endpoints from it), the Demo Borough Council website beside it, registered
as a council registers a client, on free loopback ports, and the example back office's
organisation, client, service and routing rule."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, expect
from starlette.types import ASGIApp

from examples.back_office.config import Config as BackOfficeConfig
from examples.council_website import keys
from examples.council_website.app import create_app as create_site
from examples.council_website.config import Config
from gateway.app import create_app
from gateway.core.settings import Settings
from tests.support.accounts import PASSWORD, create_account, next_totp, set_up_authenticator
from tests.support.browser import assert_accessible
from tests.support.servers import free_port, wait_until_ready
from tests.support.web import Browser


@contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[str]:
    """``app`` under uvicorn in a thread on ``port`` until the block ends; fails fast if
    its start-up fails."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def issuer_gateway(settings: Settings) -> Iterator[str]:
    """A live gateway whose issuer is the address it listens on (OIDC Discovery §4.3)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(create_app(settings.model_copy(update={"issuer": url})), port):
        wait_until_ready(url)
        yield url


@dataclass(frozen=True)
class CouncilSite:
    url: str
    client_id: str
    config: Config


def created(admin: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST path`` on the admin API; what it created (201)."""
    response = admin.post(path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def council_organisation(gateway: str, admin_headers: dict[str, str]) -> str:
    """A new organisation "Demo Borough Council"; its id."""
    with httpx.Client(base_url=gateway, headers=admin_headers, timeout=10) as admin:
        return str(
            created(
                admin,
                "/admin/v1/organisations",
                {
                    "name": "Demo Borough Council",
                    "kind": "council",
                    "contact_email": "digital@demo-borough.example",
                },
            )["id"]
        )


@contextmanager
def council_site(
    gateway: str,
    admin_headers: dict[str, str],
    workdir: Path,
    *,
    register: bool = True,
    organisation_id: str | None = None,
    **settings: Any,
) -> Iterator[CouncilSite]:
    """The example website on a free port, for ``organisation_id`` (a new organisation
    when None), with ``settings`` for its :class:`Config`. With ``register``, its client is
    registered first through the admin API (private_key_jwt with the site's public key,
    third party so the consent page shows); otherwise the site finds its client in a demo
    credentials file, as beside ``make run``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = Config(
        govconnect_url=gateway,
        base_url=base,
        key_file=workdir / "council-key.json",
        demo_credentials=workdir / "demo-credentials.json",
        **settings,
    )
    organisation_id = organisation_id or council_organisation(gateway, admin_headers)
    with httpx.Client(base_url=gateway, headers=admin_headers, timeout=10) as admin:
        registration: dict[str, Any] = {
            "client_name": "Demo Borough Council website",
            "organisation_id": organisation_id,
            "redirect_uris": [config.redirect_uri],
            "post_logout_redirect_uris": [config.post_logout_redirect_uri],
            "backchannel_logout_uri": config.backchannel_logout_uri,
            "scope": "openid email profile",
        }
        if register:
            jwks = keys.public_jwks(keys.load_or_create(config.key_file))
            registration |= {"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
        else:
            registration["token_endpoint_auth_method"] = "client_secret_basic"
        client_id = str(created(admin, "/admin/v1/clients", registration)["client_id"])
    if register:
        config = replace(config, client_id=client_id, organisation_id=organisation_id)
    else:
        token = admin_headers["Authorization"].removeprefix("Bearer ")
        demo = {"website_client_id": client_id, "admin_token": token}
        config.demo_credentials.write_text(json.dumps(demo), encoding="utf-8")
    with serving(create_site(config), port) as url:
        yield CouncilSite(url, client_id, config)


PERMIT_SCHEMA_FILE = Path(keys.__file__).with_name("parking-permit.schema.json")


@dataclass(frozen=True)
class BackOfficeParty:
    """The example back office as GovConnect knows it: its organisation, its client (client
    credentials, its own key in ``key_file``), and the service it receives."""

    organisation_id: str
    client_id: str
    key_file: Path
    service: str

    def config(self, gateway: str, workdir: Path, **overrides: Any) -> BackOfficeConfig:
        """The back office's settings, on a free port, its records in ``workdir``."""
        return BackOfficeConfig(
            govconnect_url=gateway,
            base_url=f"http://127.0.0.1:{free_port()}",
            client_id=self.client_id,
            key_file=self.key_file,
            database=workdir / "back-office.sqlite3",
            **overrides,
        )


def back_office_party(
    gateway: str, admin_headers: dict[str, str], workdir: Path, sender: str
) -> BackOfficeParty:
    """The back office's organisation and client, a parking permit service of its own (the
    council website's form: parking-permit.schema.json, level Cl.Cm, PDFs) and the routing
    rule letting organisation ``sender`` send it there, through the admin API."""
    key_file = workdir / "back-office-key.json"
    with httpx.Client(base_url=gateway, headers=admin_headers, timeout=10) as admin:
        office = created(
            admin,
            "/admin/v1/organisations",
            {"name": "Demo Borough Permits", "kind": "council", "contact_email": "p@demo.example"},
        )
        client = created(
            admin,
            "/admin/v1/clients",
            {
                "client_name": "Permits back office",
                "organisation_id": office["id"],
                "redirect_uris": [],
                "grant_types": ["client_credentials"],
                "scope": "submissions",
                "jwks": keys.public_jwks(keys.load_or_create(key_file)),
            },
        )
        service = f"parking-permit-{secrets.token_hex(3)}"
        created(
            admin,
            "/admin/v1/services",
            {
                "name": service,
                "version": "1",
                "title": "Parking permit",
                "schema": json.loads(PERMIT_SCHEMA_FILE.read_text(encoding="utf-8")),
                "min_level": "Cl.Cm",
                "attachment_types": ["application/pdf"],
            },
        )
        created(
            admin,
            "/admin/v1/routes",
            {"sender": sender, "service": service, "recipient": office["id"]},
        )
    return BackOfficeParty(office["id"], client["client_id"], key_file, service)


@pytest.fixture
def citizen(issuer_gateway: str) -> tuple[str, str]:
    """An account with an authenticator app, made through the pages; (email, TOTP secret)."""
    browser = Browser(issuer_gateway)
    try:
        email = create_account(browser)
        secret, _ = set_up_authenticator(browser)
    finally:
        browser.close()
    return email, secret


def sign_in_at_govconnect(
    page: Page, gateway: str, citizen: tuple[str, str], *, check_pages: bool = False
) -> None:
    """From a council website's "Sign in with GovConnect": sign in with password and
    authenticator app, and allow the website to have the details (level Cl.Cm). With
    ``check_pages``, axe-core checks each GovConnect page on the way."""
    email, secret = citizen
    page.get_by_role("link", name="Sign in with GovConnect").click()
    expect(page).to_have_url(re.compile(f"^{re.escape(gateway)}/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    if check_pages:
        assert_accessible(page, "sign-in on the way to a council website")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sign-in/code"))
    if check_pages:
        assert_accessible(page, "authenticator code")
    page.get_by_label(re.compile("code", re.IGNORECASE)).first.fill(next_totp(secret))
    page.get_by_role("button", name=re.compile("Continue|Sign in")).click()
    expect(page.get_by_role("heading", name=re.compile("Share your details with"))).to_be_visible()
    if check_pages:
        assert_accessible(page, "consent")
    page.get_by_role("button", name="Allow").click()
