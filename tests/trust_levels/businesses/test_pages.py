"""The business pages over real HTTP with JavaScript off, and the ways they are attacked:
forms without their CSRF token, guessed and replayed invitation links, another business's
pages, acting at sign-in for a business the person does not belong to, the admin API without
a token (trust_levels.businesses.routes)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.authorize.models import PERSONAL
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
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import PASSWORD, sign_in
from tests.support.web import Browser
from tests.trust_levels.businesses.support import Person, emailed_token, person
from trust_levels.businesses.models import Business, NewBusiness, Role
from trust_levels.businesses.services import JOIN_PATH

OpenBrowser = Callable[..., Browser]


def _signed_in(open_browser: OpenBrowser, who: Person) -> Browser:
    browser = open_browser()
    assert sign_in(browser, who.email) == "/account"
    return browser


@pytest.fixture
async def shop(runtime: Runtime, owner: Person) -> Business:
    """A business made through the gateway's own service, owned by ``owner``."""
    return await runtime.businesses.create(
        owner.account_id, NewBusiness.parse("Anytown Florist", "sole_trader", "", agent=False)
    )


async def test_a_business_is_created_from_the_form_and_a_bad_number_is_shown_beside_its_field(
    open_browser: OpenBrowser, owner: Person, runtime: Runtime
) -> None:
    browser = _signed_in(open_browser, owner)
    form = {"name": "Anytown Bakery Ltd", "kind": "company", "number": "XX12"}
    refused = browser.submit("/account/businesses/new", "/account/businesses/new", form)
    assert refused.status_code == 400
    assert "Enter a Companies House number in the correct format" in refused.text
    assert 'value="XX12"' in refused.text  # the answers are kept

    created = browser.post("/account/businesses/new", {**form, "kind": "other", "number": ""})
    assert created.status_code == 200 and "Your business has been created" in created.text
    business_id = created.url.path.rsplit("/", 1)[-1]
    membership = await runtime.businesses.membership(business_id, owner.account_id)
    assert membership is not None and membership.role is Role.ADMINISTRATOR


async def test_a_form_without_its_csrf_token_changes_nothing(
    open_browser: OpenBrowser, owner: Person, runtime: Runtime, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    before = await runtime.businesses.memberships(owner.account_id)
    attempts = [
        ("/account/businesses/new", {"name": "Forged Ltd", "kind": "other", "number": ""}),
        (f"/account/businesses/{shop.id}/invite", {"email": "x@example.org", "role": "member"}),
        (f"/account/businesses/{shop.id}/services", {"service": "parking-permits"}),
        (f"/account/businesses/{shop.id}/leave", {}),
    ]
    for path, data in attempts:
        assert browser.post(path, data, csrf=False).status_code == 403, path
        assert browser.post(path, {**data, "csrf_token": "forged"}, csrf=False).status_code == 403
    assert await runtime.businesses.memberships(owner.account_id) == before
    assert await runtime.businesses.invitations(shop.id, owner.account_id) == []
    assert await runtime.businesses.enrolments(shop.id) == []


async def test_a_member_who_tries_to_invite_is_told_only_administrators_can_and_who_they_are(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    member = await person(runtime)
    await runtime.businesses.invite(shop.id, owner.account_id, member.email, Role.MEMBER)
    await runtime.businesses.accept(await emailed_token(runtime, member.email), member.account_id)
    browser = _signed_in(open_browser, member)

    page = browser.get(f"/account/businesses/{shop.id}/invite")
    assert page.status_code == 403
    assert "Only administrators can do that" in page.text and owner.email in page.text
    posted = browser.post(
        f"/account/businesses/{shop.id}/invite", {"email": "x@example.org", "role": "member"}
    )
    assert posted.status_code == 403
    member_page = browser.get(f"/account/businesses/{shop.id}/members/{owner.account_id}")
    assert member_page.status_code == 403
    assert (
        browser.post(
            f"/account/businesses/{shop.id}/members/{owner.account_id}/role", {"role": "member"}
        ).status_code
        == 403
    )
    assert await runtime.businesses.invitations(shop.id, owner.account_id) == []
    assert "Invite someone" not in browser.get(f"/account/businesses/{shop.id}").text


async def test_another_business_looks_like_no_business_at_all(
    open_browser: OpenBrowser, runtime: Runtime, shop: Business, owner: Person
) -> None:
    outsider = await person(runtime)
    browser = _signed_in(open_browser, outsider)
    for path in (
        f"/account/businesses/{shop.id}",
        f"/account/businesses/{shop.id}/invite",
        f"/account/businesses/{shop.id}/members/{owner.account_id}",
        "/account/businesses/bus_" + "A" * 22,
        "/account/businesses/" + "x" * 65,
    ):
        response = browser.get(path)
        assert response.status_code in (404, 422), path
        assert owner.email not in response.text and shop.name not in response.text
    posted = browser.post(f"/account/businesses/{shop.id}/members/{owner.account_id}/remove", {})
    assert posted.status_code == 404
    assert await runtime.businesses.membership(shop.id, owner.account_id) is not None


def test_the_business_pages_need_a_signed_in_person(open_browser: OpenBrowser) -> None:
    browser = open_browser()
    response = browser.client.get("/account/businesses", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/account/businesses"


async def test_an_invitee_signs_in_from_the_link_and_joins_and_the_link_then_stops_working(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    invitee = await person(runtime)
    await runtime.businesses.invite(shop.id, owner.account_id, invitee.email, Role.MEMBER)
    path = f"{JOIN_PATH}/{await emailed_token(runtime, invitee.email)}"
    browser = open_browser()
    landing = browser.get(path)
    assert landing.status_code == 200 and f"Join {shop.name}" in landing.text
    assert "/sign-in?next=" in landing.text and "Accept and join" not in landing.text

    form = {"email": invitee.email, "password": PASSWORD, "next": path}
    response = browser.submit(f"/sign-in?next={path}", "/sign-in", form)
    assert response.url.path == path and "Accept and join" in response.text
    joined = browser.post(path, {})
    assert joined.url.path == f"/account/businesses/{shop.id}"
    assert "You have joined the business" in joined.text

    replayed = browser.get(path)
    assert replayed.status_code == 404 and "This invitation link is not valid" in replayed.text
    assert browser.post(path, {}).status_code == 404


async def test_a_guessed_link_is_not_valid_and_says_nothing_more(
    open_browser: OpenBrowser, owner: Person
) -> None:
    browser = _signed_in(open_browser, owner)
    for guess in ("A" * 43, "not-a-token", "A" * 64):
        response = browser.get(f"{JOIN_PATH}/{guess}")
        assert response.status_code == 404
        assert "This invitation link is not valid" in response.text
        assert browser.post(f"{JOIN_PATH}/{guess}", {}).status_code == 404


async def test_a_link_opened_by_someone_else_cannot_be_accepted_by_them(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    invitee, intruder = await person(runtime), await person(runtime)
    await runtime.businesses.invite(shop.id, owner.account_id, invitee.email, Role.ADMINISTRATOR)
    path = f"{JOIN_PATH}/{await emailed_token(runtime, invitee.email)}"
    browser = _signed_in(open_browser, intruder)
    page = browser.get(path)
    assert "Accept and join" not in page.text and "sent to" in page.text
    assert invitee.email not in page.text  # only a hint of the invited address
    assert browser.post(path, {}).status_code == 403
    assert await runtime.businesses.membership(shop.id, intruder.account_id) is None
    # Still good for the person it was sent to.
    assert await runtime.businesses.accept(path.rsplit("/", 1)[-1], invitee.account_id)


async def test_the_last_administrator_is_told_they_cannot_leave(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    browser.get(f"/account/businesses/{shop.id}")
    response = browser.post(f"/account/businesses/{shop.id}/leave", {})
    assert response.status_code == 409
    assert "A business must always have an administrator" in response.text
    assert await runtime.businesses.membership(shop.id, owner.account_id) is not None


# --- acting for a business at sign-in ------------------------------------------------------------


async def _held_request(runtime: Runtime, browser: Browser) -> str:
    """A validated authorization request asking for the business scope, held by the gateway
    as a form post is; returns its id."""
    rp = await relying_party(runtime, await new_organisation(runtime), scope="openid business")
    form = request_params(rp, scope="openid business")
    response = browser.client.post("/authorize", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return parse_qs(urlsplit(response.headers["location"]).query)["request"][0]


def _choose(browser: Browser, request_id: str, acting_for: str) -> httpx.Response:
    browser.get(f"/authorize/business?request={request_id}")
    return browser.client.post(
        "/authorize/business",
        data={"csrf_token": browser.csrf, "request": request_id, "acting_for": acting_for},
        follow_redirects=False,
    )


async def test_a_member_chooses_their_business_and_the_choice_is_kept_on_the_request(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    request_id = await _held_request(runtime, browser)
    page = browser.get(f"/authorize/business?request={request_id}")
    assert page.status_code == 200 and shop.name in page.text and "For myself" in page.text

    response = _choose(browser, request_id, shop.id)
    assert response.status_code == 303
    assert response.headers["location"] == f"/authorize/resume?request={request_id}"
    held = await runtime.authorization.authorizer.pending(request_id)
    assert held is not None and held.acting_for == shop.id


async def test_choosing_for_myself_is_kept_as_personal(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    request_id = await _held_request(runtime, browser)
    assert _choose(browser, request_id, PERSONAL).status_code == 303
    held = await runtime.authorization.authorizer.pending(request_id)
    assert held is not None and held.acting_for == PERSONAL


async def test_acting_for_a_business_the_person_does_not_belong_to_is_refused(
    open_browser: OpenBrowser, runtime: Runtime, shop: Business
) -> None:
    outsider = await person(runtime)
    browser = _signed_in(open_browser, outsider)
    request_id = await _held_request(runtime, browser)
    for forged in (shop.id, "bus_" + "A" * 22, "", "x" * 500):
        response = _choose(browser, request_id, forged)
        assert response.status_code == 400, forged
        assert "Select who you are acting for" in response.text
        assert shop.name not in response.text
    held = await runtime.authorization.authorizer.pending(request_id)
    assert held is not None and held.acting_for is None


async def test_the_choice_needs_the_csrf_token_and_a_live_request(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    request_id = await _held_request(runtime, browser)
    forged = browser.client.post(
        "/authorize/business", data={"request": request_id, "acting_for": shop.id}
    )
    assert forged.status_code == 403
    held = await runtime.authorization.authorizer.pending(request_id)
    assert held is not None and held.acting_for is None
    gone = _choose(browser, "authz_" + "A" * 22, shop.id)
    assert gone.status_code == 400 and "authz_" not in gone.headers.get("location", "")


async def test_a_council_asking_for_the_business_scope_gets_a_code_for_the_chosen_business(
    open_browser: OpenBrowser, runtime: Runtime, owner: Person, shop: Business
) -> None:
    browser = _signed_in(open_browser, owner)
    rp = await relying_party(runtime, await new_organisation(runtime), scope="openid business")
    page = visit(browser, authorize_path(request_params(rp, scope="openid business")))
    assert is_page(page, "/authorize/business"), page.text[:500]
    form = {
        "csrf_token": browser.csrf,
        "request": page.url.params["request"],
        "acting_for": shop.id,
    }
    page = visit(browser, "/authorize/business", method="POST", data=form)
    answer = callback(answer_consent(browser, page, "allow"))
    grant = (await runtime.codes.redeem(answer["code"])).grant
    assert grant is not None
    assert grant.org == {"id": shop.id, "name": shop.name, "role": "administrator"}


async def test_a_person_without_businesses_is_not_asked_whom_they_act_for(
    open_browser: OpenBrowser, runtime: Runtime
) -> None:
    browser = _signed_in(open_browser, await person(runtime))
    rp = await relying_party(runtime, await new_organisation(runtime), scope="openid business")
    page = visit(browser, authorize_path(request_params(rp, scope="openid business")))
    assert is_page(page, "/authorize/consent"), page.text[:500]


# --- admin API -------------------------------------------------------------------------------


async def test_the_admin_api_lists_and_shows_businesses_with_an_admin_token_only(
    http: httpx.AsyncClient, admin_headers: dict[str, str], shop: Business, owner: Person
) -> None:
    assert (await http.get("/admin/v1/businesses")).status_code == 401
    forged = {"Authorization": "Bearer gcadm_forged"}
    assert (await http.get(f"/admin/v1/businesses/{shop.id}", headers=forged)).status_code == 401

    listed = (await http.get("/admin/v1/businesses?limit=1000", headers=admin_headers)).json()
    assert shop.id in {b["id"] for b in listed["businesses"]}
    shown = (await http.get(f"/admin/v1/businesses/{shop.id}", headers=admin_headers)).json()
    assert shown["name"] == shop.name
    assert [(m["account_id"], m["role"]) for m in shown["members"]] == [
        (owner.account_id, "administrator")
    ]
    missing = await http.get("/admin/v1/businesses/bus_" + "A" * 22, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:govconnect:problem:business-not-found"
