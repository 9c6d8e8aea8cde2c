"""Full authorization-code sign-ins for ``benchmarks/run.py``, driven by an async client.

One sign-in is what a council's website and a person's browser do together: GET
``/authorize`` with PKCE (redirected to the sign-in page), POST email and password
(argon2id with the production parameters), follow the gateway's redirects to the code, then
redeem it at ``POST /token`` with client_secret_basic. wrk cannot do this (cookies, the CSRF
token, PKCE), so the driver is httpx, and its own CPU time is reported beside the gateway's.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.admin.models import Actor
from gateway.core.settings import Settings
from gateway.runtime import open_runtime
from tests.gateway.authorize.support import (
    REDIRECT_URI,
    RelyingParty,
    authorize_path,
    pkce_pair,
    relying_party,
    request_params,
)
from tests.gateway.clients.support import new_organisation

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'name="next" value="([^"]+)"')
PASSWORD = "benchmark passphrase 2026"  # noqa: S105 - throwaway accounts in a temp store


class SignInError(Exception):
    """A sign-in that did not end with tokens (counted as an error, not fatal)."""


@dataclass
class Setup:
    rp: RelyingParty
    emails: list[str]


async def prepare(settings: Settings, accounts: int) -> Setup:
    """A first-party client (no consent page) and ``accounts`` verified accounts."""
    emails = [f"signin-{i}@example.org" for i in range(accounts)]
    async with open_runtime(settings) as runtime:
        organisation = await new_organisation(runtime)
        rp = await relying_party(runtime, organisation, secret=True, first_party=True)
        for email in emails:
            await runtime.accounts.create(
                email, PASSWORD, verified=True, totp_secret=None, actor=Actor("cli", "bench")
            )
    return Setup(rp, emails)


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def _follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow redirects while they stay on the gateway; stop at the one to the client."""
    while response.is_redirect and not response.headers["location"].startswith("https://"):
        response = await client.get(_path(response.headers["location"]))
    return response


async def one_sign_in(client: httpx.AsyncClient, setup: Setup, email: str) -> float:
    started = time.perf_counter()
    client.cookies.clear()
    verifier, challenge = pkce_pair()
    params = request_params(setup.rp, code_challenge=challenge, login_hint=email)
    page = await _follow(client, await client.get(authorize_path(params)))
    csrf, next_path = CSRF.search(page.text), NEXT.search(page.text)
    if csrf is None or next_path is None:
        raise SignInError(f"no sign-in form at {page.url} ({page.status_code})")
    form = {
        "csrf_token": csrf.group(1),
        "email": email,
        "password": PASSWORD,
        "next": next_path.group(1).replace("&amp;", "&"),
    }
    answer = await _follow(client, await client.post("/sign-in", data=form))
    location = answer.headers.get("location", "")
    code = parse_qs(urlsplit(location).query).get("code")
    if not location.startswith(REDIRECT_URI) or not code:
        raise SignInError(f"sign-in ended at {answer.status_code} {location[:120]}")
    assert setup.rp.secret is not None
    token = await client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code[0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(setup.rp.client_id, setup.rp.secret),
    )
    if token.status_code != 200 or "id_token" not in token.json():
        raise SignInError(f"code exchange answered {token.status_code}: {token.text[:200]}")
    return time.perf_counter() - started


async def drive(
    base_url: str, setup: Setup, seconds: float, concurrency: int
) -> tuple[list[float], int]:
    """Sign in over and over from ``concurrency`` browsers for ``seconds``; the latencies
    of the sign-ins that succeeded and how many failed."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def browser(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            n = index
            while time.perf_counter() < deadline:
                email = setup.emails[n % len(setup.emails)]
                try:
                    latencies.append(await one_sign_in(client, setup, email))
                except (SignInError, httpx.HTTPError):
                    errors += 1
                n += concurrency

    await asyncio.gather(*(browser(i) for i in range(concurrency)))
    return latencies, errors
