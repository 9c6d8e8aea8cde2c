"""Checking attachments on the way in and naming them safely on the way out.

The content type is decided by the file's leading bytes ("magic numbers"), never by the name
or the type the sender declared: a file whose bytes do not start as an allowed type is refused
(OWASP File Upload Cheat Sheet, "File Signature Validation"). Downloads are always
``attachment`` with a name reduced to safe characters, sent as both ``filename`` and the
RFC 5987 ``filename*`` form (RFC 6266 §4.1, §4.3), so no name can inject a header or a path.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from fastapi.responses import Response

from messaging.errors import AttachmentRefusedError, AttachmentTooLargeError
from messaging.models import Upload

# Leading bytes of each allowed type, and the extension a download carries.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An upload whose type was read from its bytes and whose name was made safe."""

    filename: str
    content_type: str
    data: bytes


def sniff(data: bytes) -> tuple[str, str] | None:
    """The content type and extension the bytes start as, if an allowed one."""
    for signature, content_type, extension in _SIGNATURES:
        if data.startswith(signature):
            return content_type, extension
    return None


def safe_name(filename: str, extension: str) -> str:
    """The last path segment, letters, digits, dot, dash, underscore and space only, at most
    100 characters, ending with the extension the content really has."""
    base = re.split(r"[\\/]", filename)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", base).strip(" .")
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem) or "attachment"
    return stem[: MAX_NAME - len(extension)] + extension


def check(uploads: list[Upload], *, max_bytes: int, max_count: int) -> list[CheckedFile]:
    """Every upload checked, or :class:`AttachmentTooLargeError` /
    :class:`AttachmentRefusedError` naming the file to fix."""
    if len(uploads) > max_count:
        raise AttachmentRefusedError(
            f"Send at most {max_count} attachments with one message.", limit=max_count
        )
    checked = []
    for upload in uploads:
        if len(upload.data) > max_bytes:
            raise AttachmentTooLargeError(
                f"{upload.filename[:MAX_NAME]!r} is {len(upload.data)} bytes; an attachment can "
                f"be at most {max_bytes}.",
                limit=max_bytes,
            )
        found = sniff(upload.data)
        if found is None:
            raise AttachmentRefusedError(
                f"{upload.filename[:MAX_NAME]!r} is not a PDF, PNG or JPEG file (its content "
                "was checked, not its name).",
                allowed=[content_type for _, content_type, _ in _SIGNATURES],
            )
        content_type, extension = found
        checked.append(
            CheckedFile(safe_name(upload.filename, extension), content_type, upload.data)
        )
    return checked


def content_disposition(filename: str) -> str:
    """``attachment`` with the name in both forms (RFC 6266 §4.3: ``filename*`` wins where
    understood); the name was made safe when stored, and is quoted again here."""
    ascii_name = _UNSAFE.sub("_", filename) or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(filename: str, content_type: str, data: bytes) -> Response:
    """An attachment as a download, never rendered in the page's origin (RFC 6266; a CSP
    sandbox in case a browser renders it anyway)."""
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "Cache-Control": "no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )
