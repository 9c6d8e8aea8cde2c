"""Asking for a level and being stepped up to it (DESIGN.md §2, RFC 8485 ``vtr``): the person
is asked for what is missing — a second factor, a passkey, identity evidence — never refused
outright, and the code asserts only what was reached (``acr`` and ``vot``) at the moment of
issue. A session replayed after its level's freshness ran out is stepped up again."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import httpx

from gateway.oidc.models import AuthorizationGrant
from gateway.runtime import Runtime
from gateway.sessions.models import AuthEvent
from gateway.sessions.store import SessionStore
from tests.gateway.authorize.support import (
    authorize_path,
    callback,
    is_page,
    relying_party,
    request_params,
    visit,
)
from tests.support.accounts import create_account, next_totp, set_up_authenticator
from tests.support.web import Browser

OpenBrowser = Callable[..., Browser]


async def _grant(runtime: Runtime, answer: dict[str, str]) -> AuthorizationGrant:
    redemption = await runtime.codes.redeem(answer["code"])
    assert redemption.grant is not None
    return redemption.grant


def _vtr(*vectors: str) -> str:
    return json.dumps(list(vectors))


async def _age_session(runtime: Runtime, browser: Browser, minutes: int) -> None:
    """Make every factor of this browser's session ``minutes`` older, as if it were replayed
    later (the store is the real one; only the recorded times move)."""
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None
    aged = tuple(AuthEvent(e.method, e.at - timedelta(minutes=minutes)) for e in session.auth)
    await SessionStore(runtime.redis).save(replace(session, auth=aged), 3600)


async def test_vtr_cl_cm_steps_a_password_session_up_to_the_authenticator_app(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)  # signed in with the password alone
    secret, _ = set_up_authenticator(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)

    page = visit(browser, authorize_path(request_params(rp, vtr=_vtr("Cl.Cm"))))
    assert is_page(page, "/sign-in/code"), page.url
    form = {"csrf_token": browser.csrf, "method": "totp", "code": next_totp(secret)}
    grant = await _grant(
        runtime, callback(visit(browser, "/sign-in/code", method="POST", data=form))
    )
    assert (grant.acr, grant.vot) == ("Cl.Cm", "Cl.Cm")
    assert "otp" in grant.amr and "mfa" in grant.amr


async def test_a_replayed_session_past_its_levels_freshness_is_stepped_up_again(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """Cl.Cm counts for four hours (the default): five hours on, the same browser gets no
    code at Cl.Cm without proving the second factor again, and prompt=none says so."""
    browser = open_browser()
    create_account(browser)
    secret, _ = set_up_authenticator(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True, min_level="Cl.Cm")
    page = visit(browser, authorize_path(request_params(rp)))
    form = {"csrf_token": browser.csrf, "method": "totp", "code": next_totp(secret)}
    assert (
        await _grant(runtime, callback(visit(browser, "/sign-in/code", method="POST", data=form)))
    ).acr == "Cl.Cm"

    await _age_session(runtime, browser, minutes=5 * 60)
    answer = callback(visit(browser, authorize_path(request_params(rp, prompt="none"))))
    assert answer["error"] == "login_required"
    page = visit(browser, authorize_path(request_params(rp)))
    assert is_page(page, "/sign-in/code")


async def test_a_request_for_identity_confidence_goes_to_the_proving_step(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """P2 with no evidence: the identity-proving step, not an error; prompt=none answers
    interaction_required; going back to the service answers unmet_authentication_requirements."""
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)

    answer = callback(
        visit(browser, authorize_path(request_params(rp, vtr=_vtr("Cl.P2"), prompt="none")))
    )
    assert answer["error"] == "interaction_required"

    page = visit(browser, authorize_path(request_params(rp, vtr=_vtr("Cl.P2"), state="s-1")))
    assert page.url.path == "/authorize/prove-identity"
    request_id = page.url.params["request"]
    form = {"csrf_token": browser.csrf, "request": request_id}
    answer = callback(visit(browser, "/authorize/give-up", method="POST", data=form))
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == "s-1" and answer["iss"] == runtime.settings.issuer


async def test_a_high_level_asks_for_a_passkey(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    page = visit(browser, authorize_path(request_params(rp, vtr=_vtr("Cl.Cm.Ch"))))
    assert page.url.path == "/authorize/passkey"


async def test_voluntary_acr_values_never_assert_more_than_was_reached(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser
) -> None:
    """acr_values=Cl.P2 is voluntary: the person is not sent to prove their identity, and
    the code says Cl — what they reached — not the P2 asked for."""
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(runtime, organisation_id, first_party=True)
    answer = callback(visit(browser, authorize_path(request_params(rp, acr_values="Cl.P2"))))
    grant = await _grant(runtime, answer)
    assert (grant.acr, grant.vot) == ("Cl", "Cl")


async def test_editing_the_level_in_a_pushed_request_changes_nothing(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    """A client that requires PAR: the browser can add acr_values or vtr to the /authorize
    link, but only the pushed request counts (RFC 9126 §4), so the level stays the pushed
    one and the person is stepped up to it."""
    browser = open_browser()
    create_account(browser)
    rp = await relying_party(
        runtime,
        organisation_id,
        secret=True,
        first_party=True,
        require_par=True,
    )
    assert rp.secret is not None
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    pushed = await http.post(
        "/par",
        data=request_params(rp, vtr=_vtr("Cl.Cm")),
        headers={"Authorization": f"Basic {basic}"},
    )
    assert pushed.status_code == 201, pushed.text
    tampered = {
        "client_id": rp.client_id,
        "request_uri": pushed.json()["request_uri"],
        "vtr": _vtr("Cl"),
        "acr_values": "Cl",
    }
    page = visit(browser, authorize_path(tampered))
    assert page.url.path == "/authorize/step-up", page.url
