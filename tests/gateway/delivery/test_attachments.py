"""Multipart submissions with attachments (RFC 7578): each file's type is found from its
content (not its name or declared type), checked against the service's allow-list and size
limit, carried in the envelope by its SHA-256 digest, kept sealed at rest, and fetched by the
recipient alone. Oversized, mistyped, surplus and malformed uploads are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import httpx
import pytest

from gateway.delivery.envelope import open_envelope
from gateway.delivery.uploads import sniff
from gateway.runtime import Runtime
from tests.gateway.delivery.support import Exchange, exchange, party, submit

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
    "890000000d4944415478da63f8cfc0f01f0005000201a0e3a8b20000000049454e44ae426082"
)
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


@pytest.fixture
async def ex(http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]) -> Exchange:
    """A service taking up to two PDF or PNG attachments of up to 2,000 bytes each."""
    return await exchange(
        http,
        runtime,
        admin_headers,
        attachment_types=["application/pdf", "image/png"],
        max_attachments=2,
        max_attachment_bytes=2000,
    )


def test_types_are_recognised_by_their_content() -> None:
    assert sniff(PDF) == "application/pdf"
    assert sniff(PNG) == "image/png"
    assert sniff(GIF) == "image/gif"
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff("Caf\u00e9 receipts\r\n\tline two".encode()) == "text/plain"
    assert sniff(EXE) is None
    assert sniff(b"text with a NUL\x00 in it") is None
    assert sniff(b"\xc3\x28 not UTF-8") is None
    assert sniff(b"") is None


async def test_attachments_travel_by_digest_and_the_recipient_fetches_them(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    files = [("evidence.pdf", PDF, "application/pdf"), ("photo.png", PNG, "image/png")]
    response = await submit(http, ex.sender.headers, ex.request(), files=files)
    assert response.status_code == 202, response.text
    answer = response.json()
    envelope = (
        await http.get(f"/api/v1/submissions/{answer['id']}/envelope", headers=ex.recipient.headers)
    ).json()
    opened = open_envelope(envelope, (await http.get("/.well-known/jwks.json")).json())
    assert opened.payload_sha256 == answer["payload_sha256"]
    listed = opened.content["attachments"]
    assert listed == [
        {
            "name": name,
            "media_type": media,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for name, data, media in files
    ]
    for entry, (_, data, media) in zip(listed, files, strict=True):
        fetched = await http.get(
            f"/api/v1/submissions/{answer['id']}/attachments/{entry['sha256']}",
            headers=ex.recipient.headers,
        )
        assert fetched.status_code == 200
        assert fetched.content == data
        assert fetched.headers["content-type"] == media
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert fetched.headers["repr-digest"] == f"sha-256=:{digest}:"
        assert fetched.headers["x-content-type-options"] == "nosniff"


async def test_attachments_are_sealed_at_rest(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    marker = b"%PDF-1.4\nUNIQUE-PLAINTEXT-" + uuid.uuid4().hex.encode()
    answer = (
        await submit(
            http, ex.sender.headers, ex.request(), files=[("a.pdf", marker, "application/pdf")]
        )
    ).json()
    stored = await runtime.redis.hgetall(f"{{gc:sbm:{answer['id']}}}:attachments")
    assert len(stored) == 1
    assert marker.decode() not in json.dumps(stored)


async def test_only_the_recipient_fetches_an_attachment(
    http: httpx.AsyncClient, runtime: Runtime, ex: Exchange
) -> None:
    answer = (
        await submit(
            http, ex.sender.headers, ex.request(), files=[("a.pdf", PDF, "application/pdf")]
        )
    ).json()
    path = f"/api/v1/submissions/{answer['id']}/attachments/{hashlib.sha256(PDF).hexdigest()}"
    stranger = await party(http, runtime)
    for headers in (ex.sender.headers, stranger.headers):
        refused = await http.get(path, headers=headers)
        assert refused.status_code == 404
    unknown = await http.get(
        f"/api/v1/submissions/{answer['id']}/attachments/{'0' * 64}", headers=ex.recipient.headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:govconnect:problem:attachment-not-found"
    not_a_digest = await http.get(
        f"/api/v1/submissions/{answer['id']}/attachments/envelope", headers=ex.recipient.headers
    )
    assert not_a_digest.status_code == 422


@pytest.mark.parametrize(
    ("file", "why"),
    [
        (("photo.png", PDF, "image/png"), "declared as image/png but its content is"),
        (("report.pdf", EXE, "application/pdf"), "not a file type the gateway accepts"),
        (("animation.gif", GIF, "image/gif"), "takes application/pdf, image/png"),
        (("../../etc/passwd.pdf", PDF, "application/pdf"), "without folders"),
    ],
)
async def test_an_attachment_of_the_wrong_type_or_name_is_refused(
    http: httpx.AsyncClient, ex: Exchange, file: tuple[str, bytes, str], why: str
) -> None:
    refused = await submit(http, ex.sender.headers, ex.request(), files=[file])
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"] == "urn:govconnect:problem:attachment-refused"
    assert why in refused.json()["detail"]


async def test_an_attachment_over_the_limit_or_one_too_many_is_refused(
    http: httpx.AsyncClient, ex: Exchange
) -> None:
    big = PDF + b"%" * 2000
    refused = await submit(
        http, ex.sender.headers, ex.request(), files=[("big.pdf", big, "application/pdf")]
    )
    assert refused.status_code == 413
    assert refused.json()["type"] == "urn:govconnect:problem:submission-too-large"
    assert refused.json()["limit"] == 2000
    three = [(f"{n}.pdf", PDF, "application/pdf") for n in range(3)]
    refused = await submit(http, ex.sender.headers, ex.request(), files=three)
    assert refused.status_code == 400
    assert "at most 2 attachments" in refused.json()["detail"]


async def test_a_service_without_attachment_types_takes_none(
    http: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    plain = await exchange(http, runtime, admin_headers)
    refused = await submit(
        http, plain.sender.headers, plain.request(), files=[("a.pdf", PDF, "application/pdf")]
    )
    assert refused.status_code == 400
    assert "takes no attachments" in refused.json()["detail"]


async def test_malformed_multipart_bodies_are_refused(
    http: httpx.AsyncClient, ex: Exchange
) -> None:
    headers = {**ex.sender.headers, "Idempotency-Key": str(uuid.uuid4())}
    no_submission = await http.post(
        "/api/v1/submissions",
        files=[("attachment", ("a.pdf", PDF, "application/pdf"))],
        headers=headers,
    )
    assert no_submission.status_code == 400
    extra_field = await http.post(
        "/api/v1/submissions",
        data={"submission": json.dumps(ex.request()), "note": "hello"},
        files=[("attachment", ("a.pdf", PDF, "application/pdf"))],
        headers=headers,
    )
    assert extra_field.status_code == 400
    not_json = await http.post(
        "/api/v1/submissions",
        data={"submission": "{not json"},
        files=[("attachment", ("a.pdf", PDF, "application/pdf"))],
        headers=headers,
    )
    assert not_json.status_code == 422
    assert not_json.json()["type"] == "urn:govconnect:problem:invalid-input"
    text = await http.post(
        "/api/v1/submissions",
        content=b"recipient=x",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert text.status_code == 415
    many = await http.post(
        "/api/v1/submissions",
        data={"submission": json.dumps(ex.request())},
        files=[("attachment", (f"{n}.pdf", PDF, "application/pdf")) for n in range(25)],
        headers=headers,
    )
    assert many.status_code == 400


async def test_a_retry_with_the_same_files_replays_and_other_files_conflict(
    http: httpx.AsyncClient, ex: Exchange
) -> None:
    key = str(uuid.uuid4())
    files = [("a.pdf", PDF, "application/pdf")]
    first = await submit(http, ex.sender.headers, ex.request(), key=key, files=files)
    again = await submit(http, ex.sender.headers, ex.request(), key=key, files=files)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await submit(
        http, ex.sender.headers, ex.request(), key=key, files=[("b.png", PNG, "image/png")]
    )
    assert other.status_code == 409
