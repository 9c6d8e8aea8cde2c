"""From the council's link to a code: signing in on the way, resuming, re-authentication
for ``prompt=login`` and ``max_age`` (OIDC Core §3.1.2.1, §3.1.2.3), ``id_token_hint``,
step-up to a second factor, and what the code stands for (OIDC Core §3.1.2.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.oidc.models import AuthorizationGrant
from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    authorize_path,
    callback,
    is_page,
    relying_party,
    request_params,
    sign_in_here,
    visit,
)
from tests.support.accounts import create_account, new_email
from tests.support.web import Browser, latest_code

OpenBrowser = Callable[..., Browser]


async def _redeem(runtime: Runtime, answer: dict[str, str]) -> AuthorizationGrant:
    redemption = await runtime.codes.redeem(answer["code"])
    assert redemption.grant is not None
    return redemption.grant


async def _sid(runtime: Runtime, browser: Browser) -> str:
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None and session.sid
    return session.sid


async def test_signing_in_on_the_way_ends_with_a_code_for_this_request(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    email = create_account(open_browser())  # someone else's browser made the account
    rp = await relying_party(runtime, organisation_id, first_party=True)
    browser = open_browser()
    params = request_params(rp, login_hint=email, nonce="n" * 600)

    page = visit(browser, authorize_path(params))
    assert is_page(page, "/authorize/sign-in")
    assert f'value="{email}"' in page.text  # login_hint pre-fills the email address
    assert rp.client.client_name in page.text

    answer = callback(sign_in_here(browser, page, email))
    assert answer["state"] == params["state"] and answer["iss"] == issuer
    assert len(answer["code"]) >= 43  # 256 random bits, base64url

    grant = await _redeem(runtime, answer)
    account = await runtime.accounts.find_by_email(email)
    assert account is not None
    assert grant.client_id == rp.client_id and grant.account_id == account.id
    assert grant.redirect_uri == params["redirect_uri"]
    assert grant.nonce == params["nonce"]  # a long nonce survives whole
    assert grant.code_challenge == params["code_challenge"]
    assert grant.scope == ("openid", "email")
    assert grant.amr == ("pwd",) and grant.acr == "Cl"
    assert grant.sid == await _sid(runtime, browser)
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None and rp.client_id in session.clients  # for back-channel logout


async def test_a_signed_in_person_gets_a_code_at_once(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    claims = '{"userinfo": {"email": {"essential": true}}, "id_token": {"auth_time": null}}'
    params = request_params(rp, claims=claims, ui_locales="en cy", display="page", extra="x")
    answer = callback(visit(browser, authorize_path(params)))
    grant = await _redeem(runtime, answer)
    assert grant.claims == {
        "userinfo": {"email": {"essential": True}},
        "id_token": {"auth_time": None},
    }


async def test_a_form_post_request_is_answered_after_a_get_that_carries_the_session(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """OIDC Core §3.1.2.1 allows POST; the session cookie (SameSite=Lax) only comes on GET."""
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    params = request_params(rp)
    answer = callback(visit(browser, "/authorize", method="POST", data=params))
    assert answer["state"] == params["state"]
    assert (await _redeem(runtime, answer)).client_id == rp.client_id


async def test_a_pending_request_is_answered_once(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    first = browser.client.post("/authorize", data=request_params(rp), follow_redirects=False)
    resume = first.headers["location"]
    callback(visit(browser, resume))
    again = visit(browser, resume)
    assert again.status_code == 400 and "timed out" in again.text


async def test_prompt_login_makes_a_signed_in_person_sign_in_again(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    before = await _redeem(runtime, callback(visit(browser, authorize_path(request_params(rp)))))

    page = visit(browser, authorize_path(request_params(rp, prompt="login")))
    assert is_page(page, "/authorize/sign-in") and "sign in again" in page.text
    after = await _redeem(runtime, callback(sign_in_here(browser, page, email)))
    assert after.auth_time > before.auth_time
    assert after.sid == before.sid  # the same sign-in session, re-authenticated


async def test_max_age_forces_a_new_sign_in_once_the_sign_in_is_older(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    before = await _redeem(runtime, callback(visit(browser, authorize_path(request_params(rp)))))
    await asyncio.sleep(1.1)  # let the sign-in become older than max_age=1

    page = visit(browser, authorize_path(request_params(rp, max_age="1")))
    assert is_page(page, "/authorize/sign-in")
    after = await _redeem(runtime, callback(sign_in_here(browser, page, email)))
    assert int(after.auth_time.timestamp()) > int(before.auth_time.timestamp())


async def test_a_large_max_age_needs_no_new_sign_in(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    answer = callback(visit(browser, authorize_path(request_params(rp, max_age="3600"))))
    assert "code" in answer


async def test_id_token_hint_for_this_person_is_accepted_even_expired(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    account = await runtime.accounts.find_by_email(email)
    assert account is not None
    expired = datetime.now(UTC) - timedelta(hours=1)
    hint = runtime.keys.sign(
        {
            "iss": issuer,
            "aud": rp.client_id,
            "sub": runtime.subjects.subject(rp.client.sector_identifier, account.id),
            "iat": int((expired - timedelta(minutes=5)).timestamp()),
            "exp": int(expired.timestamp()),
        }
    )
    params = request_params(rp, prompt="none", id_token_hint=hint)
    assert "code" in callback(visit(browser, authorize_path(params)))


async def test_id_token_hint_for_someone_else_asks_for_a_sign_in(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, issuer: str
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    claims = {"iss": issuer, "aud": rp.client_id, "sub": "someone-else", "exp": 1}
    hint = runtime.keys.sign(claims)

    silent = callback(
        visit(browser, authorize_path(request_params(rp, prompt="none", id_token_hint=hint)))
    )
    assert silent["error"] == "login_required"
    page = visit(browser, authorize_path(request_params(rp, id_token_hint=hint)))
    assert is_page(page, "/authorize/sign-in")


async def test_id_token_hint_not_signed_by_the_gateway_is_refused(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    rp = await relying_party(runtime, organisation_id, first_party=True)
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    answer = callback(
        visit(open_browser(), authorize_path(request_params(rp, id_token_hint=forged)))
    )
    assert answer["error"] == "invalid_request"


async def test_a_client_that_needs_a_second_factor_steps_the_person_up(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """Cl.Cm for a password-only sign-in: an emailed code as the second step (minimal
    step-up), then the code carries acr Cl.Cm and amr with mfa."""
    browser = open_browser()
    email = create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True, min_level="Cl.Cm")

    page = visit(browser, authorize_path(request_params(rp, prompt="none")))
    assert callback(page)["error"] == "login_required"  # prompt=none cannot step up

    page = visit(browser, authorize_path(request_params(rp)))
    assert is_page(page, "/authorize/step-up") and "Confirm it is you" in page.text
    page = visit(browser, "/sign-in/email-code", method="POST", data={"csrf_token": browser.csrf})
    assert is_page(page, "/sign-in/code")
    code = latest_code(browser.get(f"/dev/outbox?to={email}").text)
    form = {"csrf_token": browser.csrf, "method": "email", "code": code}
    grant = await _redeem(
        runtime, callback(visit(browser, "/sign-in/code", method="POST", data=form))
    )
    assert grant.acr == "Cl.Cm"
    assert grant.amr == ("email", "pwd", "mfa")


async def test_acr_values_ask_for_the_level_and_are_answered_with_it(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    page = visit(browser, authorize_path(request_params(rp, acr_values="Cl.Cm")))
    assert is_page(page, "/authorize/step-up")
    answer = callback(visit(browser, authorize_path(request_params(rp, acr_values="Cl Cl.Cm.Ch"))))
    assert (await _redeem(runtime, answer)).acr == "Cl"  # Cl.Cm.Ch is voluntary and unreachable


async def test_someone_new_signs_in_with_their_new_account_email(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """The sign-in page from a council's link accepts any account, not only the hinted one."""
    email = create_account(open_browser())
    rp = await relying_party(runtime, organisation_id, first_party=True)
    browser = open_browser()
    page = visit(browser, authorize_path(request_params(rp, login_hint=new_email())))
    assert "code" in callback(sign_in_here(browser, page, email))
