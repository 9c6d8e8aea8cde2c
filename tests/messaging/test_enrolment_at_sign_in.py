"""Signing in to a council's website is what lets the council write to the person: the
authorization endpoint tells messaging, which remembers the pairwise ``sub`` the website got.
Before that sign-in the same ``sub`` names nobody the council can reach."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from gateway.runtime import Runtime
from messaging.errors import MessagingError
from messaging.models import Council, NewConversation, NewTeam, Recipient
from tests.gateway.authorize.support import (
    authorize_path,
    callback,
    relying_party,
    request_params,
    visit,
)
from tests.gateway.clients.support import new_organisation
from tests.support.accounts import create_account
from tests.support.web import Browser


async def test_a_council_can_write_to_a_person_once_they_signed_in_to_its_website(
    runtime: Runtime, open_browser: Callable[..., Browser]
) -> None:
    org_id = await new_organisation(runtime)
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=org_id, name="Housing team", service="housing"), "cli:pytest"
    )
    website = await relying_party(runtime, org_id, first_party=True)
    back_office = await relying_party(
        runtime, org_id, grant_types=["client_credentials"], redirect_uris=[], scope="messages"
    )
    browser = open_browser()
    create_account(browser)
    session = await runtime.sessions.load(browser.client.cookies.get("gc_session"))
    assert session is not None and session.account_id is not None
    sub = runtime.subjects.subject(website.client.sector_identifier, session.account_id)

    def letter() -> NewConversation:
        return NewConversation(
            team=team.id,
            to=Recipient(sub=sub),
            subject="Your housing application",
            reference="HO-1",
            body="We have received your application.",
        )

    council = Council(back_office.client_id, org_id)
    with pytest.raises(MessagingError):
        await runtime.messaging.send(council, letter(), [], secrets.token_hex(8))

    assert "code" in callback(visit(browser, authorize_path(request_params(website))))
    sent = await runtime.messaging.send(council, letter(), [], secrets.token_hex(8))
    assert not sent.replayed and sent.conversation.subject == "Your housing application"
