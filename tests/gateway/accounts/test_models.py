"""Email and phone normalisation, and values that keep secrets out of logs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.accounts import totp
from gateway.accounts.errors import InvalidEmailError
from gateway.accounts.models import (
    Account,
    SignInAttempt,
    email_digest,
    email_hint,
    normalise_email,
    normalise_phone,
)


def test_an_address_keeps_its_local_part_and_lower_cases_its_domain() -> None:
    assert normalise_email("  Mary.Jones@Council.EXAMPLE ") == "Mary.Jones@council.example"
    assert email_digest("Mary.Jones@council.example") == email_digest("mary.jones@council.example")
    assert email_digest("mary.jones@council.example") != email_digest("mary.jone@council.example")


@pytest.mark.parametrize(
    "value", ["", "no-at-sign", "two@@example.com", "a@localhost", "sp ace@example.com", "a@-x.com"]
)
def test_strings_that_are_not_addresses_are_refused(value: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalise_email(value)


def test_the_hint_for_a_new_address_shows_only_its_first_letter_and_domain() -> None:
    assert email_hint("mary.jones@council.example") == "m•••@council.example"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700-900-123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_mobile_numbers_are_stored_in_e164(value: str, number: str) -> None:
    assert normalise_phone(value) == number


def test_no_address_number_secret_or_token_shows_in_a_repr() -> None:
    now = datetime.now(UTC)
    account = Account(
        "acc_" + "a" * 22, "mary@council.example", True, now, now, phone="+447700900123"
    )
    secret = totp.new_secret()
    codes = totp.new_recovery_codes()
    shown = " ".join(
        repr(value)
        for value in (
            account,
            totp.enrolment(secret, account.email),
            codes,
            SignInAttempt("192.0.2.1", "device-token-value"),
        )
    )
    for hidden in ("mary@", "7700900123", secret, "device-token-value", *codes.codes):
        assert hidden not in shown
