"""Issue 5's end-to-end level journey over real HTTP, against the running gateway and the real
token endpoint: a council client demands ``Cl.Cm`` and a password-only session is stepped up to
the authenticator app; a request for ``P2`` by a person with no evidence ends in the
identity-proving step; once an identity officer (signed in with a passkey) records a passport
check meeting a medium GPG 45 profile, the *same* held request succeeds, and the ID token says
``Cl.Cm.P2`` in ``acr`` and ``vot``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.runtime import Runtime
from tests.gateway.authorize.support import (
    RelyingParty,
    authorize_path,
    callback,
    is_page,
    pkce_pair,
    relying_party,
    request_params,
    visit,
)
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import create_account, next_totp, set_up_authenticator
from tests.support.web import Browser
from tests.trust_levels.proofing.support import new_council, new_officer, passkey_session

OpenBrowser = Callable[..., Browser]


async def _id_token(
    http: httpx.AsyncClient, rp: RelyingParty, answer: dict[str, str], verifier: str
) -> dict[str, object]:
    """Redeem the code at /token as the council's back end would, and verify the ID token
    against the published JWKS."""
    assert rp.secret is not None
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": rp.client.redirect_uris[0],
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    return dict(jwt.decode(response.json()["id_token"], keys, algorithms=["ES256"]).claims)


async def test_step_up_to_cl_cm_then_prove_identity_to_p2_through_an_officer(
    runtime: Runtime, open_browser: OpenBrowser, http: httpx.AsyncClient
) -> None:
    organisation_id = await new_organisation(runtime)
    browser = open_browser()
    create_account(browser)  # signed in with the password alone: Cl
    secret, _ = set_up_authenticator(browser)
    council = await relying_party(
        runtime, organisation_id, secret=True, first_party=True, min_level="Cl.Cm"
    )

    # 1. The council demands Cl.Cm: the person is asked for their authenticator code.
    verifier, challenge = pkce_pair()
    page = visit(browser, authorize_path(request_params(council, code_challenge=challenge)))
    assert is_page(page, "/sign-in/code")
    form = {"csrf_token": browser.csrf, "method": "totp", "code": next_totp(secret)}
    answer = callback(visit(browser, "/sign-in/code", method="POST", data=form))
    claims = await _id_token(http, council, answer, verifier)
    assert claims["acr"] == claims["vot"] == "Cl.Cm"
    assert claims["vtm"] == runtime.settings.issuer + "/trustmark"
    amr = claims["amr"]
    assert isinstance(amr, list) and {"pwd", "otp", "mfa"} <= set(amr)

    # 2. P2 with no evidence: the identity-proving step, naming the level needed.
    verifier, challenge = pkce_pair()
    params = request_params(council, code_challenge=challenge, vtr=json.dumps(["Cl.Cm.P2"]))
    page = visit(browser, authorize_path(params))
    assert is_page(page, "/authorize/prove-identity"), page.url
    assert "P2" in page.text and "GPG 45 medium" in page.text
    request_id = page.url.params["request"]
    # Continuing without evidence comes straight back to the same step.
    again = visit(browser, f"/authorize/resume?request={request_id}")
    assert is_page(again, "/authorize/prove-identity")

    # 3. An identity officer at the high level records a passport check (GPG 45 M1B).
    officer = await new_officer(runtime, await new_council(runtime))
    desk = open_browser()
    desk.client.cookies.set("gc_session", await passkey_session(runtime, officer.account_id))
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None and session.account_id is not None
    person_page = f"/staff/identity/people/{session.account_id}"
    recorded = desk.submit(
        person_page,
        f"{person_page}/evidence",
        {
            "kind": "passport",
            "strength": "3",
            "validity": "2",
            "activity": "1",
            "fraud": "2",
            "verification": "2",
        },
    )
    assert recorded.status_code == 200 and "The evidence has been recorded" in recorded.text
    assert re.search(r"P2", recorded.text)

    # 4. The same held request now succeeds, and the ID token asserts exactly what was reached.
    answer = callback(visit(browser, f"/authorize/resume?request={request_id}"))
    assert answer["state"] == params["state"]
    claims = await _id_token(http, council, answer, verifier)
    assert claims["acr"] == claims["vot"] == "Cl.Cm.P2"
    assert claims["nonce"] == params["nonce"]
