"""A citizen's payment lands as a receipt in their secure inbox (DESIGN.md §5: payments tied to
the sign-in and the inbox), from the paid council's team for that service, once per payment
however often the payments service retries; an organisation without a messaging team sends
none."""

from __future__ import annotations

from gateway.runtime import Runtime
from gateway.sessions.models import AuthMethod
from payments.receipts import Receipt
from tests.gateway.clients.support import new_organisation
from tests.messaging.support import new_citizen, new_council


def _receipt(org_id: str, account_id: str, payment_id: str = "pay_test1") -> Receipt:
    return Receipt(
        payment_id=payment_id,
        account_id=account_id,
        org_id=org_id,
        service="council-tax",
        amount=12_050,
        reference="CT-2026-001",
        description="Council tax, December",
        paid_at="2026-11-28T10:15:00+00:00",
        card_brand="Visa",
        last_digits="1111",
    )


async def test_a_payment_receipt_arrives_once_in_the_citizens_inbox(runtime: Runtime) -> None:
    kit = await new_council(runtime, service="council-tax")
    citizen = await new_citizen(runtime)
    receipt = _receipt(kit.org_id, citizen.id)
    await runtime.messaging.payment_received(receipt)
    await runtime.messaging.payment_received(receipt)  # a retry by the payments service

    [summary] = await runtime.messaging.inbox(citizen.id)
    assert summary.team.id == kit.team.id
    assert summary.conversation.subject == "Payment received: Council tax, December"
    access = await runtime.messaging.as_citizen(citizen.id, summary.conversation.id)
    signed_in = await runtime.sessions.sign_in(
        await runtime.sessions.start("2001:db8::5", "pytest"), citizen.id, [AuthMethod.PASSWORD]
    )
    thread = await runtime.messaging.open(access, await runtime.levels.assurance(signed_in))
    [message] = thread.messages
    assert message.body is not None
    assert "£120.50 with Visa ending 1111" in message.body
    assert "CT-2026-001" in message.body


async def test_an_organisation_without_a_messaging_team_sends_no_receipt(
    runtime: Runtime,
) -> None:
    citizen = await new_citizen(runtime)
    await runtime.messaging.payment_received(_receipt(await new_organisation(runtime), citizen.id))
    assert await runtime.messaging.inbox(citizen.id) == []
