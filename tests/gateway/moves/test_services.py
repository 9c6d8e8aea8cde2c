"""Tell Us Once's domain rules on the real store and the real delivery engine: consent per
organisation, data minimisation, distinct pairwise subjects, withdrawal before sending, the
evidence log, progress from the organisations' answers and the one confirmation."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.delivery.envelope import open_envelope
from gateway.delivery.models import BusinessResponse, ResponseOutcome, Sender
from gateway.moves.errors import (
    AddressNotFoundError,
    ChangeNotFoundError,
    InvalidMoveError,
    MoveAlreadySentError,
    MoveNotFoundError,
    OrganisationNotOfferedError,
)
from gateway.moves.models import Move, NewMove, NewQuestion, Status
from gateway.runtime import Runtime
from messaging.errors import TeamNotFoundError
from tests.gateway.delivery.support import acknowledgement
from tests.gateway.moves.support import (
    BROOKFIELD,
    HOLLOWMERE,
    NEW_UPRN,
    OLD_UPRN,
    Office,
    address_schema,
    office,
    signed_in_at,
)
from tests.messaging.support import new_citizen
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength

MEDIUM = CredentialStrength.MEDIUM


async def _report(runtime: Runtime, citizen: Account, **overrides: Any) -> Move:
    new = NewMove(
        old_uprn=overrides.get("old_uprn", OLD_UPRN),
        new_uprn=overrides.get("new_uprn", NEW_UPRN),
        moving_date=overrides.get("moving_date", date.today() - timedelta(days=3)),
        people=overrides.get("people", ("Sam Lovelace",)),
    )
    return await runtime.moves.report(citizen.id, new)


async def _three(http: httpx.AsyncClient, runtime: Runtime) -> list[Office]:
    tag = secrets.token_hex(3)
    return [
        await office(
            http,
            runtime,
            f"Council Tax {tag}",
            address_schema("old_address", "new_address", "moving_date"),
        ),
        await office(
            http,
            runtime,
            f"Electoral Roll {tag}",
            address_schema("full_name", "new_address", "people_moving", required=("new_address",)),
        ),
        await office(
            http, runtime, f"Vehicle Licensing {tag}", address_schema("email", "new_address")
        ),
    ]


def _content(runtime: Runtime, stored: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    opened = open_envelope(stored.envelope, runtime.keys.jwks())
    return opened.content, opened.facts


async def _evidence(runtime: Runtime, move_id: str) -> list[dict[str, Any]]:
    """Every entry about the move, walking the log page by page."""
    found: list[dict[str, Any]] = []
    after = 0
    while page := await runtime.evidence.entries(after, 1000):
        found.extend(e for e in page if e["subject"] == move_id)
        after = int(str(page[-1]["seq"]))
    return found


async def test_each_organisation_receives_only_its_declared_fields_signed_with_a_distinct_subject(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    offices = await _three(http, runtime)
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [o.org_id for o in offices])

    view = await runtime.moves.send(citizen.id, move.id, signed_in_at(MEDIUM))

    assert [p.status for p in view.progress] == [Status.SENT] * 3
    subjects = set()
    for o in offices:
        notice = next(p.notice for p in view.progress if p.notice.organisation_id == o.org_id)
        assert notice.submission_id is not None
        stored = await runtime.delivery.submissions.stored(notice.submission_id)
        assert stored is not None and stored.submission.recipient_org == o.org_id
        content, facts = _content(runtime, stored)
        assert "new_address" in content["body"] and set(content["body"]) <= set(o.fields)
        assert content["recipient"] == {"organisation": o.org_id}
        text = json.dumps([content, facts])
        assert not any(x.org_id in text or x.service in text for x in offices if x is not o), (
            "no organisation learns which others were told"
        )
        assert move.id not in text and citizen.id not in text
        assert (citizen.email in text) == ("email" in o.fields)
        subjects.add(facts["subject"]["sub"])
    assert len(subjects) == 3, "each organisation knows the person by a subject of its own"


async def test_a_consent_withdrawn_before_sending_stops_that_organisations_copy(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    kept, dropped, _ = await _three(http, runtime)
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [kept.org_id, dropped.org_id])
    await runtime.moves.withdraw(citizen.id, move.id, dropped.org_id)

    view = await runtime.moves.send(citizen.id, move.id, signed_in_at(MEDIUM))

    statuses = {p.notice.organisation_id: p.status for p in view.progress}
    assert statuses == {kept.org_id: Status.SENT, dropped.org_id: Status.WITHDRAWN}
    assert await runtime.moves.changes(dropped.org_id) == []
    assert [c.status for c in await runtime.moves.changes(kept.org_id)] == [Status.SENT]
    with pytest.raises(MoveAlreadySentError):
        await runtime.moves.withdraw(citizen.id, move.id, kept.org_id)
    with pytest.raises(MoveAlreadySentError):
        await runtime.moves.consent(citizen.id, move.id, [dropped.org_id])


async def test_the_evidence_log_records_each_consent_withdrawal_and_disclosure(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    first, second, third = await _three(http, runtime)
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [first.org_id, second.org_id, third.org_id])
    await runtime.moves.withdraw(citizen.id, move.id, third.org_id)
    view = await runtime.moves.send(citizen.id, move.id, signed_in_at(MEDIUM))

    entries = await _evidence(runtime, move.id)
    actions = [(e["action"], e["details"].get("organisation")) for e in entries]
    assert ("move.consent.given", first.org_id) in actions
    assert ("move.consent.given", second.org_id) in actions
    assert ("move.consent.given", third.org_id) in actions
    assert ("move.consent.withdrawn", third.org_id) in actions
    disclosed = {
        e["details"]["organisation"]: e["details"]
        for e in entries
        if e["action"] == "move.disclosed"
    }
    assert set(disclosed) == {first.org_id, second.org_id}
    for p in view.progress:
        if p.notice.submission_id is not None:
            record = disclosed[p.notice.organisation_id]
            assert record["submission"] == p.notice.submission_id
            assert record["fields"] == list(p.notice.fields)
            assert record["purpose"] == p.notice.purpose
    assert all(
        e["actor"] == f"account:{citizen.id}" for e in entries if e["action"] != "move.confirmed"
    )


async def test_councils_are_suggested_from_the_uprns_local_authorities(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    old_council = await office(
        http,
        runtime,
        "Brookfield Council",
        address_schema("old_address", "new_address"),
        code=BROOKFIELD,
    )
    new_council = await office(
        http,
        runtime,
        "Hollowmere Council",
        address_schema("old_address", "new_address"),
        code=HOLLOWMERE,
    )
    department = await office(
        http, runtime, "Department " + secrets.token_hex(3), address_schema("new_address")
    )
    move = await _report(runtime, citizen)

    offers = {o.organisation_id: o for o in await runtime.moves.offers(move)}

    assert offers[old_council.org_id].suggested and offers[new_council.org_id].suggested
    assert not offers[department.org_id].suggested
    ranked = [o.organisation_id for o in await runtime.moves.offers(move)]
    assert ranked.index(department.org_id) > ranked.index(new_council.org_id)


async def test_a_service_requiring_a_field_the_hub_cannot_fill_is_not_offered(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    unusable = await office(
        http, runtime, "Needs NI number", address_schema("new_address", "national_insurance_number")
    )
    move = await _report(runtime, citizen)

    assert unusable.org_id not in {o.organisation_id for o in await runtime.moves.offers(move)}
    with pytest.raises(OrganisationNotOfferedError):
        await runtime.moves.consent(citizen.id, move.id, [unusable.org_id])


async def test_another_persons_move_answers_as_a_missing_one(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    owner, intruder = await new_citizen(runtime), await new_citizen(runtime)
    (council, *_) = await _three(http, runtime)
    move = await _report(runtime, owner)

    for attempt in (
        runtime.moves.own(intruder.id, move.id),
        runtime.moves.consent(intruder.id, move.id, [council.org_id]),
        runtime.moves.withdraw(intruder.id, move.id, council.org_id),
        runtime.moves.send(intruder.id, move.id, signed_in_at(MEDIUM)),
        runtime.moves.own(owner.id, "mov_" + "A" * 22),
        runtime.moves.own(owner.id, "../../etc"),
    ):
        with pytest.raises(MoveNotFoundError):
            await attempt


async def test_sending_needs_the_services_level(http: httpx.AsyncClient, runtime: Runtime) -> None:
    citizen = await new_citizen(runtime)
    (council, *_) = await _three(http, runtime)
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [council.org_id])

    with pytest.raises(PolicyNotMetError):
        await runtime.moves.send(citizen.id, move.id, signed_in_at(CredentialStrength.LOW))
    assert await runtime.moves.changes(council.org_id) == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"new_uprn": OLD_UPRN}, ValueError),
        ({"new_uprn": "999999999999"}, AddressNotFoundError),
        ({"moving_date": date.today() + timedelta(days=400)}, InvalidMoveError),
        ({"moving_date": date.today() - timedelta(days=800)}, InvalidMoveError),
        ({"people": ("x" * 101,)}, ValueError),
        ({"old_uprn": "1' OR 1=1"}, ValueError),
    ],
)
async def test_an_impossible_move_is_refused(
    runtime: Runtime, overrides: dict[str, Any], error: type[Exception]
) -> None:
    citizen = await new_citizen(runtime)
    with pytest.raises(error):
        await _report(runtime, citizen, **overrides)


async def test_answers_become_statuses_and_one_confirmation_reaches_the_inbox(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    citizen = await new_citizen(runtime)
    offices = await _three(http, runtime)
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [o.org_id for o in offices])
    view = await runtime.moves.send(citizen.id, move.id, signed_in_at(MEDIUM))
    submissions = runtime.delivery.submissions

    for o in offices:
        (change,) = await runtime.moves.changes(o.org_id)
        recipient = Sender(o.kit.client_id, o.org_id)
        stored = await submissions.stored(change.submission_id)
        assert stored is not None
        await submissions.fetch(recipient, change.submission_id)
        token = acknowledgement(
            o.kit, runtime.settings.issuer, change.submission_id, stored.submission.payload_sha256
        )
        await submissions.acknowledge(recipient, change.submission_id, token)
        assert (await runtime.moves.progress(citizen.id, move.id)).move.state.value == "sent"
        await submissions.respond(
            recipient,
            change.submission_id,
            BusinessResponse(outcome=ResponseOutcome.ACCEPTED, case_reference=f"REF-{o.name[:3]}"),
        )

    view = await runtime.moves.progress(citizen.id, move.id)
    assert [p.status for p in view.progress] == [Status.UPDATED] * 3
    assert view.move.state.value == "confirmed"
    await runtime.moves.progress(citizen.id, move.id)  # looking again sends nothing more
    inbox = [
        s
        for s in await runtime.messaging.inbox(citizen.id)
        if s.conversation.subject == "Your change of address"
    ]
    assert len(inbox) == 1


async def test_an_organisation_asks_only_about_its_own_change(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    from messaging.models import NewTeam

    citizen = await new_citizen(runtime)
    asking, other, _ = await _three(http, runtime)
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=asking.org_id, name="Council Tax team", service="council-tax"),
        "cli:pytest",
    )
    move = await _report(runtime, citizen)
    await runtime.moves.consent(citizen.id, move.id, [asking.org_id, other.org_id])
    await runtime.moves.send(citizen.id, move.id, signed_in_at(MEDIUM))
    (mine,) = await runtime.moves.changes(asking.org_id)
    (theirs,) = await runtime.moves.changes(other.org_id)
    caller = Sender(asking.kit.client_id, asking.org_id)
    question = NewQuestion(team=team.id, body="Is the flat number 2 or 2A?")

    with pytest.raises(ChangeNotFoundError):
        await runtime.moves.ask(
            caller, theirs.submission_id, question, "key-" + secrets.token_hex(6)
        )
    with pytest.raises(TeamNotFoundError):
        other_team = NewQuestion(team="tm_" + "B" * 22, body="?")
        await runtime.moves.ask(
            caller, mine.submission_id, other_team, "key-" + secrets.token_hex(6)
        )
    sent = await runtime.moves.ask(
        caller, mine.submission_id, question, "key-" + secrets.token_hex(6)
    )

    assert sent.conversation.owner.id == citizen.id
    view = await runtime.moves.progress(citizen.id, move.id)
    statuses = {p.notice.organisation_id: p.status for p in view.progress}
    assert statuses == {asking.org_id: Status.QUESTION, other.org_id: Status.SENT}
