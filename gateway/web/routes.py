"""Front-end assets, the development outbox page, and HTML error pages for page routes.

API routes answer errors as RFC 9457 problem documents; a browser on a page route gets an
HTML page that says what to do next instead. A route is a page route when it used the
:data:`~gateway.web.pages.PageSession` dependency (which marks the request), or when nothing
matched and the browser asked for HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from gateway.core.errors import GovConnectError
from gateway.core.problems import STATUS_BY_CATEGORY
from gateway.runtime import Runtime
from gateway.web.errors import CsrfError, SignInRequired
from gateway.web.messages import message
from gateway.web.pages import PageSession, redirect, render

GOVUK_FRONTEND = Path(__file__).resolve().parents[2] / "node_modules/govuk-frontend/dist/govuk"

router = APIRouter(include_in_schema=False)


@router.get("/dev/outbox")
async def dev_outbox(request: Request, session: PageSession) -> Response:
    """Public, development only (not mounted in production): what email and SMS would have
    said."""
    runtime: Runtime = request.app.state.runtime
    messages = await runtime.outbox.latest(50) if runtime.outbox else []
    return render(
        request, "dev_outbox.html", session, title="Development outbox", messages=messages
    )


_PAGES_BY_STATUS: dict[int, tuple[str, str]] = {
    403: ("pages.expired_title", "pages.expired_body"),
    404: ("pages.not_found_title", "pages.not_found_body"),
    429: ("pages.too_many_title", "pages.too_many_body"),
    503: ("pages.unavailable_title", "pages.unavailable_body"),
}


def _wants_html(request: Request, status: int) -> bool:
    if getattr(request.state, "pages", False):
        return True
    return status == 404 and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int) -> Response:
    title_key, body_key = _PAGES_BY_STATUS.get(
        status, ("pages.problem_title", "pages.problem_body")
    )
    return render(
        request,
        "message.html",
        None,
        status=status,
        title=message(title_key),
        paragraphs=[message(body_key)],
        link={"href": "/account", "text": "Go to your GovConnect account"},
    )


def install(app: FastAPI) -> None:
    """Mount the assets and route page errors to HTML, API errors to the problem handlers."""
    if GOVUK_FRONTEND.is_dir():
        app.mount("/govuk", StaticFiles(directory=GOVUK_FRONTEND), name="govuk-frontend")
    problem_handlers = dict(app.exception_handlers)

    def status_of(exc: Exception) -> int:
        if isinstance(exc, GovConnectError):
            return 403 if isinstance(exc, CsrfError) else STATUS_BY_CATEGORY[exc.category]
        if isinstance(exc, StarletteHTTPException):
            return exc.status_code
        return 500

    def handler_for(kind: type[Exception]) -> Any:
        async def handle(request: Request, exc: Exception) -> Response:
            if isinstance(exc, SignInRequired):
                return redirect(request, "/sign-in?next=" + quote(exc.next_path, safe="/"))
            status = status_of(exc)
            if _wants_html(request, status):
                return _error_page(request, status)
            response: Response = await _maybe_await(problem_handlers[kind](request, exc))
            return response

        return handle

    for kind in (GovConnectError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handler_for(kind))


async def _maybe_await(value: Any) -> Any:
    return await value if hasattr(value, "__await__") else value
