"""Secure messaging's service on the real store: envelope encryption at rest, read receipts,
the council's and the citizen's sides, levels, and who may read what."""

from __future__ import annotations

import base64
import secrets

import pytest

from gateway.core.secretbox import UnsealError
from gateway.runtime import Runtime
from messaging.crypto import wrapped_kid
from messaging.errors import (
    AttachmentRefusedError,
    IdempotencyConflictError,
    MessageNotFoundError,
    RecipientNotFoundError,
)
from messaging.models import Council, NewConversation, NewReply, Recipient, Side, Upload
from messaging.store import GUESSED_MESSAGES, message_key
from tests.messaging.support import PDF, new_citizen, new_council, new_staff, write_to
from tests.trust_levels.agents.support import SERVICE, accepted, agency, signed_in_at, staff
from tests.trust_levels.businesses.support import person
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength

MEDIUM = CredentialStrength.MEDIUM
LOW = CredentialStrength.LOW


async def test_a_citizen_reads_the_councils_message_and_the_council_sees_it_was_opened(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(
        runtime, kit, citizen, "Your bill is £1,234.", uploads=[Upload("bill.pdf", PDF)]
    )
    messaging = runtime.messaging
    access = await messaging.as_citizen(citizen.id, sent.conversation.id)
    thread = await messaging.open(access, signed_in_at(runtime.clock.now(), LOW))
    (message,) = thread.messages
    assert message.body == "Your bill is £1,234."
    assert [a.filename for a in message.attachments] == ["bill.pdf"]
    assert message.meta.read_at is not None and message.meta.read_by == f"account:{citizen.id}"
    council = await messaging.open(
        await messaging.as_council(kit.council, sent.conversation.id), None
    )
    assert council.messages[0].meta.read_at == message.meta.read_at


async def test_one_open_sets_every_receipt_and_the_inbox_counts_them_read(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen, "First letter.")
    messaging = runtime.messaging
    await messaging.council_reply(
        kit.council, sent.conversation.id, NewReply(body="Second letter."), [], "key-2nd-letter"
    )
    [before] = [
        s for s in await messaging.inbox(citizen.id) if s.conversation.id == sent.conversation.id
    ]
    assert before.unread == 2
    access = await messaging.as_citizen(citizen.id, sent.conversation.id)
    thread = await messaging.open(access, signed_in_at(runtime.clock.now(), LOW))
    assert [m.body for m in thread.messages] == ["First letter.", "Second letter."]
    assert {m.meta.read_by for m in thread.messages} == {f"account:{citizen.id}"}
    [after] = [
        s for s in await messaging.inbox(citizen.id) if s.conversation.id == sent.conversation.id
    ]
    assert after.unread == 0
    council = await messaging.open(
        await messaging.as_council(kit.council, sent.conversation.id), None
    )
    assert [m.meta.read_at for m in council.messages] == [m.meta.read_at for m in thread.messages]


async def test_a_conversation_opened_again_shows_every_message_written_since(
    runtime: Runtime,
) -> None:
    """The store remembers which keys it read (the team, the first message ids) as a guess
    for the next read: messages written after it, and more than it keeps, are read too."""
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen, "Letter 0")
    messaging = runtime.messaging
    bodies = ["Letter 0"]
    for n in range(1, GUESSED_MESSAGES + 3):
        opened = await messaging.open(
            await messaging.as_council(kit.council, sent.conversation.id), None
        )
        assert [m.body for m in opened.messages] == bodies
        assert opened.team == kit.team
        bodies.append(f"Letter {n}")
        await messaging.council_reply(
            kit.council, sent.conversation.id, NewReply(body=bodies[-1]), [], f"key-letter-{n}"
        )
    access = await messaging.as_citizen(citizen.id, sent.conversation.id)
    thread = await messaging.open(access, signed_in_at(runtime.clock.now(), LOW))
    assert [m.body for m in thread.messages] == bodies


async def test_a_citizens_reply_reaches_the_team_and_staff_opening_it_is_logged(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    staff = await new_staff(runtime, kit)
    sent = await write_to(runtime, kit, citizen)
    messaging, now = runtime.messaging, runtime.clock.now()
    access = await messaging.as_citizen(citizen.id, sent.conversation.id)
    await messaging.reply(
        access, "Can I pay monthly?", [Upload("proof.pdf", PDF)], signed_in_at(now, LOW)
    )
    summaries = await messaging.team_inbox(staff.id)
    mine = next(s for s in summaries if s.conversation.id == sent.conversation.id)
    assert mine.unread == 1
    thread = await messaging.open(
        await messaging.as_staff(staff.id, sent.conversation.id), signed_in_at(now, MEDIUM)
    )
    assert [m.meta.side for m in thread.messages] == [Side.COUNCIL, Side.CITIZEN]
    assert thread.messages[1].body == "Can I pay monthly?"
    entries = await runtime.evidence.entries(0, 100_000)
    reads = [
        e for e in entries if e["action"] == "message.read" and e["subject"] == sent.conversation.id
    ]
    assert reads and reads[-1]["actor"] == f"account:{staff.id}"
    assert "Can I pay monthly?" not in str(entries)


async def test_no_body_or_attachment_is_in_redis_in_the_clear(runtime: Runtime) -> None:
    """Scans every key of every type after sending known text and a known file."""
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    marker = "zebra-" + secrets.token_hex(8)
    attachment = PDF + f"secret attachment {marker}-pdf".encode()
    await write_to(
        runtime, kit, citizen, f"Body text {marker}", uploads=[Upload("x.pdf", attachment)]
    )
    needles = [marker.encode(), base64.b64encode(marker.encode())[:12]]
    redis, seen = runtime.redis, 0
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        values: list[object]
        if kind == "string":
            values = [await redis.get(key)]
        elif kind == "hash":
            values = list((await redis.hgetall(key)).values())
        elif kind == "list":
            values = list(await redis.lrange(key, 0, -1))
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = list(await redis.zrange(key, 0, -1))
        elif kind == "stream":
            values = [str(entry) for entry in await redis.xrange(key) or []]
        else:
            values = []
        seen += 1
        for value in values:
            text = str(value).encode()
            assert not any(needle in text for needle in needles), f"plaintext in {key}"
    assert seen > 0


async def test_a_ciphertext_moved_to_another_message_fails_to_open(runtime: Runtime) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    first = await write_to(runtime, kit, citizen, "first message")
    second = await write_to(runtime, kit, citizen, "second message")
    source = message_key(first.conversation.id, first.message.id)
    target = message_key(second.conversation.id, second.message.id)
    body, key = await runtime.redis.hmget(source, ["body", "key"])
    # The sealed body alone, then the sealed body with its wrapped data key.
    await runtime.redis.hset(target, "body", body)
    access = await runtime.messaging.as_council(kit.council, second.conversation.id)
    with pytest.raises(UnsealError):
        await runtime.messaging.open(access, None)
    await runtime.redis.hset(target, "key", key)
    with pytest.raises(UnsealError):
        await runtime.messaging.open(access, None)


async def test_kek_rotation_rewraps_data_keys_and_every_message_still_opens(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = [await write_to(runtime, kit, citizen, f"message {n}") for n in range(3)]
    names = [message_key(s.conversation.id, s.message.id) for s in sent]
    before = [await runtime.redis.hmget(n, ["key", "body"]) for n in names]
    messaging = runtime.messaging
    new_kid = messaging.ring.rotate()
    assert (await messaging.rewrap()).rewrapped >= 3
    after = [await runtime.redis.hmget(n, ["key", "body"]) for n in names]
    for (old_key, old_body), (key, body) in zip(before, after, strict=True):
        assert body == old_body, "rotation never touches a body"
        assert key != old_key and wrapped_kid(str(key)) == new_kid
    for n, s in enumerate(sent):
        thread = await messaging.open(
            await messaging.as_council(kit.council, s.conversation.id), None
        )
        assert thread.messages[0].body == f"message {n}"


async def test_when_retention_ends_the_message_is_destroyed_data_key_first(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen, "short-lived")
    name = message_key(sent.conversation.id, sent.message.id)
    messaging = runtime.messaging
    destroyed = await messaging.sweep_retention(sent.message.destroy_at)
    assert destroyed >= 1
    fields = await runtime.redis.hgetall(name)
    assert "key" not in fields and "body" not in fields and "destroyed_at" in fields
    assert not any(str(f).startswith("att:") for f in fields)
    council = await messaging.open(
        await messaging.as_council(kit.council, sent.conversation.id), None
    )
    assert council.messages[0].body is None and council.messages[0].meta.destroyed
    with pytest.raises(MessageNotFoundError):
        access = await messaging.as_citizen(citizen.id, sent.conversation.id)
        await messaging.open(access, signed_in_at(runtime.clock.now(), MEDIUM))


async def test_a_message_demanding_cl_cm_is_refused_to_a_password_only_session(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen, "about your benefit", level="Cl.Cm")
    access = await runtime.messaging.as_citizen(citizen.id, sent.conversation.id)
    now = runtime.clock.now()
    with pytest.raises(PolicyNotMetError) as refused:
        await runtime.messaging.open(access, signed_in_at(now, LOW))
    assert refused.value.shortfall.credential is MEDIUM
    thread = await runtime.messaging.open(access, signed_in_at(now, MEDIUM))
    assert thread.messages[0].body == "about your benefit"


async def test_another_citizen_another_team_and_guessed_ids_all_get_not_found(
    runtime: Runtime,
) -> None:
    kit, other_kit = await new_council(runtime), await new_council(runtime)
    citizen, stranger = await new_citizen(runtime), await new_citizen(runtime)
    other_staff = await new_staff(runtime, other_kit)
    sent = await write_to(runtime, kit, citizen, "private", uploads=[Upload("a.pdf", PDF)])
    messaging = runtime.messaging
    with pytest.raises(MessageNotFoundError):
        await messaging.as_citizen(stranger.id, sent.conversation.id)
    with pytest.raises(MessageNotFoundError):
        await messaging.as_staff(other_staff.id, sent.conversation.id)
    with pytest.raises(MessageNotFoundError):
        await messaging.as_council(other_kit.council, sent.conversation.id)
    with pytest.raises(MessageNotFoundError):
        await messaging.as_citizen(citizen.id, "cnv_" + secrets.token_urlsafe(16))
    access = await messaging.as_citizen(citizen.id, sent.conversation.id)
    now = signed_in_at(runtime.clock.now(), MEDIUM)
    with pytest.raises(MessageNotFoundError):
        await messaging.attachment(access, sent.message.id, "att_" + secrets.token_urlsafe(16), now)
    with pytest.raises(MessageNotFoundError):
        await messaging.attachment(access, "msg_" + secrets.token_urlsafe(16), "att_x", now)


async def test_a_business_inbox_is_shared_by_its_members_only(runtime: Runtime) -> None:
    kit, business = await new_council(runtime), await agency(runtime, agent=False)
    member, outsider = await staff(runtime, business), await person(runtime)
    request = NewConversation(
        team=kit.team.id,
        to=Recipient(business=business.business.id),
        subject="Business rates",
        body="Your business rates bill",
    )
    sent = await runtime.messaging.send(kit.council, request, [], "key-" + secrets.token_hex(8))
    for reader in (business.admin, member):
        inbox = await runtime.messaging.inbox(reader.account_id)
        assert any(s.conversation.id == sent.conversation.id for s in inbox)
        await runtime.messaging.as_citizen(reader.account_id, sent.conversation.id)
    with pytest.raises(MessageNotFoundError):
        await runtime.messaging.as_citizen(outsider.account_id, sent.conversation.id)


async def test_an_agent_reads_only_under_a_relationship_for_that_service_and_is_logged(
    runtime: Runtime,
) -> None:
    firm = await agency(runtime)
    relationship = await accepted(runtime, runtime.agents, firm)
    assert relationship.client_account_id is not None
    client = await runtime.accounts.get(relationship.client_account_id)
    tax, rates = await new_council(runtime, SERVICE), await new_council(runtime)
    covered = await write_to(runtime, tax, client, "your tax return")
    other_service = await write_to(runtime, rates, client, "your council tax")
    messaging, agent = runtime.messaging, firm.admin.account_id
    now = signed_in_at(runtime.clock.now(), MEDIUM)
    access = await messaging.as_delegate(agent, relationship.id, covered.conversation.id)
    thread = await messaging.open(access, now)
    assert thread.messages[0].body == "your tax return"
    entries = await runtime.evidence.entries(0, 100_000)
    assert any(
        e["action"] == "message.read-delegated"
        and e["subject"] == covered.conversation.id
        and str(e["details"]).find(relationship.id) >= 0
        for e in entries
    )
    with pytest.raises(MessageNotFoundError):
        await messaging.as_delegate(agent, relationship.id, other_service.conversation.id)
    outsider = await person(runtime)
    with pytest.raises(MessageNotFoundError):
        await messaging.as_delegate(outsider.account_id, relationship.id, covered.conversation.id)
    with pytest.raises(MessageNotFoundError):
        await messaging.reply(access, "written by the agent", [], now)


async def test_an_unknown_sub_and_a_file_that_is_not_what_it_says_are_refused(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    request = NewConversation(
        team=kit.team.id, to=Recipient(sub="not-a-known-sub"), subject="Hello", body="Hi"
    )
    with pytest.raises(RecipientNotFoundError):
        await runtime.messaging.send(kit.council, request, [], "key-" + secrets.token_hex(8))
    with pytest.raises(AttachmentRefusedError):
        await write_to(runtime, kit, citizen, uploads=[Upload("invoice.pdf", b"MZ\x90\x00 an exe")])


async def test_an_idempotency_key_replays_the_first_message_and_refuses_a_different_one(
    runtime: Runtime,
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sub = await runtime.messaging.enrol(kit.website.client, citizen.id)
    request = NewConversation(team=kit.team.id, to=Recipient(sub=sub), subject="S", body="B")
    key = "key-" + secrets.token_hex(8)
    first = await runtime.messaging.send(kit.council, request, [], key)
    again = await runtime.messaging.send(kit.council, request, [], key)
    assert again.replayed and again.message.id == first.message.id
    changed = request.model_copy(update={"body": "C"})
    with pytest.raises(IdempotencyConflictError):
        await runtime.messaging.send(kit.council, changed, [], key)
    reply = NewReply(body="again")
    with pytest.raises(IdempotencyConflictError):
        await runtime.messaging.council_reply(
            Council(kit.back_office.client_id, kit.org_id), first.conversation.id, reply, [], key
        )
