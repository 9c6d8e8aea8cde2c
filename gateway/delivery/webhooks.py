"""Pushing a submission to a recipient's endpoint, signed per Standard Webhooks (v1).

Standard Webhooks, "Signature scheme": the signed content is
``{webhook-id}.{webhook-timestamp}.{body}`` (the id, a full stop, the timestamp in whole
seconds since the epoch, a full stop, the exact body bytes); the signature is HMAC-SHA256 with
the secret's bytes (the base64 after ``whsec_``), base64-encoded and written ``v1,<sig>``.
``webhook-signature`` holds one such signature per live secret, space-separated, so a
recipient rotating its secret accepts either ("Key rotation"). ``webhook-id`` is the
submission id, the same on every retry, so the recipient can drop a duplicate; the timestamp
is fresh at every attempt, so a recipient refuses a replayed old one.

Outbound HTTP goes through an injectable ``httpx`` transport, with a timeout, without
following redirects and without proxies from the environment. Of the answer only the status
counts; a short body is read and dropped so the connection (and its TLS session) carries the
next push (HTTP/1.1 keep-alive: a connection whose answer was left unread is closed), and a
long one is cut off at ``ANSWER_READ_LIMIT`` bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

import httpx

from gateway import __version__
from gateway.delivery.errors import WebhookDeliveryError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32  # Standard Webhooks: secrets of 24 to 64 random bytes
DEFAULT_TIMEOUT_SECONDS = 10.0
# The most of an answer's body read to keep its connection (an acknowledgement such as
# {"stored": "sbm_…"} is tens of bytes); past it the connection is given up instead.
ANSWER_READ_LIMIT = 16 * 1024


def new_secret() -> str:
    """A fresh ``whsec_`` secret (Standard Webhooks, "Symmetric signatures")."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    content = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(_secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every live secret."""
    if not secrets_:
        raise ValueError("at least one secret signs a webhook")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_),
    }


class WebhookSender:
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        # NOTE: trust_env is off so that proxy variables in the environment cannot send
        # submissions anywhere but the registered endpoint; redirects are not followed, so
        # an endpoint cannot bounce a signed submission to another host.
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"GovConnect/{__version__} delivery"},
        )

    async def post(
        self,
        endpoint: str,
        secrets_: Sequence[str],
        message_id: str,
        timestamp: int,
        body: bytes,
    ) -> int:
        """POST ``body`` signed; the 2xx status. Raises :class:`WebhookDeliveryError` for
        anything else (always retryable: a recipient that is down now may be up later)."""
        headers = {
            **signed_headers(secrets_, message_id, timestamp, body),
            "Content-Type": "application/json",
        }
        try:
            async with self._http.stream("POST", endpoint, content=body, headers=headers) as answer:
                status = answer.status_code
                await _drain(answer)
        except httpx.HTTPError as exc:
            raise WebhookDeliveryError(
                f"the endpoint could not be reached: {type(exc).__name__}", retryable=True
            ) from None
        if 200 <= status < 300:
            return status
        raise WebhookDeliveryError(
            f"the endpoint answered {status}", retryable=True, status_code=status
        )

    async def aclose(self) -> None:
        await self._http.aclose()


async def _drain(answer: httpx.Response) -> None:
    """Read and drop the answer's body up to :data:`ANSWER_READ_LIMIT` bytes."""
    # NOTE: a recipient cannot make the gateway read (or keep) more than the limit: past it
    # the loop stops and closing the unread answer closes its connection.
    read = 0
    async for chunk in answer.aiter_raw():
        read += len(chunk)
        if read > ANSWER_READ_LIMIT:
            return
