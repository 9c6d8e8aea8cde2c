"""The receiving organisations' API: each sees only the changes sent to it, with only its
fields; a question goes to the person's messages; anyone else is refused."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.moves.models import NewMove
from gateway.runtime import Runtime
from messaging.models import NewTeam
from tests.gateway.moves.support import (
    NEW_UPRN,
    OLD_UPRN,
    Office,
    address_schema,
    office,
    signed_in_at,
)
from tests.messaging.support import bearer, citizen_token, new_citizen, new_council
from trust_levels.models import CredentialStrength


@dataclass
class Scene:
    citizen: Account
    first: Office
    second: Office


@pytest.fixture
async def scene(http: httpx.AsyncClient, runtime: Runtime) -> Scene:
    """A move sent to two organisations that declare different fields."""
    tag = secrets.token_hex(3)
    first = await office(
        http, runtime, f"Council {tag}", address_schema("old_address", "new_address")
    )
    second = await office(
        http, runtime, f"Department {tag}", address_schema("email", "new_address")
    )
    citizen = await new_citizen(runtime)
    new = NewMove(
        old_uprn=OLD_UPRN, new_uprn=NEW_UPRN, moving_date=date.today() - timedelta(days=1)
    )
    move = await runtime.moves.report(citizen.id, new)
    await runtime.moves.consent(citizen.id, move.id, [first.org_id, second.org_id])
    await runtime.moves.send(citizen.id, move.id, signed_in_at(CredentialStrength.MEDIUM))
    return Scene(citizen, first, second)


async def test_each_organisation_lists_only_its_own_change_with_only_its_fields(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    listed = {}
    for o in (scene.first, scene.second):
        response = await http.get("/api/moves/v1/changes", headers=o.headers)
        assert response.status_code == 200, response.text
        (change,) = response.json()["changes"]
        assert set(change["body"]) == set(o.fields)
        assert change["service"] == o.service and change["status"] == "sent"
        listed[o.org_id] = change
    assert listed[scene.first.org_id]["sub"] != listed[scene.second.org_id]["sub"]
    assert (
        listed[scene.first.org_id]["submission_id"] != listed[scene.second.org_id]["submission_id"]
    )
    assert scene.citizen.email not in str(listed[scene.first.org_id])


async def test_a_question_reaches_the_persons_messages_under_the_envelopes_subject(
    http: httpx.AsyncClient, runtime: Runtime, scene: Scene
) -> None:
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=scene.first.org_id, name="Council Tax", service="council-tax"),
        "cli:pytest",
    )
    (change,) = (await http.get("/api/moves/v1/changes", headers=scene.first.headers)).json()[
        "changes"
    ]
    asked = await http.post(
        f"/api/moves/v1/changes/{change['submission_id']}/question",
        json={"team": team.id, "body": "Which flat at number 4?"},
        headers={**scene.first.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert asked.status_code == 201, asked.text
    inbox = await runtime.messaging.inbox(scene.citizen.id)
    assert asked.json()["conversation"] in {s.conversation.id for s in inbox}
    (again,) = (await http.get("/api/moves/v1/changes", headers=scene.first.headers)).json()[
        "changes"
    ]
    assert again["status"] == "question"


async def test_an_organisation_cannot_ask_about_anothers_change_or_guess_ids(
    http: httpx.AsyncClient, runtime: Runtime, scene: Scene
) -> None:
    team = await runtime.messaging.add_team(
        NewTeam(organisation_id=scene.first.org_id, name="Council Tax", service="council-tax"),
        "cli:pytest",
    )
    (theirs,) = (await http.get("/api/moves/v1/changes", headers=scene.second.headers)).json()[
        "changes"
    ]
    for submission_id in (theirs["submission_id"], "sbm_" + "A" * 22, "x" * 64):
        refused = await http.post(
            f"/api/moves/v1/changes/{submission_id}/question",
            json={"team": team.id, "body": "Who else did you tell?"},
            headers={**scene.first.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["type"] == "urn:govconnect:problem:change-not-found"


async def test_the_api_refuses_no_token_a_forged_token_and_a_persons_token(
    http: httpx.AsyncClient, runtime: Runtime, scene: Scene
) -> None:
    assert (await http.get("/api/moves/v1/changes")).status_code == 401
    forged = await http.get(
        "/api/moves/v1/changes", headers=bearer(scene.first.token[:-4] + "AAAA")
    )
    assert forged.status_code == 401
    kit = await new_council(runtime)
    person = await citizen_token(http, runtime, kit, scene.citizen)
    assert (await http.get("/api/moves/v1/changes", headers=bearer(person))).status_code == 401


async def test_an_oversized_or_malformed_question_is_refused(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    (change,) = (await http.get("/api/moves/v1/changes", headers=scene.first.headers)).json()[
        "changes"
    ]
    path = f"/api/moves/v1/changes/{change['submission_id']}/question"
    headers = {**scene.first.headers, "Idempotency-Key": str(uuid.uuid4())}
    for body in (
        {"team": "tm_x", "body": "x" * 5001},
        {"team": "tm_x"},
        {"team": "tm_x", "body": "?", "cc": "all"},
    ):
        assert (await http.post(path, json=body, headers=headers)).status_code == 422
