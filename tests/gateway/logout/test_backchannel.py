"""Back-channel logout on the real store, delivered over real HTTP to a relying party's
endpoint (OpenID Connect Back-Channel Logout 1.0): however a sign-in ends, each relying party
it was handed to gets one form-encoded logout token, signed by the gateway, naming the sign-in
(sid) and the person as that party knows them (pairwise sub); a failing endpoint is retried
until it answers, a refusing one is given up on, and a step-up announces nothing."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator

import pytest

from gateway.clients.models import Client
from gateway.core.ids import new_id
from gateway.logout.delivery import BackchannelSender
from gateway.logout.services import BackchannelNotifier
from gateway.logout.store import LogoutQueueStore
from gateway.logout.worker import BackchannelWorker
from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod, Session
from gateway.sessions.services import SessionService
from gateway.sessions.store import SessionStore
from tests.conftest import TEST_ACTOR
from tests.gateway.logout.receiver import Receiver
from tests.gateway.logout.support import LOGOUT_EVENT, register_client, verified_logout_token
from tests.support.servers import free_port

_CONSUMERS = itertools.count(1)


@pytest.fixture
def store(runtime: Runtime) -> LogoutQueueStore:
    """A queue of the test's own, so the live gateways' workers never take its jobs."""
    return LogoutQueueStore(
        runtime.redis, issuer=runtime.settings.issuer, name=f"test-{secrets.token_hex(6)}"
    )


@pytest.fixture
def sessions(runtime: Runtime, store: LogoutQueueStore) -> SessionService:
    """Sessions announcing their end on the test's queue, as the runtime wires them."""
    return SessionService(
        SessionStore(runtime.redis),
        runtime.clock,
        idle_seconds=3600,
        absolute_seconds=43_200,
        on_end=(BackchannelNotifier(store, runtime.clock),),
    )


@pytest.fixture
async def worker(runtime: Runtime, store: LogoutQueueStore) -> AsyncIterator[BackchannelWorker]:
    """A worker without back-off, so each drain is the next attempt."""
    sender = BackchannelSender(
        runtime.clients,
        runtime.keys,
        runtime.subjects,
        runtime.clock,
        issuer=runtime.settings.issuer,
    )
    made = BackchannelWorker(
        store,
        sender,
        consumer=f"test-{next(_CONSUMERS)}",
        retry_base_seconds=0,
        retry_max_seconds=0,
        max_attempts=4,
    )
    yield made
    await made.close()


async def signed_in(sessions: SessionService, *clients: Client) -> Session:
    session = await sessions.sign_in(
        await sessions.start("192.0.2.1", "test"), new_id("acc"), [AuthMethod.PASSWORD]
    )
    for client in clients:
        session = await sessions.record_client(session, client.client_id)
    return session


async def test_a_relying_party_gets_a_signed_logout_token_for_the_sign_in(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    worker: BackchannelWorker,
) -> None:
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    session = await signed_in(sessions, client)
    assert session.account_id is not None
    await sessions.end(session)
    assert await worker.drain_once() == 1
    (received,) = await receiver.arrival(1)
    # §2.5: an HTTP POST, form-encoded, with the logout_token alone.
    assert received.content_type == "application/x-www-form-urlencoded"
    assert received.fields == ["logout_token"] and received.logout_token is not None
    token = verified_logout_token(received.logout_token, runtime.keys.jwks())
    assert token.header["typ"] == "logout+jwt" and token.header["alg"] == "ES256"
    claims = token.claims
    assert claims["iss"] == runtime.settings.issuer and claims["aud"] == client.client_id
    assert claims["sid"] == session.sid
    assert claims["sub"] == runtime.subjects.subject(client.sector_identifier, session.account_id)
    assert claims["events"] == {LOGOUT_EVENT: {}} and "nonce" not in claims
    assert abs(claims["iat"] - time.time()) < 30 and claims["exp"] - claims["iat"] == 120
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16


async def test_a_failing_endpoint_is_retried_until_it_answers(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    store: LogoutQueueStore,
    worker: BackchannelWorker,
) -> None:
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    receiver.answer(503, 500, 429)
    await sessions.end(await signed_in(sessions, client))
    for _ in range(4):
        await worker.drain_once()
    attempts = await receiver.arrival(4)
    assert len(attempts) == 4 and await store.length() == 0
    assert await store.dead_letters() == []
    # Each attempt is a fresh token (its own jti), never a replay of an expired one.
    assert (
        len(
            {
                verified_logout_token(a.logout_token or "", runtime.keys.jwks()).claims["jti"]
                for a in attempts
            }
        )
        == 4
    )


async def test_an_unreachable_endpoint_is_retried_then_given_up_on(
    runtime: Runtime,
    organisation_id: str,
    sessions: SessionService,
    store: LogoutQueueStore,
    worker: BackchannelWorker,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/backchannel-logout"
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=closed)
    await sessions.end(await signed_in(sessions, client))
    for _ in range(4):
        await worker.drain_once()
    (dead,) = await store.dead_letters()
    assert dead["attempts"] == "4" and "could not be reached" in dead["reason"]
    assert await store.length() == 0


async def test_a_refusal_is_not_retried(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    store: LogoutQueueStore,
    worker: BackchannelWorker,
) -> None:
    """§2.8: 400 means the relying party found the token invalid; resending cannot help."""
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    receiver.answer(400)
    await sessions.end(await signed_in(sessions, client))
    await worker.drain_once()
    await worker.drain_once()
    assert len(receiver.received) == 1
    (dead,) = await store.dead_letters()
    assert "400" in dead["reason"] and await store.length() == 0


async def test_clients_without_an_endpoint_or_disabled_are_not_called(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    store: LogoutQueueStore,
    worker: BackchannelWorker,
) -> None:
    silent = await register_client(runtime, organisation_id)
    disabled = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    await runtime.clients.disable(disabled.client_id, TEST_ACTOR)
    await sessions.end(await signed_in(sessions, silent, disabled))
    assert await worker.drain_once() == 2
    assert receiver.received == [] and await store.length() == 0


async def test_an_rs256_client_gets_an_rs256_logout_token(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    worker: BackchannelWorker,
) -> None:
    """§2.4: logout tokens are signed as the client's ID tokens are."""
    client = await register_client(
        runtime,
        organisation_id,
        backchannel_logout_uri=receiver.url,
        id_token_signed_response_alg="RS256",
    )
    await sessions.end(await signed_in(sessions, client))
    await worker.drain_once()
    (received,) = await receiver.arrival(1)
    token = verified_logout_token(received.logout_token or "", runtime.keys.jwks(), ["RS256"])
    assert token.header["alg"] == "RS256"


async def test_every_way_a_sign_in_ends_is_announced_and_a_step_up_is_not(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    store: LogoutQueueStore,
    worker: BackchannelWorker,
) -> None:
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    first = await signed_in(sessions, client)
    assert first.account_id is not None
    stepped = await sessions.sign_in(first, first.account_id, [AuthMethod.TOTP])
    assert await store.length() == 0, "a step-up keeps the sign-in"

    second = await sessions.sign_in(
        await sessions.start("192.0.2.2", "test"), first.account_id, [AuthMethod.PASSWORD]
    )
    second = await sessions.record_client(second, client.client_id)
    third = await sessions.record_client(
        await sessions.sign_in(
            await sessions.start("192.0.2.3", "test"), first.account_id, [AuthMethod.PASSWORD]
        ),
        client.client_id,
    )
    await sessions.end_by_handle(first.account_id, second.handle)  # "end another session"
    assert await sessions.end_all(first.account_id, except_session=stepped.id) == 1
    someone_else = await sessions.sign_in(stepped, new_id("acc"), [AuthMethod.PASSWORD])
    assert someone_else.sid != stepped.sid
    await worker.drain_once()
    received = await receiver.arrival(3)
    sids = {
        verified_logout_token(r.logout_token or "", runtime.keys.jwks()).claims["sid"]
        for r in received
    }
    assert sids == {stepped.sid, second.sid, third.sid}


async def test_a_session_that_was_never_handed_to_a_relying_party_queues_nothing(
    sessions: SessionService, store: LogoutQueueStore
) -> None:
    await sessions.end(await signed_in(sessions))
    assert await store.length() == 0


async def test_a_job_left_by_a_stopped_worker_is_delivered_by_another(
    runtime: Runtime,
    organisation_id: str,
    receiver: Receiver,
    sessions: SessionService,
    store: LogoutQueueStore,
) -> None:
    """A worker killed between reading a job and settling it leaves the job pending; once idle
    for the claim time, another worker takes it (XAUTOCLAIM) and delivers it."""
    client = await register_client(runtime, organisation_id, backchannel_logout_uri=receiver.url)
    await sessions.end(await signed_in(sessions, client))
    await store.ensure_group()
    (taken,) = await store.read_new("a-worker-that-was-killed", 10, None)
    sender = BackchannelSender(
        runtime.clients,
        runtime.keys,
        runtime.subjects,
        runtime.clock,
        issuer=runtime.settings.issuer,
    )
    survivor = BackchannelWorker(
        store,
        sender,
        consumer="survivor",
        retry_base_seconds=0.1,
        retry_max_seconds=0.1,
        claim_idle_seconds=0.2,
    )
    try:
        assert await survivor.drain_once() == 0  # not idle long enough yet
        await asyncio.sleep(0.3)
        assert await survivor.drain_once() == 1
    finally:
        await survivor.close()
    await receiver.arrival(1)
    assert await store.length() == 0 and await store.deliveries(taken.id) == 0
