"""The back office: receives submissions by push (a Starlette endpoint) or pull (a loop),
checks them, stores each once, acknowledges it with its own signature and answers with a
case reference.

Order of work for each submission, push or pull:

1. check the push's Standard Webhooks signature (push only), then the envelope's signatures
   against GovConnect's JWKS;
2. fetch each attachment the envelope lists and check its SHA-256;
3. store the submission and its attachments, once per submission id (a duplicate changes
   nothing) and only then answer the push with 200;
4. acknowledge (a JWS signed with this back office's key) and answer with a case reference.
   Step 4 runs after the push was answered; whatever it did not finish (GovConnect briefly
   unreachable) is finished by a loop that goes over unsettled rows every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.back_office.config import Config
from examples.back_office.govconnect import (
    GovConnect,
    Opened,
    RefusedError,
    check_file,
    verify_push,
)
from examples.back_office.store import Store, StoredFile
from examples.council_website import keys

log = logging.getLogger("back_office")
SETTLE_EVERY_SECONDS = 2.0


class BackOffice:
    def __init__(self, config: Config, gateway: GovConnect, store: Store) -> None:
        self.config = config
        self.gateway = gateway
        self.store = store
        self._settling = asyncio.Lock()

    async def receive(self, envelope: dict[str, object], via: str) -> Opened:
        """Steps 1 (envelope) to 3: verified, attachments checked, stored once."""
        opened = await self.gateway.open(envelope)
        if opened.content.get("recipient") is None:
            raise RefusedError("no recipient in the payload")
        files = []
        for listed in opened.content.get("attachments", []):
            content = await self.gateway.attachment(opened.id, listed["sha256"])
            check_file(listed, content)
            files.append(
                StoredFile(listed["sha256"], listed["name"], listed["media_type"], content)
            )
        added = await self.store.add(opened.id, opened.payload_sha256, envelope, files, via)
        log.info("submission %s %s", opened.id, "stored" if added else "was stored already")
        return opened

    async def settle(self) -> None:
        """Step 4 for every stored submission not yet acknowledged and answered."""
        if not self.config.answer:
            return
        async with self._settling:
            for record in await self.store.unsettled():
                if not record.acknowledged:
                    await self.gateway.acknowledge(record.id, record.payload_sha256)
                    await self.store.mark_acknowledged(record.id)
                if record.case_reference is None:
                    reference = f"{self.config.case_prefix}-{record.number:06d}"
                    await self.gateway.respond(record.id, reference)
                    await self.store.set_case_reference(record.id, reference)

    async def settle_quietly(self) -> None:
        try:
            await self.settle()
        except (httpx.HTTPError, OSError) as exc:
            log.warning("could not settle submissions yet: %s", exc)

    async def pull_once(self) -> int:
        """One poll of the inbox (HMRC Transaction Engine style): each listed submission
        fetched, checked, stored, then settled; the cursor kept in the store."""
        page = await self.gateway.inbox(await self.store.cursor())
        for listed in page["submissions"]:
            await self.receive(await self.gateway.envelope(listed["id"]), "pull")
        if page.get("next_cursor"):
            await self.store.set_cursor(page["next_cursor"])
        await self.settle()
        return len(page["submissions"])

    async def pull_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            interval = 10.0
            try:
                if await self.pull_once():
                    interval = 0.0
            except (httpx.HTTPError, OSError, RefusedError) as exc:
                log.warning("poll failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def create_app(config: Config, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The push endpoint (``POST /govconnect/submissions``) and a record viewer."""
    store = Store(config.database)
    gateway = GovConnect(
        config.govconnect_url, config.client_id, keys.load_or_create(config.key_file), transport
    )
    office = BackOffice(config, gateway, store)

    async def pushed(request: Request) -> Response:
        """Standard Webhooks push from GovConnect: 200 once stored, 400 when a check fails
        (GovConnect retries anything but 2xx)."""
        if config.webhook_secret is None:
            return JSONResponse({"error": "push is not set up here"}, status_code=404)
        body = await request.body()
        try:
            event = verify_push(config.webhook_secret, body, request.headers)
            opened = await office.receive(event["data"], "push")
        except RefusedError as exc:
            log.warning("push refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        if opened.id != request.headers.get("webhook-id"):
            return JSONResponse({"error": "webhook-id is not the submission id"}, status_code=400)
        return JSONResponse({"stored": opened.id}, background=BackgroundTask(office.settle_quietly))

    async def record(request: Request) -> Response:
        found = await store.get(request.path_params["submission_id"])
        if found is None:
            return JSONResponse({"error": "not here"}, status_code=404)
        files = await store.files(found.id)
        return JSONResponse(
            {
                "id": found.id,
                "payload_sha256": found.payload_sha256,
                "acknowledged": found.acknowledged,
                "case_reference": found.case_reference,
                "attachments": [{"name": f.name, "sha256": f.sha256} for f in files],
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def settler() -> None:
            while not stop.is_set():
                await office.settle_quietly()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SETTLE_EVERY_SECONDS)

        task = asyncio.create_task(settler())
        try:
            yield
        finally:
            stop.set()
            await task
            await gateway.aclose()

    app = Starlette(
        routes=[
            Route("/govconnect/submissions", pushed, methods=["POST"]),
            Route("/submissions/{submission_id}", record),
        ],
        lifespan=lifespan,
    )
    app.state.office = office
    return app
