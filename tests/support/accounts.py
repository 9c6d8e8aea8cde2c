"""Making accounts the way a citizen does: through the pages, with the code from the outbox."""

from __future__ import annotations

import re
import secrets
import time

import pyotp

from tests.support.web import Browser, latest_code

PASSWORD = "amber lantern quietly 42"


def new_email() -> str:
    return f"citizen-{secrets.token_hex(5)}@example.org"


def create_account(browser: Browser, email: str | None = None, password: str = PASSWORD) -> str:
    """Create and verify an account; leaves ``browser`` signed in. Returns the email."""
    email = email or new_email()
    response = browser.submit(
        "/create-account", "/create-account", {"email": email, "password": password}
    )
    assert response.url.path == "/create-account/check-email", response.text
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    browser.get("/create-account/check-email")
    response = browser.post("/create-account/check-email", {"code": code})
    assert response.url.path == "/account", response.text
    return email


def sign_in(browser: Browser, email: str, password: str = PASSWORD) -> str:
    """Submit the sign-in form; returns the path the browser ended on."""
    response = browser.submit("/sign-in", "/sign-in", {"email": email, "password": password})
    return response.url.path


def set_up_authenticator(browser: Browser) -> tuple[str, list[str]]:
    """Enrol an authenticator app through the pages; returns (secret, recovery codes)."""
    page = browser.get("/account/authenticator").text
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert match is not None, "the set-up page shows the secret for manual entry"
    secret = match.group(1)
    response = browser.post("/account/authenticator", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([^<]+)</code></li>", response.text)
    assert codes, response.text
    return secret, codes


def next_totp(secret: str) -> str:
    """The code for the next time step: still inside the one-step window, never yet used."""
    return pyotp.TOTP(secret).at(time.time() + 30)
