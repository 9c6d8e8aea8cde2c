"""Demo data for ``govconnect init --demo``: a council, a department, two clients, a token,
and a demo citizen who administers a demo business.

Seeded once per store. The secrets are written to ``<data_dir>/demo-credentials.json`` (mode
0600) for the programs in ``examples/``; they are printed once and never committed.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.admin.models import Actor
from gateway.clients.models import AuthMethod, ClientRegistration, GrantType
from gateway.organisations.models import NewOrganisation, OrganisationKind
from gateway.runtime import Runtime
from trust_levels.businesses.models import NewBusiness
from trust_levels.proofing.demo import DemoProofing, seed_proofing

EXAMPLE_WEBSITE = "http://127.0.0.1:8001"
DEMO_CITIZEN_EMAIL = "citizen@demo-borough.example"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    council_id: str
    department_id: str
    website_client_id: str
    website_client_secret: str
    department_client_id: str
    department_client_secret: str
    admin_token: str
    citizen_email: str
    citizen_password: str
    business_id: str
    proofing: DemoProofing


def credentials_path(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "demo-credentials.json"


async def seed(runtime: Runtime, actor: Actor) -> DemoCredentials | None:
    """Seed the demo data; None when this store was seeded before (nothing is duplicated)."""
    if await runtime.system.demo_seeded():
        return None
    council = await runtime.organisations.add(
        NewOrganisation(
            name="Demo Borough Council",
            kind=OrganisationKind.COUNCIL,
            code="E06999999",
            contact_email="digital@demo-borough.example",
            endpoints={"website": EXAMPLE_WEBSITE},
        ),
        actor,
    )
    department = await runtime.organisations.add(
        NewOrganisation(
            name="Department for Demonstrations",
            kind=OrganisationKind.DEPARTMENT,
            code="DFD",
            contact_email="integration@dfd.example",
            endpoints={},
        ),
        actor,
    )
    website = await runtime.clients.add(
        ClientRegistration(
            client_name="Demo Borough Council website",
            organisation_id=council.id,
            redirect_uris=[f"{EXAMPLE_WEBSITE}/callback"],
            post_logout_redirect_uris=[f"{EXAMPLE_WEBSITE}/"],
            backchannel_logout_uri=f"{EXAMPLE_WEBSITE}/backchannel-logout",
            grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
            scope="openid email profile",
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
        ),
        actor,
    )
    department_system = await runtime.clients.add(
        ClientRegistration(
            client_name="Department for Demonstrations back office",
            organisation_id=department.id,
            grant_types=[GrantType.CLIENT_CREDENTIALS],
            scope="submissions",
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
        ),
        actor,
    )
    token = await runtime.admin.create_token("demo", actor)
    citizen_password = secrets.token_urlsafe(18)
    citizen = await runtime.accounts.create(
        DEMO_CITIZEN_EMAIL, citizen_password, verified=True, totp_secret=None, actor=actor
    )
    business = await runtime.businesses.create(
        citizen.id, NewBusiness.parse("Demo Bakery Ltd", "company", "09999999", agent=False)
    )
    proofing = await seed_proofing(runtime, council.id, actor)
    assert website.secret is not None and department_system.secret is not None
    credentials = DemoCredentials(
        council_id=council.id,
        department_id=department.id,
        website_client_id=website.client.client_id,
        website_client_secret=website.secret,
        department_client_id=department_system.client.client_id,
        department_client_secret=department_system.secret,
        admin_token=token.secret,
        citizen_email=citizen.email,
        citizen_password=citizen_password,
        business_id=business.id,
        proofing=proofing,
    )
    _write_private(credentials_path(runtime), json.dumps(asdict(credentials), indent=2))
    await runtime.system.mark_demo(runtime.clock.now().isoformat())
    return credentials


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
