"""The Demo Borough Council website over real HTTP beside a live gateway: at first start it
switches the demo client to private_key_jwt with its own key (kept 0600, public half only
registered); its back-channel logout endpoint ends the local session of exactly the sign-in a
valid logout token names, and refuses (400) anything that fails a check of Back-Channel
Logout 1.0 §2.6, replays included."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.council_website.logout_tokens import EVENT
from gateway.runtime import Runtime
from gateway.sessions.models import handle_of
from tests.examples.conftest import CouncilSite, council_site
from tests.support.accounts import PASSWORD, create_account
from tests.support.web import Browser

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'name="next" value="([^"]+)"')
_REQUEST = re.compile(r'name="request" value="([^"]+)"')


@pytest.fixture
def site(
    issuer_gateway: str, admin_headers: dict[str, str], tmp_path: Path
) -> Iterator[CouncilSite]:
    with council_site(issuer_gateway, admin_headers, tmp_path) as started:
        yield started


def field(pattern: re.Pattern[str], page: httpx.Response) -> str:
    match = pattern.search(page.text)
    assert match is not None, page.text[:800]
    return match.group(1).replace("&amp;", "&")


def signed_in_at(site: CouncilSite, gateway: str, email: str) -> httpx.Client:
    """A browser (JavaScript off) that signed in to the site through GovConnect."""
    browser = httpx.Client(follow_redirects=True, timeout=15)
    page = browser.get(f"{site.url}/sign-in")
    assert page.url.path == "/authorize/sign-in", page.url
    page = browser.post(
        f"{gateway}/sign-in",
        data={
            "csrf_token": field(_CSRF, page),
            "email": email,
            "password": PASSWORD,
            "next": field(_NEXT, page),
        },
    )
    page = browser.post(
        f"{gateway}/authorize/consent",
        data={
            "csrf_token": field(_CSRF, page),
            "request": field(_REQUEST, page),
            "decision": "allow",
        },
    )
    assert "Your council account" in page.text, page.text[:800]
    return browser


def logout_token(runtime: Runtime, issuer: str, audience: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.monotonic_ns()}",
        "sid": "sid-of-nobody",
        "events": {EVENT: {}},
        **claims,
    }
    typ = body.pop("typ", "logout+jwt")
    return runtime.keys.sign({k: v for k, v in body.items() if v is not None}, typ=typ)


def test_at_first_start_the_demo_client_gets_the_sites_key(
    issuer_gateway: str, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    with council_site(issuer_gateway, admin_headers, tmp_path, register=False) as site:
        published = httpx.get(f"{site.url}/jwks.json").json()
        registered = httpx.get(
            f"{issuer_gateway}/admin/v1/clients/{site.client_id}", headers=admin_headers
        ).json()
    assert registered["token_endpoint_auth_method"] == "private_key_jwt"
    assert registered["jwks"] == published
    assert all("d" not in key for key in published["keys"])
    key_file = site.config.key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) & 0o077 == 0
    assert '"d"' in key_file.read_text()  # the private half stays with the site


def test_a_back_channel_logout_ends_the_sites_session_for_that_sign_in(
    issuer_gateway: str, site: CouncilSite
) -> None:
    phone = Browser(issuer_gateway)
    email = create_account(phone)  # the phone stays signed in to GovConnect
    laptop = signed_in_at(site, issuer_gateway, email)
    try:
        # On the phone, end the laptop's GovConnect session ("Your sessions").
        handle = handle_of(laptop.cookies.get("gc_session") or "")
        phone.get("/account/sessions")
        assert phone.post("/account/sessions/end", {"handle": handle}).status_code == 200
        deadline = time.monotonic() + 15
        while "Your council account" in (page := laptop.get(f"{site.url}/")).text:
            assert time.monotonic() < deadline, "the site's session did not end"
            time.sleep(0.2)
        assert "Sign in with GovConnect" in page.text
        ended = re.search(r'data-sid="[^"]+">[^<]+</td><td>(\d+)</td>', page.text)
        assert ended is not None and ended.group(1) == "1"
    finally:
        laptop.close()
        phone.close()


def test_the_back_channel_endpoint_refuses_what_fails_a_check(
    runtime: Runtime, issuer_gateway: str, site: CouncilSite
) -> None:
    url = f"{site.url}/backchannel-logout"

    def post(token: str | None) -> httpx.Response:
        return httpx.post(url, data={} if token is None else {"logout_token": token})

    good = logout_token(runtime, issuer_gateway, site.client_id)
    refused = {
        "missing": None,
        "not a JWT": "garbage",
        "another audience": logout_token(runtime, issuer_gateway, "cli_someone_else"),
        "another issuer": logout_token(runtime, "https://evil.example", site.client_id),
        "an ID token": logout_token(runtime, issuer_gateway, site.client_id, typ="JWT"),
        "no event": logout_token(runtime, issuer_gateway, site.client_id, events={}),
        "a nonce": logout_token(runtime, issuer_gateway, site.client_id, nonce="n"),
        "neither sid nor sub": logout_token(runtime, issuer_gateway, site.client_id, sid=None),
        "expired": logout_token(
            runtime, issuer_gateway, site.client_id, iat=int(time.time()) - 900, exp=1
        ),
    }
    for reason, token in refused.items():
        answer = post(token)
        assert answer.status_code == 400, reason
        assert answer.json()["error"] == "invalid_request", reason
        assert answer.headers["cache-control"] == "no-store", reason
    first = post(good)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert post(good).status_code == 400  # the same jti again: a replay
