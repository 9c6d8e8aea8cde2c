"""New-message notifications: content-free, batched per person within the batch time, sent
once however many processes sweep, and repeated when a message is still unread."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gateway.runtime import Runtime
from tests.messaging.support import new_citizen, new_council, write_to
from tests.trust_levels.agents.support import signed_in_at
from trust_levels.models import CredentialStrength


async def _notifications(runtime: Runtime, email: str) -> list[str]:
    assert runtime.outbox is not None
    return [
        m.body for m in await runtime.outbox.for_recipient(email) if m.template == "new-message"
    ]


async def test_two_messages_make_one_content_free_notification_after_the_batch_time(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    first = await write_to(runtime, kit, citizen, "Secret detail one")
    await write_to(runtime, kit, citizen, "Secret detail two")
    messaging = runtime.messaging
    assert await messaging.sweep_notifications(first.message.sent_at) >= 0
    assert await _notifications(runtime, citizen.email) == [], "nothing before the batch is due"
    due = first.message.sent_at + messaging.settings.notify_batch
    # Several processes sweeping at once send the batch once.
    await asyncio.gather(*(messaging.sweep_notifications(due) for _ in range(4)))
    (body,) = await _notifications(runtime, citizen.email)
    assert "You have a new message from Anytown Council. Sign in to read it." in body
    assert "Secret detail" not in body and "council tax" not in body.lower()


async def test_a_message_still_unread_is_notified_again_and_a_read_one_is_not(
    runtime: Runtime,
) -> None:
    kit = await new_council(runtime)
    reader, ignorer = await new_citizen(runtime), await new_citizen(runtime)
    read = await write_to(runtime, kit, reader)
    unread = await write_to(runtime, kit, ignorer)
    messaging = runtime.messaging
    start = max(read.message.sent_at, unread.message.sent_at)
    await messaging.sweep_notifications(start + messaging.settings.notify_batch)
    assert len(await _notifications(runtime, ignorer.email)) == 1
    access = await messaging.as_citizen(reader.id, read.conversation.id)
    await messaging.open(access, signed_in_at(runtime.clock.now(), CredentialStrength.LOW))
    later = start + messaging.settings.notify_reminder
    await messaging.sweep_notifications(later + timedelta(seconds=1))
    assert len(await _notifications(runtime, reader.email)) == 1
    assert len(await _notifications(runtime, ignorer.email)) == 2
