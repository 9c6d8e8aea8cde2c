"""The GOV.UK Notify stand-in answers as Notify does, so a test that passes against it says
something about Notify: bearer JWTs are checked properly (scheme, issuer, algorithm allow-list,
signature, clock), requests are validated against Notify's schema and templates, and the
error and success bodies have Notify's shape."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.support.notify_api import NotifyApiStandIn, email_problem, phone_problem


def token(api: NotifyApiStandIn, *, alg: str = "HS256", **claims: Any) -> str:
    body = {"iss": api.service_id, "iat": int(time.time()), **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(
        {"typ": "JWT", "alg": alg}, body, OctKey.import_key(api.secret), algorithms=[alg]
    )


def post(
    api: NotifyApiStandIn,
    kind: str,
    payload: Mapping[str, Any] | str,
    authorization: str | None = "valid",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if authorization == "valid":
        headers["Authorization"] = f"Bearer {token(api)}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    content = payload if isinstance(payload, str) else json.dumps(payload)
    return httpx.post(f"{api.base_url}/v2/notifications/{kind}", content=content, headers=headers)


def errors(response: httpx.Response) -> list[tuple[str, str]]:
    body = response.json()
    assert body["status_code"] == response.status_code
    return [(e["error"], e["message"]) for e in body["errors"]]


def email(template_id: str, **extra: Any) -> dict[str, Any]:
    return {"email_address": "person@example.gov.uk", "template_id": template_id, **extra}


@pytest.fixture(scope="module")
def template_id(notify_api: NotifyApiStandIn) -> str:
    return notify_api.add_template("email", "Your code is ((Code)).", "Code for ((first name))")


def test_a_valid_request_gets_notifys_documented_answer(
    notify_api: NotifyApiStandIn, template_id: str
) -> None:
    personalisation = {"code": "123", "First_Name": "Sam"}
    response = post(
        notify_api, "email", email(template_id, personalisation=personalisation, reference="r1")
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "reference", "content", "uri", "template"}
    assert body["reference"] == "r1"
    assert body["content"]["subject"] == "Code for Sam"
    assert body["content"]["body"] == "Your code is 123."
    assert "from_email" in body["content"]
    assert body["uri"] == f"{notify_api.base_url}/v2/notifications/{body['id']}"
    assert body["template"] == {
        "id": template_id,
        "version": 1,
        "uri": f"{notify_api.base_url}/v2/template/{template_id}",
    }
    assert notify_api.received[-1].notification_id == body["id"]


@pytest.mark.parametrize(
    ("authorization", "status", "message"),
    [
        (None, 401, "Unauthorized, authentication token must be provided"),
        ("Basic dXNlcjpwYXNz", 401, "Unauthorized, authentication bearer scheme must be used"),
        ("Bearer not.a.jwt", 403, "Invalid token: signature, api token is not valid"),
    ],
    ids=["none", "basic", "garbage"],
)
def test_a_request_without_a_usable_bearer_token_is_refused(
    notify_api: NotifyApiStandIn,
    template_id: str,
    authorization: str | None,
    status: int,
    message: str,
) -> None:
    response = post(notify_api, "email", email(template_id), authorization)
    assert (response.status_code, errors(response)) == (status, [("AuthError", message)])


def test_each_bad_token_is_refused_as_notify_refuses_it(
    notify_api: NotifyApiStandIn, template_id: str
) -> None:
    def refused(bearer: str) -> str:
        response = post(notify_api, "email", email(template_id), f"Bearer {bearer}")
        assert response.status_code == 403
        [(kind, message)] = errors(response)
        assert kind == "AuthError"
        return message

    assert refused(token(notify_api, iss=None)) == "Invalid token: iss field not provided"
    assert refused(token(notify_api, iss="council")) == (
        "Invalid token: service id is not the right data type"
    )
    assert refused(token(notify_api, iss=str(uuid.uuid4()))) == "Invalid token: service not found"
    assert refused(token(notify_api, alg="HS512")) == "Invalid token: algorithm used is not HS256"
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    claims = json.dumps({"iss": notify_api.service_id, "iat": int(time.time())}).encode()
    unsigned = f"{header}.{base64.urlsafe_b64encode(claims).rstrip(b'=').decode()}."
    assert refused(unsigned) == "Invalid token: algorithm used is not HS256"
    forged = jwt.encode(
        {"typ": "JWT", "alg": "HS256"},
        {"iss": notify_api.service_id, "iat": int(time.time())},
        OctKey.import_key(str(uuid.uuid4())),
    )
    assert refused(forged) == "Invalid token: API key not found"
    assert refused(token(notify_api, iat=None)) == "Invalid token: iat field not provided"
    clock = "Error: Your system clock must be accurate to within 30 seconds"
    assert refused(token(notify_api, iat=int(time.time()) - 60)) == clock
    assert refused(token(notify_api, iat=int(time.time()) + 60)) == clock


def test_the_schema_is_checked_and_every_problem_listed(notify_api: NotifyApiStandIn) -> None:
    response = post(
        notify_api,
        "email",
        {"template_id": "abc", "personalisation": "code=1", "colour": "red", "reference": 5},
    )
    assert response.status_code == 400
    assert errors(response) == [
        ("ValidationError", "email_address is a required property"),
        ("ValidationError", "Additional properties are not allowed ('colour' was unexpected)"),
        ("ValidationError", "template_id is not a valid UUID"),
        ("ValidationError", "personalisation should contain key value pairs"),
        ("ValidationError", "reference is not of type string, null"),
    ]
    response = post(
        notify_api, "sms", {"phone_number": "0770090012", "template_id": str(uuid.uuid4())}
    )
    assert errors(response) == [("ValidationError", "phone_number Mobile number is too short")]
    assert errors(post(notify_api, "email", "{not json")) == [
        ("BadRequestError", "Invalid JSON supplied in POST data")
    ]


def test_templates_are_checked_as_notify_checks_them(
    notify_api: NotifyApiStandIn, template_id: str
) -> None:
    def refused(kind: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
        response = post(notify_api, kind, payload)
        assert response.status_code == 400
        return errors(response)

    assert refused("email", email(str(uuid.uuid4()))) == [("BadRequestError", "Template not found")]
    sms = {"phone_number": "+447700900123", "template_id": template_id}
    assert refused("sms", sms) == [
        ("BadRequestError", "email template is not suitable for sms notification")
    ]
    assert refused("email", email(template_id, personalisation={"code": "1"})) == [
        ("BadRequestError", "Missing personalisation: first name")
    ]


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("person@example.gov.uk", True),
        ("first.last+tag@council.example", True),
        ("person@localhost", False),
        ("person@@example.gov.uk", False),
        ("person@example..gov.uk", False),
        ("person example@gov.uk", False),
        ("person@example.c", False),
    ],
)
def test_email_addresses_are_checked_like_notify(address: str, valid: bool) -> None:
    assert (email_problem(address) is None) is valid


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("07700 900123", None),
        ("+44 (0)7700 900123", None),
        ("0044 7700 900123", None),
        ("07700 90012a", "Mobile numbers can only include: 0 1 2 3 4 5 6 7 8 9 ( ) + -"),
        ("020 7946 0000", "This does not look like a UK mobile number"),
        ("07700 9001234", "Mobile number is too long"),
    ],
)
def test_phone_numbers_are_checked_like_notify(number: str, problem: str | None) -> None:
    found = phone_problem(number)
    assert found is None if problem is None else (found or "").startswith(problem)
