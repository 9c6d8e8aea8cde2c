"""Pull delivery, Transaction Engine style (DESIGN.md §3.4): the recipient lists what waits
after a cursor, fetches the envelope, acknowledges with a JWS signed by its own registered
key (kept as proof of receipt; a forged one refused), and answers with a business response
that the sender reads with the whole timeline."""

from __future__ import annotations

import httpx

from gateway.delivery.envelope import open_envelope
from gateway.runtime import Runtime
from tests.gateway.delivery.support import Exchange, acknowledgement, exchange, submit
from tests.gateway.tokens.support import new_ec_key


async def _submitted(http: httpx.AsyncClient, ex: Exchange) -> dict[str, str]:
    response = await submit(http, ex.sender.headers, ex.request())
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_the_recipient_pulls_acknowledges_and_answers_and_the_sender_sees_it_all(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    first, second = await _submitted(http, ex), await _submitted(http, ex)
    inbox = (await http.get("/api/v1/inbox", headers=ex.recipient.headers)).json()
    assert [s["id"] for s in inbox["submissions"]] == [first["id"], second["id"]]
    assert inbox["poll_interval"] > 0
    after = await http.get(
        "/api/v1/inbox",
        params={"after": inbox["submissions"][0]["cursor"]},
        headers=ex.recipient.headers,
    )
    assert [s["id"] for s in after.json()["submissions"]] == [second["id"]]

    fetched = await http.get(
        f"/api/v1/submissions/{first['id']}/envelope", headers=ex.recipient.headers
    )
    opened = open_envelope(fetched.json(), (await http.get("/.well-known/jwks.json")).json())
    assert opened.payload_sha256 == first["payload_sha256"]

    issuer = runtime.settings.issuer
    ack = acknowledgement(ex.recipient.kit, issuer, first["id"], opened.payload_sha256)
    acked = await http.post(
        f"/api/v1/submissions/{first['id']}/acknowledgement",
        json={"acknowledgement": ack},
        headers=ex.recipient.headers,
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    inbox = (await http.get("/api/v1/inbox", headers=ex.recipient.headers)).json()
    assert [s["id"] for s in inbox["submissions"]] == [second["id"]]

    answered = await http.post(
        f"/api/v1/submissions/{first['id']}/response",
        json={"outcome": "accepted", "case_reference": "PP-2024-0042"},
        headers=ex.recipient.headers,
    )
    assert answered.status_code == 200, answered.text

    view = (await http.get(f"/api/v1/submissions/{first['id']}", headers=ex.sender.headers)).json()
    assert view["state"] == "responded"
    assert view["response"]["case_reference"] == "PP-2024-0042"
    assert view["acknowledgement"] == ack
    events = [e["event"] for e in view["timeline"]]
    assert events == ["accepted", "queued", "delivered", "acknowledged", "responded"]
    assert (await runtime.evidence.verify()).ok


async def test_an_acknowledgement_that_overtakes_delivery_marks_it_delivered_first(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    """A pushed recipient can acknowledge before the worker has noted the push's 2xx: the
    signed acknowledgement proves delivery, so the timeline never skips ``delivered``."""
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    ack = acknowledgement(
        ex.recipient.kit, runtime.settings.issuer, sent["id"], sent["payload_sha256"]
    )
    acked = await http.post(
        f"/api/v1/submissions/{sent['id']}/acknowledgement",
        json={"acknowledgement": ack},
        headers=ex.recipient.headers,
    )
    assert acked.status_code == 200, acked.text
    view = (await http.get(f"/api/v1/submissions/{sent['id']}", headers=ex.sender.headers)).json()
    assert [e["event"] for e in view["timeline"]] == [
        "accepted",
        "queued",
        "delivered",
        "acknowledged",
    ]
    assert view["timeline"][2]["via"] == "acknowledgement"
    assert (await runtime.evidence.verify()).ok


async def test_an_acknowledgement_signed_with_another_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    forged = acknowledgement(
        ex.recipient.kit,
        runtime.settings.issuer,
        sent["id"],
        sent["payload_sha256"],
        key=new_ec_key(),
    )
    response = await http.post(
        f"/api/v1/submissions/{sent['id']}/acknowledgement",
        json={"acknowledgement": forged},
        headers=ex.recipient.headers,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:govconnect:problem:invalid-acknowledgement"
    view = await http.get(f"/api/v1/submissions/{sent['id']}", headers=ex.sender.headers)
    assert view.json()["state"] == "queued" and view.json()["acknowledgement"] is None


async def test_an_acknowledgement_of_other_content_or_by_the_sender_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    issuer = runtime.settings.issuer
    path = f"/api/v1/submissions/{sent['id']}/acknowledgement"
    wrong_digest = acknowledgement(ex.recipient.kit, issuer, sent["id"], "0" * 64)
    response = await http.post(
        path, json={"acknowledgement": wrong_digest}, headers=ex.recipient.headers
    )
    assert response.status_code == 400
    assert response.json()["claims"] == ["payload_sha256"]
    # The sender's own client, validly signed, is not the recipient.
    by_sender = acknowledgement(ex.sender.kit, issuer, sent["id"], sent["payload_sha256"])
    response = await http.post(path, json={"acknowledgement": by_sender}, headers=ex.sender.headers)
    assert response.status_code == 404


async def test_a_response_needs_the_acknowledgement_first_and_stands_once_given(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    path = f"/api/v1/submissions/{sent['id']}"
    early = await http.post(
        f"{path}/response",
        json={"outcome": "rejected", "reasons": ["no proof of address"]},
        headers=ex.recipient.headers,
    )
    assert early.status_code == 400
    ack = acknowledgement(
        ex.recipient.kit, runtime.settings.issuer, sent["id"], sent["payload_sha256"]
    )
    await http.post(
        f"{path}/acknowledgement", json={"acknowledgement": ack}, headers=ex.recipient.headers
    )
    rejected = {"outcome": "rejected", "reasons": ["no proof of address"]}
    first = await http.post(f"{path}/response", json=rejected, headers=ex.recipient.headers)
    assert first.status_code == 200
    second = await http.post(
        f"{path}/response", json={"outcome": "accepted"}, headers=ex.recipient.headers
    )
    assert second.status_code == 400
    view = (await http.get(path, headers=ex.sender.headers)).json()
    assert view["response"]["outcome"] == "rejected"


async def test_a_rejection_without_reasons_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    response = await http.post(
        f"/api/v1/submissions/{sent['id']}/response",
        json={"outcome": "rejected"},
        headers=ex.recipient.headers,
    )
    assert response.status_code == 422


async def test_the_sender_cannot_fetch_the_envelope_meant_for_the_recipient(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    sent = await _submitted(http, ex)
    response = await http.get(
        f"/api/v1/submissions/{sent['id']}/envelope", headers=ex.sender.headers
    )
    assert response.status_code == 404


async def test_a_cursor_the_api_did_not_give_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    response = await http.get(
        "/api/v1/inbox", params={"after": "+ or 1=1"}, headers=ex.recipient.headers
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:govconnect:problem:invalid-cursor"
