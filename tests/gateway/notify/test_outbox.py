"""The local outbox on the real store: each message is rendered and kept, read back newest
first (for everyone or one recipient), the stream stays capped, and a notification the
catalogue cannot render is refused and nothing is kept."""

from __future__ import annotations

import logging
import secrets

import pytest

from gateway.notify.errors import MissingPersonalisationError, UnknownTemplateError
from gateway.notify.models import Channel, Notification
from gateway.notify.outbox import LocalOutbox
from gateway.notify.store import OutboxStore, outbox_key
from gateway.runtime import Runtime
from tests.support.clock import MovableClock


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def stream() -> str:
    """A stream of the test's own, so tests sharing the session's Redis do not mix."""
    return f"test-{secrets.token_hex(6)}"


@pytest.fixture
def outbox(runtime: Runtime, clock: MovableClock, stream: str) -> LocalOutbox:
    return LocalOutbox(OutboxStore(runtime.redis, stream=stream), clock)


def code_email(to: str, code: str) -> Notification:
    return Notification(Channel.EMAIL, to, "sign-in-code", {"code": code})


async def test_a_message_is_rendered_and_kept(
    outbox: LocalOutbox, clock: MovableClock, email: str
) -> None:
    await outbox.send(code_email(email, "482913"))
    [message] = await outbox.latest(1)
    assert message.id.startswith("ntf_")
    assert message.time == clock.now()
    assert (message.channel, message.to, message.template) == (Channel.EMAIL, email, "sign-in-code")
    assert message.subject == "Your GovConnect security code"
    assert "\n482913\n" in message.body


async def test_a_text_message_is_kept_without_a_subject(outbox: LocalOutbox) -> None:
    await outbox.send(
        Notification(Channel.SMS, "07700900123", "new-message", {"sender": "Anytown"})
    )
    [message] = await outbox.latest(1)
    assert message.channel is Channel.SMS and message.subject is None
    assert message.body == "You have a new message from Anytown. Sign in to GovConnect to read it."


async def test_messages_are_read_newest_first(
    outbox: LocalOutbox, clock: MovableClock, email: str
) -> None:
    for code in ("111111", "222222", "333333"):
        await outbox.send(code_email(email, code))
        clock.advance(seconds=1)
    messages = await outbox.latest()
    assert ["333333" in m.body for m in messages] == [True, False, False]
    assert ["111111" in m.body for m in messages] == [False, False, True]
    assert [m.time for m in messages] == sorted((m.time for m in messages), reverse=True)
    assert len(await outbox.latest(2)) == 2


async def test_messages_for_one_recipient_match_without_regard_to_case(
    outbox: LocalOutbox, email: str
) -> None:
    other = "someone.else@example.gov.uk"
    await outbox.send(code_email(email, "111111"))
    await outbox.send(code_email(other, "999999"))
    await outbox.send(code_email(email.upper(), "222222"))
    mine = await outbox.for_recipient(email)
    assert ["222222" in m.body for m in mine] == [True, False]
    assert all(m.to.casefold() == email for m in mine)
    assert len(await outbox.for_recipient(email, limit=1)) == 1
    assert await outbox.for_recipient("nobody@example.gov.uk") == []


async def test_a_recipient_is_found_past_the_first_page(runtime: Runtime, stream: str) -> None:
    outbox = LocalOutbox(OutboxStore(runtime.redis, stream=stream), MovableClock())
    await outbox.send(code_email("early@example.gov.uk", "123456"))
    for index in range(450):
        await outbox.send(code_email(f"p{index}@example.gov.uk", "000000"))
    [found] = await outbox.for_recipient("early@example.gov.uk")
    assert "123456" in found.body


async def test_the_outbox_stays_capped(runtime: Runtime, stream: str) -> None:
    outbox = LocalOutbox(OutboxStore(runtime.redis, stream=stream, maxlen=10), MovableClock())
    for index in range(300):
        await outbox.send(code_email(f"p{index}@example.gov.uk", "000000"))
    # MAXLEN ~ trims whole stream nodes (100 entries each by default), never below the cap.
    assert 10 <= await runtime.redis.xlen(outbox_key(stream)) <= 110
    [newest] = await outbox.latest(1)
    assert newest.to == "p299@example.gov.uk"


def test_the_outbox_is_one_key_in_the_outbox_slot() -> None:
    assert outbox_key() == "{gc:outbox}:messages"


async def test_a_notification_that_cannot_be_rendered_is_refused_and_not_kept(
    outbox: LocalOutbox, email: str
) -> None:
    with pytest.raises(UnknownTemplateError):
        await outbox.send(Notification(Channel.EMAIL, email, "welcome", {}))
    with pytest.raises(MissingPersonalisationError, match=r"\(\(code\)\)"):
        await outbox.send(Notification(Channel.EMAIL, email, "verify-email", {}))
    assert await outbox.latest() == []


async def test_the_code_and_the_recipient_stay_out_of_the_log(
    outbox: LocalOutbox, email: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await outbox.send(code_email(email, "482913"))
    assert caplog.records, "the outbox logs each message it keeps"
    for record in caplog.records:
        logged = record.getMessage() + repr(vars(record))
        assert "482913" not in logged and email not in logged
