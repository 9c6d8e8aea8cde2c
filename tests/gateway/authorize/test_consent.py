"""Consent for clients that are not first-party (OIDC Core §3.1.2.4): asked once per set of
scopes, kept per person and client, removable from the account, forced by prompt=consent."""

from __future__ import annotations

from collections.abc import Callable

from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    answer_consent,
    authorize_path,
    callback,
    is_page,
    relying_party,
    request_params,
    visit,
)
from tests.support.accounts import create_account
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]


async def test_consent_is_asked_kept_removed_from_the_account_and_asked_again(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id)
    account = await runtime.accounts.find_by_email(email)
    assert account is not None

    page = visit(browser, authorize_path(request_params(rp, scope="openid email profile")))
    assert is_page(page, "/authorize/consent")
    assert rp.client.client_name in page.text
    assert "see your email address" in page.text and "see your name" in page.text
    assert "code" in callback(answer_consent(browser, page, "allow"))
    consents = runtime.authorization.consents
    assert await consents.covers(account.id, rp.client_id, ("openid", "email", "profile"))

    # Next time: straight back with a code, for the same scopes or fewer.
    assert "code" in callback(visit(browser, authorize_path(request_params(rp, scope="openid"))))

    services = browser.get("/account/services")
    assert rp.client.client_name in services.text
    assert 'href="/account/services"' in browser.get("/account").text
    removed = browser.post("/account/services/remove", {"client_id": rp.client_id})
    assert removed.url.path == "/account/services"
    assert "will ask for your permission again" in removed.text
    assert f'data-service="{rp.client_id}"' not in removed.text

    again = visit(browser, authorize_path(request_params(rp)))
    assert is_page(again, "/authorize/consent")


async def test_cancel_sends_access_denied_back(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id)
    params = request_params(rp)
    page = visit(browser, authorize_path(params))
    answer = callback(answer_consent(browser, page, "cancel"))
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"] and answer["iss"] == issuer
    account = await runtime.accounts.find_by_email(email)
    assert account is not None
    assert not await runtime.authorization.consents.covers(account.id, rp.client_id, ("openid",))


async def test_consent_needs_the_forms_csrf_token(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id)
    page = visit(browser, authorize_path(request_params(rp)))
    browser.csrf = "forged"
    response = answer_consent(browser, page, "allow")
    assert response.status_code == 403 and "location" not in response.headers


async def test_more_scopes_or_prompt_consent_ask_again_and_prompt_none_cannot(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id)
    silent = callback(visit(browser, authorize_path(request_params(rp, prompt="none"))))
    assert silent["error"] == "consent_required"

    callback(answer_consent(browser, visit(browser, authorize_path(request_params(rp))), "allow"))
    wider = visit(browser, authorize_path(request_params(rp, scope="openid email profile")))
    assert is_page(wider, "/authorize/consent")
    forced = visit(browser, authorize_path(request_params(rp, prompt="consent")))
    assert is_page(forced, "/authorize/consent")
    assert "code" in callback(answer_consent(browser, forced, "allow"))


async def test_a_first_party_client_is_asked_for_only_with_prompt_consent(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    assert "code" in callback(visit(browser, authorize_path(request_params(rp))))
    forced = visit(browser, authorize_path(request_params(rp, prompt="consent")))
    assert is_page(forced, "/authorize/consent")
