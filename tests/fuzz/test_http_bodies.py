"""Hostile request bodies against a real running gateway over HTTP: JSON (deep nesting, huge
numbers, duplicate keys), the token endpoint's form (RFC 6749 §3.2: repeated and unknown
parameters, bytes that are not UTF-8), authorization request parameters, and multipart
submissions (RFC 7578: a huge preamble, thousands of part headers, negative or missing
Content-Length, ``;`` separators, ``filename*``).

Every answer is a 4xx (or, for the few well-formed inputs, a success), never a 5xx, within a
few seconds; afterwards the gateway still answers ``/healthz``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.fuzz import strategies as hostile
from tests.gateway.delivery.support import Exchange, exchange

# Only so a server that never answers fails the test instead of hanging the suite.
HANG_GUARD_SECONDS = 30.0
BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"


def _not_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]


async def _post(http: httpx.AsyncClient, path: str, **kwargs: object) -> httpx.Response:
    response = await http.post(path, **kwargs)  # type: ignore[arg-type]
    _not_5xx(response)
    return response


@pytest.fixture(scope="module")
async def parties(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> Exchange:
    return await exchange(http, runtime, admin_headers)


@given(text=hostile.hostile_json_text)
async def test_admin_api_refuses_hostile_json(
    http: httpx.AsyncClient, admin_headers: dict[str, str], text: str
) -> None:
    response = await _post(
        http,
        "/admin/v1/organisations",
        content=text.encode(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500


@given(text=hostile.hostile_json_text)
async def test_submissions_api_refuses_hostile_json(
    http: httpx.AsyncClient, parties: Exchange, text: str
) -> None:
    response = await _post(
        http,
        "/api/v1/submissions",
        content=text.encode(),
        headers={
            **parties.sender.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    assert 400 <= response.status_code < 500


token_names = st.sampled_from(
    [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "scope",
        "resource",
        "subject_token",
    ]
)
token_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["authorization_code", "refresh_token", "client_credentials", ASSERTION_TYPE]),
    hostile.unsigned_segments(),
)


@given(
    pairs=st.lists(
        st.tuples(st.one_of(token_names, st.text(max_size=10)), token_values), max_size=12
    ),
    junk=st.binary(max_size=64),
)
async def test_token_endpoint_refuses_hostile_forms(
    http: httpx.AsyncClient, pairs: list[tuple[str, str]], junk: bytes
) -> None:
    """Repeated parameters, unknown ones and raw bytes: ``invalid_request`` or
    ``invalid_client``, never a crash (RFC 6749 §3.2, §5.2)."""
    body = urlencode(pairs).encode() + (b"&" + junk if junk else b"")
    response = await _post(
        http,
        "/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= response.status_code < 500


@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "vtr": hostile.hostile_json_text,
            "claims": hostile.hostile_json_text,
            "max_age": st.one_of(st.text(max_size=20), st.just("9" * 5000)),
            "acr_values": st.text(max_size=200),
            "prompt": st.text(max_size=30),
            "request": hostile.unsigned_segments(),
            "dpop_jkt": st.text(max_size=60),
        },
    )
)
async def test_authorization_endpoint_refuses_hostile_parameters(
    http: httpx.AsyncClient, parties: Exchange, params: dict[str, str]
) -> None:
    """Parameters of a known client's request: an error page or an error redirect."""
    client = parties.sender.kit.client
    query = {
        "client_id": client.client_id,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **params,
    }
    # A GET's query is bounded only by the server's line limit; send what fits.
    response = await http.get("/authorize", params={k: v[:6000] for k, v in query.items()})
    _not_5xx(response)


# Multipart attacks. Each is a whole request body with its Content-Type.
def _part(headers: str, content: bytes) -> bytes:
    return f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"


def _end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def _submission(parties: Exchange) -> bytes:
    return json.dumps(parties.request()).encode()


def _multipart_cases(parties: Exchange) -> dict[str, bytes]:
    submission = _submission(parties)
    field = 'Content-Disposition: form-data; name="submission"'
    text_file = 'Content-Disposition: form-data; name="attachment"; filename="a.txt"'
    return {
        "huge preamble": b"x" * 900_000 + b"\r\n" + _part(field, submission) + _end(),
        "thousands of part headers": _part(
            field + "\r\n" + "\r\n".join(f"X-H{i}: {i}" for i in range(5_000)), submission
        )
        + _end(),
        "thousands of parts": b"".join(
            _part(f'Content-Disposition: form-data; name="f{i}"', b"1") for i in range(5_000)
        )
        + _end(),
        "semicolon separators": _part(
            'Content-Disposition: form-data;;; name="submission";; name="other";', submission
        )
        + _end(),
        "filename* traversal": _part(field, submission)
        + _part(
            text_file + "; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd\r\nContent-Type: text/plain",
            b"hello",
        )
        + _end(),
        "filename with a folder": _part(field, submission)
        + _part(
            'Content-Disposition: form-data; name="attachment"; filename="../../x.txt"\r\n'
            "Content-Type: text/plain",
            b"hello",
        )
        + _end(),
        "no closing boundary": _part(field, submission),
        "header without a colon": _part(field + "\r\nthis is not a header", submission) + _end(),
        "oversized field": _part(field, b"9" * 1_200_000) + _end(),
    }


@pytest.mark.parametrize(
    "case",
    [
        "huge preamble",
        "thousands of part headers",
        "thousands of parts",
        "semicolon separators",
        "filename* traversal",
        "filename with a folder",
        "no closing boundary",
        "header without a colon",
        "oversized field",
    ],
)
async def test_multipart_attack_is_refused(
    http: httpx.AsyncClient, parties: Exchange, case: str
) -> None:
    response = await _post(
        http,
        "/api/v1/submissions",
        content=_multipart_cases(parties)[case],
        headers={
            **parties.sender.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    if response.status_code < 300:
        # Accepted only when well-formed; then no stored name may hold a folder.
        names = [a.get("name", "") for a in response.json().get("attachments", [])]
        assert not any("/" in name or ".." in name for name in names), names
    else:
        assert 400 <= response.status_code < 500
    assert (await http.get("/healthz")).status_code == 200


async def _raw(base_url: str, request: bytes) -> bytes:
    """Send bytes a well-behaved client library would refuse to send; read the answer."""
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), HANG_GUARD_SECONDS)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "length_header",
    [b"Content-Length: -1\r\n", b"Content-Length: 99999999999999999999\r\n", b""],
    ids=["negative", "huge", "missing"],
)
async def test_bad_content_length_is_refused(
    gateway_url: str, parties: Exchange, length_header: bytes
) -> None:
    """A negative, absurd or missing Content-Length on a multipart body never buffers an
    unbounded body (CVE-2026-53540): 400, 411 or 413, or the connection is closed."""
    body = _part('Content-Disposition: form-data; name="submission"', _submission(parties)) + _end()
    base = gateway_url
    request = (
        b"POST /api/v1/submissions HTTP/1.1\r\nHost: "
        + urlsplit(base).netloc.encode()
        + b"\r\nAuthorization: "
        + parties.sender.headers["Authorization"].encode()
        + b"\r\nIdempotency-Key: "
        + str(uuid.uuid4()).encode()
        + f"\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
        + length_header
        + b"Connection: close\r\n\r\n"
        + body
    )
    answer = await _raw(base, request)
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b""
    assert status == b"" or status.startswith(b"4"), answer[:200]
