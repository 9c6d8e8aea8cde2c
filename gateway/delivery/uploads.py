"""Reading a submission from the request: JSON, or multipart/form-data with attachments.

A multipart submission (RFC 7578) has one form field ``submission`` holding the same JSON as
a JSON submission, and one file part ``attachment`` per attachment, in order. Each file part
names the file (``filename``, RFC 7578 §4.2) and declares its media type (``Content-Type``,
§4.4). python-multipart parses it through Starlette's ``Request.form`` with limits on the
number of fields and files and on the size of a field; the whole request is bounded by the
gateway's body limit (``GOVCONNECT_MAX_REQUEST_BYTES``), and each file by the service's
``max_attachment_bytes`` (:meth:`gateway.delivery.services.Submissions.submit`).

The type of an attachment is decided by its content, never by its name: :func:`sniff` reads
the signature bytes each format defines (PDF: ISO 32000-2 §7.5.2 ``%PDF-``; PNG: ISO/IEC
15948 §5.2; JPEG: ITU-T T.81 Annex B SOI marker; GIF: the GIF89a specification's header) or,
for ``text/plain``, UTF-8 (RFC 3629) without control characters. The declared type must be
the type found, so a sender's signed payload (which lists it) always says what the gateway
delivers.
"""

from __future__ import annotations

import codecs
import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from gateway.delivery.errors import AttachmentRefusedError, SubmissionTooLargeError
from gateway.delivery.models import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BODY_BYTES,
    Attachment,
    SubmissionRequest,
)

SUBMISSION_FIELD = "submission"
ATTACHMENT_FIELD = "attachment"
# A name a recipient can store as it is: no folders, no control characters.
_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,255}")
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# Text may hold tab, line feed, form feed and carriage return; no other C0 control, no DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(data: bytes) -> str | None:
    """The media type ``data`` shows by its content, or None for anything else."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    try:
        text = codecs.decode(data, "utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if text and not _CONTROL.search(text) else None


def parse_json(raw: bytes) -> SubmissionRequest:
    """A JSON submission; a malformed one is answered as FastAPI answers a bad body (422)."""
    try:
        return SubmissionRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def read_submission(request: Request) -> tuple[SubmissionRequest, list[Attachment]]:
    """The submission and its attachments, from a JSON or multipart/form-data request."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("application/json", ""):
        return parse_json(await request.body()), []
    if media_type != "multipart/form-data":
        raise HTTPException(
            415,
            "Send the submission as application/json, or as multipart/form-data with attachments.",
        )
    # NOTE: a field (the submission JSON) is held in memory up to the body limit; files are
    # spooled by python-multipart (to disk past 1 MiB), and read back below with a cap.
    async with request.form(
        max_files=MAX_ATTACHMENTS, max_fields=1, max_part_size=MAX_BODY_BYTES + 4096
    ) as form:
        unexpected = sorted(set(form.keys()) - {SUBMISSION_FIELD, ATTACHMENT_FIELD})
        fields = form.getlist(SUBMISSION_FIELD)
        if unexpected or len(fields) != 1 or not isinstance(fields[0], str):
            raise HTTPException(
                400,
                f"A multipart submission has one '{SUBMISSION_FIELD}' field (the submission's "
                f"JSON) and '{ATTACHMENT_FIELD}' files"
                + (f"; not {', '.join(unexpected)}" if unexpected else "")
                + ".",
            )
        submission = parse_json(fields[0].encode())
        attachments = [await _attachment(part) for part in form.getlist(ATTACHMENT_FIELD)]
    return submission, attachments


async def _attachment(part: UploadFile | str) -> Attachment:
    if isinstance(part, str):
        raise AttachmentRefusedError(
            f"Each '{ATTACHMENT_FIELD}' part is a file: give it a filename and a Content-Type."
        )
    name = part.filename or ""
    if not _NAME.fullmatch(name):
        raise AttachmentRefusedError(
            "Give each attachment a filename of 1 to 255 characters without folders ('/' or "
            "'\\') or control characters.",
            attachment=name[:255],
        )
    data = await part.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise SubmissionTooLargeError(
            f"Attachment {name!r} is over {MAX_ATTACHMENT_BYTES} bytes, the most any service "
            "takes.",
            attachment=name,
            limit=MAX_ATTACHMENT_BYTES,
        )
    found = sniff(data)
    declared = (part.content_type or "").split(";")[0].strip().lower()
    if found is None:
        raise AttachmentRefusedError(
            f"Attachment {name!r} is not a file type the gateway accepts (its content is not a "
            "PDF, PNG, JPEG or GIF file, or UTF-8 text).",
            attachment=name,
        )
    if declared != found:
        raise AttachmentRefusedError(
            f"Attachment {name!r} is declared as {declared or 'no type'} but its content is "
            f"{found}; send it with Content-Type {found}.",
            attachment=name,
            declared=declared,
            found=found,
        )
    return Attachment(name, found, data)
