"""Sessions: new ids at sign-in, idle and absolute limits, ending one or all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.ids import new_id
from gateway.runtime import Runtime
from gateway.sessions.errors import SessionNotFoundError
from gateway.sessions.models import AuthMethod
from gateway.sessions.services import SessionService
from gateway.sessions.store import SessionStore, session_key
from tests.support.clock import MovableClock

IDLE, ABSOLUTE = 3600, 12 * 3600


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def sessions(runtime: Runtime, clock: MovableClock) -> SessionService:
    return SessionService(
        SessionStore(runtime.redis), clock, idle_seconds=IDLE, absolute_seconds=ABSOLUTE
    )


async def test_a_started_session_loads_by_its_cookie_value(sessions: SessionService) -> None:
    started = await sessions.start("192.0.2.1", "Firefox")
    loaded = await sessions.load(started.id)
    assert loaded is not None
    assert loaded.csrf_token == started.csrf_token and not loaded.signed_in


@pytest.mark.parametrize("cookie", [None, "", "nonsense", "x" * 500])
async def test_unknown_or_malformed_cookies_load_nothing(
    sessions: SessionService, cookie: str | None
) -> None:
    assert await sessions.load(cookie) is None


async def test_the_store_knows_a_session_only_by_the_hash_of_its_id(
    runtime: Runtime, sessions: SessionService
) -> None:
    session = await sessions.start("192.0.2.1", "Firefox")
    assert not await runtime.redis.exists(session_key(session.id))
    assert await runtime.redis.exists(session_key(session.handle))


async def test_signing_in_issues_a_new_id_and_kills_the_old_one(sessions: SessionService) -> None:
    anonymous = await sessions.start("192.0.2.1", "Firefox")
    signed_in = await sessions.sign_in(anonymous, new_id("acc"), [AuthMethod.PASSWORD])
    assert signed_in.id != anonymous.id and signed_in.csrf_token != anonymous.csrf_token
    assert await sessions.load(anonymous.id) is None
    assert (await sessions.load(signed_in.id)) is not None


async def test_a_step_up_keeps_earlier_factors_under_a_new_id(sessions: SessionService) -> None:
    account = new_id("acc")
    first = await sessions.sign_in(await sessions.start("ip", "ua"), account, [AuthMethod.PASSWORD])
    stepped = await sessions.sign_in(first, account, [AuthMethod.TOTP])
    assert stepped.methods() == {AuthMethod.PASSWORD, AuthMethod.TOTP}
    assert await sessions.load(first.id) is None


async def test_the_session_ends_after_the_idle_timeout(
    sessions: SessionService, clock: MovableClock
) -> None:
    session = await sessions.start("ip", "ua")
    clock.advance(seconds=IDLE - 10)
    assert await sessions.load(session.id) is not None
    clock.advance(seconds=IDLE + 1)
    assert await sessions.load(session.id) is None


async def test_the_session_ends_at_its_absolute_lifetime_even_when_active(
    sessions: SessionService, clock: MovableClock
) -> None:
    session = await sessions.start("ip", "ua")
    for _ in range(ABSOLUTE // (IDLE // 2)):
        clock.advance(seconds=IDLE // 2)
        if await sessions.load(session.id) is None:
            break
    else:
        pytest.fail("an active session outlived its absolute lifetime")
    assert clock.now() - session.created_at >= timedelta(seconds=ABSOLUTE)


async def test_ending_all_other_sessions_keeps_the_current_one(sessions: SessionService) -> None:
    account = new_id("acc")
    mine = await sessions.sign_in(await sessions.start("ip", "a"), account, [AuthMethod.PASSWORD])
    other = await sessions.sign_in(await sessions.start("ip", "b"), account, [AuthMethod.PASSWORD])
    assert await sessions.end_all(account, except_session=mine.id) == 1
    assert await sessions.load(mine.id) is not None
    assert await sessions.load(other.id) is None


async def test_the_sessions_list_marks_the_current_one_and_ends_by_handle(
    sessions: SessionService,
) -> None:
    account = new_id("acc")
    mine = await sessions.sign_in(await sessions.start("ip", "a"), account, [AuthMethod.PASSWORD])
    other = await sessions.sign_in(await sessions.start("ip", "b"), account, [AuthMethod.PASSWORD])
    listed = await sessions.list_for(account, mine)
    assert {(s.handle, s.current) for s in listed} == {(mine.handle, True), (other.handle, False)}
    await sessions.end_by_handle(account, other.handle)
    assert await sessions.load(other.id) is None


async def test_a_session_of_another_account_cannot_be_ended_by_handle(
    sessions: SessionService,
) -> None:
    victim = await sessions.sign_in(
        await sessions.start("ip", "a"), new_id("acc"), [AuthMethod.PASSWORD]
    )
    with pytest.raises(SessionNotFoundError):
        await sessions.end_by_handle(new_id("acc"), victim.handle)
    assert await sessions.load(victim.id) is not None


async def test_the_sid_and_relying_parties_survive_a_step_up_but_not_a_new_person(
    sessions: SessionService,
) -> None:
    account = new_id("acc")
    first = await sessions.sign_in(await sessions.start("ip", "a"), account, [AuthMethod.PASSWORD])
    first = await sessions.record_client(first, "cli_council")
    stepped = await sessions.sign_in(first, account, [AuthMethod.TOTP])
    assert stepped.sid == first.sid and stepped.clients == {"cli_council"}
    loaded = await sessions.load(stepped.id)
    assert loaded is not None and loaded.sid == first.sid and loaded.clients == {"cli_council"}
    someone_else = await sessions.sign_in(stepped, new_id("acc"), [AuthMethod.PASSWORD])
    assert someone_else.sid != first.sid and someone_else.clients == frozenset()


async def test_recording_a_client_on_an_ended_session_does_not_revive_it(
    sessions: SessionService,
) -> None:
    session = await sessions.sign_in(
        await sessions.start("ip", "a"), new_id("acc"), [AuthMethod.PASSWORD]
    )
    await sessions.end(session)
    await sessions.record_client(session, "cli_late")
    assert await sessions.load(session.id) is None
