"""The passkey pages over real HTTP with JavaScript off: the page's script is played by the
test (options from the JSON endpoint, the credential posted with the form), with genuine
responses from the software authenticator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from gateway.runtime import Runtime
from tests.conftest import unique_client_address
from tests.gateway.authorize.support import authorize_path, relying_party, request_params, visit
from tests.gateway.clients.support import new_organisation
from tests.gateway.passkeys.authenticator import SoftAuthenticator
from tests.support.accounts import create_account, next_totp, set_up_authenticator
from tests.support.web import Browser

_REQUEST = re.compile(r'name="request" value="([^"]+)"')


@pytest.fixture
def visitor(passkey_url: str) -> Iterator[Browser]:
    """A visitor with JavaScript off, from a client address of its own."""
    opened = Browser(passkey_url, {"X-Forwarded-For": unique_client_address()})
    yield opened
    opened.close()


@pytest.fixture
def device(passkey_url: str) -> SoftAuthenticator:
    return SoftAuthenticator(passkey_url, "localhost")


def _options(visitor: Browser, path: str, data: dict[str, str] | None = None) -> dict[str, object]:
    response = visitor.post(path, data or {})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    options: dict[str, object] = response.json()
    return options


def _strong_session(visitor: Browser) -> str:
    """Create an account with an authenticator app, then prove it through the second step
    the passkeys page sends a password-only session to. Returns the TOTP secret."""
    create_account(visitor)
    secret, _ = set_up_authenticator(visitor)
    page = visitor.get("/account/passkeys")
    assert "Confirm it is you" in page.text
    assert 'data-passkey="create"' not in page.text
    assert visitor.get("/account/passkeys/second-step").url.path == "/sign-in/code"
    done = visitor.post("/sign-in/code", {"method": "totp", "code": next_totp(secret)})
    assert done.url.path == "/account/passkeys", done.text[:500]
    return secret


def _add_passkey(visitor: Browser, device: SoftAuthenticator, name: str = "My phone") -> None:
    visitor.get("/account/passkeys")
    options = _options(visitor, "/account/passkeys/options", {"name": name})
    added = visitor.post(
        "/account/passkeys", {"name": name, "credential": device.create(options), "next": ""}
    )
    assert added.url.path == "/account/passkeys", added.text[:500]
    assert "Your passkey has been added" in added.text


def test_the_script_is_served_from_this_origin(visitor: Browser) -> None:
    response = visitor.get("/passkeys/passkeys.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "navigator.credentials" in response.text


def test_sign_in_pages_offer_a_passkey_block_hidden_until_the_script_runs(
    visitor: Browser,
) -> None:
    page = visitor.get("/sign-in?next=/account/passkeys").text
    assert re.search(r"<div data-passkey-ceremony hidden>", page)
    assert 'action="/sign-in/passkey"' in page
    assert 'src="/passkeys/passkeys.js"' in page


def test_register_sign_out_and_sign_in_with_the_passkey_alone(
    visitor: Browser, device: SoftAuthenticator, passkey_url: str
) -> None:
    """The whole journey with JavaScript's part played by the test: add a passkey after the
    second step, sign out, sign in with the passkey and nothing else, and see it used."""
    _strong_session(visitor)
    _add_passkey(visitor, device)
    visitor.get("/sign-out")
    visitor.post("/sign-out", {})

    fresh = Browser(passkey_url, visitor.headers)
    try:
        fresh.get("/sign-in?next=/account/passkeys")
        options = _options(fresh, "/sign-in/passkey/options")
        assert options["allowCredentials"] == []
        assert options["rpId"] == "localhost"
        signed_in = fresh.post(
            "/sign-in/passkey", {"credential": device.get(options), "next": "/account/passkeys"}
        )
        assert signed_in.url.path == "/account/passkeys", signed_in.text[:500]
        assert "My phone" in signed_in.text
        assert "Not used yet" not in signed_in.text
        # Signed in with a passkey: strong enough to add or remove one.
        assert 'data-passkey="create"' in signed_in.text
    finally:
        fresh.close()


def test_a_failed_passkey_sign_in_says_what_to_do(
    visitor: Browser, device: SoftAuthenticator
) -> None:
    visitor.get("/sign-in")
    options = _options(visitor, "/sign-in/passkey/options")
    device.create({"user": {"id": "AA"}, "challenge": ""})  # a passkey this gateway never saw
    refused = visitor.post("/sign-in/passkey", {"credential": device.get(options), "next": "/x"})
    assert refused.status_code == 400
    assert "We could not sign you in with that passkey" in refused.text
    assert 'href="/sign-in?next=/x"' in refused.text


def test_options_and_forms_need_the_csrf_token(visitor: Browser) -> None:
    visitor.get("/sign-in")
    for path in ("/sign-in/passkey/options", "/sign-in/passkey"):
        response = visitor.post(path, {}, csrf=False)
        assert response.status_code == 403, path


def test_rename_and_remove_a_passkey(visitor: Browser, device: SoftAuthenticator) -> None:
    _strong_session(visitor)
    _add_passkey(visitor, device)
    page = visitor.get("/account/passkeys").text
    rename_href = re.search(r'href="(/account/passkeys/rename\?id=[^"]+)"', page)
    assert rename_href is not None
    form = visitor.get(rename_href.group(1).replace("&amp;", "&"))
    credential_id = re.search(r'name="id" value="([^"]+)"', form.text)
    assert credential_id is not None
    too_long = visitor.post("/account/passkeys/rename", {"id": credential_id[1], "name": "x" * 61})
    assert too_long.status_code == 400
    renamed = visitor.post(
        "/account/passkeys/rename", {"id": credential_id[1], "name": "Work laptop"}
    )
    assert "The passkey has been renamed" in renamed.text
    assert "Work laptop" in renamed.text

    visitor.get(f"/account/passkeys/remove?id={quote(credential_id[1])}")
    removed = visitor.post("/account/passkeys/remove", {"id": credential_id[1]})
    assert "The passkey has been removed" in removed.text
    assert "You have not added a passkey yet" in removed.text


def test_someone_elses_passkey_cannot_be_renamed_or_removed(
    visitor: Browser, device: SoftAuthenticator, passkey_url: str
) -> None:
    _strong_session(visitor)
    _add_passkey(visitor, device)
    [held] = device.credentials.values()
    other = Browser(passkey_url, visitor.headers)
    try:
        _strong_session(other)
        page = other.get(f"/account/passkeys/rename?id={held.id_text}")
        assert page.status_code == 404
        other.get("/account/passkeys")
        assert other.post("/account/passkeys/remove", {"id": held.id_text}).status_code == 404
    finally:
        other.close()
    assert "My phone" in visitor.get("/account/passkeys").text


async def _held_request(runtime: Runtime, visitor: Browser) -> str:
    """Start an authorization request from a relying party; the id it is held under."""
    rp = await relying_party(runtime, await new_organisation(runtime))
    response = visit(visitor, authorize_path(request_params(rp)))
    match = _REQUEST.search(response.text) or re.search(r"request=([\w-]+)", str(response.url))
    assert match is not None, response.text[:500]
    return match.group(1)


async def test_step_up_without_a_passkey_explains_how_to_add_one_and_come_back(
    runtime: Runtime, visitor: Browser
) -> None:
    _strong_session(visitor)
    request_id = await _held_request(runtime, visitor)
    page = visitor.get(f"/authorize/passkey?request={request_id}")
    assert page.status_code == 200
    assert "you have not added one yet" in page.text
    back = quote(f"/authorize/passkey?request={request_id}", safe="/")
    assert f'href="/account/passkeys?next={back}"' in page.text


async def test_step_up_with_a_passkey_signs_in_with_it_and_resumes_the_request(
    runtime: Runtime, visitor: Browser, device: SoftAuthenticator
) -> None:
    _strong_session(visitor)
    _add_passkey(visitor, device)
    request_id = await _held_request(runtime, visitor)
    page = visitor.get(f"/authorize/passkey?request={request_id}")
    assert "Use your passkey" in page.text
    assert "Passkeys need JavaScript" in page.text  # shown until the script hides it
    options = _options(visitor, "/authorize/passkey/options", {"request": request_id})
    assert len(options["allowCredentials"]) == 1  # type: ignore[arg-type]
    response = visitor.client.post(
        "/authorize/passkey",
        data={
            "csrf_token": visitor.csrf,
            "request": request_id,
            "credential": device.get(options),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/authorize/resume?request={request_id}"


async def test_step_up_refuses_a_replayed_assertion_on_the_page(
    runtime: Runtime, visitor: Browser, device: SoftAuthenticator
) -> None:
    _strong_session(visitor)
    _add_passkey(visitor, device)
    request_id = await _held_request(runtime, visitor)
    visitor.get(f"/authorize/passkey?request={request_id}")
    options = _options(visitor, "/authorize/passkey/options", {"request": request_id})
    assertion = device.get(options)
    form = {"request": request_id, "credential": assertion}
    first = visitor.client.post(
        "/authorize/passkey", data={"csrf_token": visitor.csrf, **form}, follow_redirects=False
    )
    assert first.status_code == 303
    visitor.get(f"/authorize/passkey?request={request_id}")
    again = visitor.post("/authorize/passkey", form)
    assert again.status_code == 400
    assert "Your passkey could not be checked" in again.text


def test_step_up_for_an_unknown_request_says_it_has_expired(visitor: Browser) -> None:
    response = visitor.get("/authorize/passkey?request=authz_unknown")
    assert response.status_code == 400
