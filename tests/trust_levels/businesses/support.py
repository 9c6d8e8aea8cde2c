"""People, businesses and invitation links for the business account tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.support.accounts import PASSWORD, new_email
from trust_levels.businesses.services import JOIN_PATH

_LINK = re.compile(re.escape(JOIN_PATH) + r"/([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class Person:
    account_id: str
    email: str


async def person(runtime: Runtime, email: str | None = None) -> Person:
    """A verified account, made as an operator would (the pages are tested elsewhere)."""
    address = email or new_email()
    account = await runtime.accounts.create(
        address, PASSWORD, verified=True, totp_secret=None, actor=TEST_ACTOR
    )
    return Person(account.id, account.email)


def link_token(text: str) -> str:
    """The secret of the newest invitation link in ``text`` (an email or an outbox page)."""
    match = _LINK.search(text)
    assert match is not None, text[:500]
    return match.group(1)


async def emailed_token(runtime: Runtime, email: str) -> str:
    """The link's secret from the newest email to ``email`` in the development outbox."""
    assert runtime.outbox is not None, "the tests run with the local outbox"
    messages = await runtime.outbox.for_recipient(email, 1)
    assert messages, f"nothing was sent to {email}"
    return link_token(messages[0].body)
