"""Browser tests: Debian's Chromium driven by Playwright's sync API, checked with axe-core.

Register once, in ``tests/conftest.py``::

    pytest_plugins = ["tests.support.browser"]

Then any test module can use the fixtures ``browser`` (one headless Chromium for the session)
and ``page`` (a fresh context and page per test, closed after it), and call
:func:`assert_accessible`. Browser tests are plain ``def`` tests marked ``@pytest.mark.browser``.

Chromium is the system one (``apt-get install chromium``; ``make browsers`` does it): Playwright
drives it through the node driver bundled in its Python package, so ``playwright install`` is
never needed. ``GOVCONNECT_CHROMIUM`` names another binary. Without Chromium the ``browser``
fixture fails, with the command that installs it; it never skips, so CI cannot go green
without running the browser tests.

Sharing the thread with pytest-asyncio: between two calls, Playwright's sync API leaves its
own event loop marked as the thread's running loop (``wait_for_future`` in
``playwright/_impl/_greenlets.py``), and :class:`asyncio.Runner`, which runs every async test
and fixture, refuses to start while another loop is marked running. So while Chromium is up,
``Runner.run``, ``Runner.close`` and :func:`asyncio.run` lift Playwright's mark for as long
as they run and put it back afterwards: sync browser tests and async tests run in one
session, in any order.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Error, Page, Playwright, sync_playwright

CHROMIUM_ENV = "GOVCONNECT_CHROMIUM"
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
# NOTE: --no-sandbox because the tests run as root in a container, where Chromium's sandbox
# cannot start; the browser only loads the gateway on loopback and pages the tests write.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "Install Debian's Chromium with `sudo make browsers` (it runs `apt-get install chromium`), "
    f"or set {CHROMIUM_ENV} to the path of a Chromium binary. Playwright's own browser "
    "download is not used."
)
TIMEOUT_MS = 15_000
FAILING_IMPACTS = ("serious", "critical")
NODES_SHOWN = 3

T = TypeVar("T")


def find_chromium() -> tuple[str | None, str]:
    """The Chromium to launch, or None with the reason it was not found."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured, ""
        return None, f"{CHROMIUM_ENV}={configured} is not an executable file."
    if SYSTEM_CHROMIUM.is_file() and os.access(SYSTEM_CHROMIUM, os.X_OK):
        return str(SYSTEM_CHROMIUM), ""
    found = shutil.which("chromium")
    if found:
        return found, ""
    return None, f"No Chromium at {SYSTEM_CHROMIUM} or on PATH."


@dataclass
class _Chromium:
    """The one Playwright driver and browser of this test process."""

    playwright: Playwright
    browser: Browser
    loop: asyncio.AbstractEventLoop
    patches: pytest.MonkeyPatch


_RUNNING: _Chromium | None = None


def _lifting_playwrights_mark(
    method: Callable[..., T], loop: asyncio.AbstractEventLoop
) -> Callable[..., T]:
    """``method`` (``asyncio.Runner.run`` / ``.close``, ``asyncio.run``), run with
    Playwright's loop mark lifted when that mark is the one set."""

    @functools.wraps(method)
    def run_beside_playwright(*args: Any, **kwargs: Any) -> T:
        mark = asyncio._get_running_loop()
        if mark is not loop:
            return method(*args, **kwargs)
        asyncio._set_running_loop(None)
        try:
            return method(*args, **kwargs)
        finally:
            asyncio._set_running_loop(mark)

    return run_beside_playwright


def _start() -> _Chromium:
    global _RUNNING
    if _RUNNING is not None:
        return _RUNNING
    executable, problem = find_chromium()
    if executable is None:
        pytest.fail(
            f"Chromium is needed for the browser tests. {problem} {INSTALL_HINT}", pytrace=False
        )
    playwright = sync_playwright().start()
    loop = asyncio._get_running_loop()
    assert loop is not None, "Playwright's sync API marks its loop as running between calls"
    # NOTE: patches the standard library while Chromium is up, and only this: Playwright's
    # mark is lifted for a runner and restored after it, so neither side sees the other's loop.
    patches = pytest.MonkeyPatch()
    for owner, name in ((asyncio.Runner, "run"), (asyncio.Runner, "close"), (asyncio, "run")):
        patches.setattr(owner, name, _lifting_playwrights_mark(getattr(owner, name), loop))
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
    except Error as exc:
        playwright.stop()
        patches.undo()
        pytest.fail(f"Chromium at {executable} did not start: {exc}\n{INSTALL_HINT}", pytrace=False)
    _RUNNING = _Chromium(playwright, browser, loop, patches)
    return _RUNNING


def _stop() -> None:
    global _RUNNING
    running, _RUNNING = _RUNNING, None
    if running is None:
        return
    try:
        running.browser.close()
    finally:
        running.playwright.stop()
        running.patches.undo()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless system Chromium for the whole session."""
    yield _start().browser
    _stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own (no cookies shared between tests), British locale."""
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _target(node: dict[str, Any]) -> str:
    # A target is a list of CSS selectors; a nested list steps into an iframe or shadow root.
    parts = node.get("target") or ["(no selector)"]
    return " >>> ".join(" ".join(part) if isinstance(part, list) else str(part) for part in parts)


def assert_accessible(page: Page, context: str) -> None:
    """Run axe-core on the page as it is now; fail listing every serious or critical
    violation (rule id, what it asks for, the first few elements, where to read more).

    ``context`` names the page or state for the failure message, e.g. "sign-in, with errors".
    Moderate and minor findings are not failures here; WCAG 2.2 AA still applies to them.
    """
    __tracebackhide__ = True
    results = Axe().run(page)
    violations = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in FAILING_IMPACTS
    ]
    if not violations:
        return
    lines = [
        f"{context}: {len(violations)} serious or critical accessibility violation(s) "
        f"found by axe-core at {page.url}:"
    ]
    for violation in violations:
        nodes = violation.get("nodes", [])
        shown = ", ".join(_target(node) for node in nodes[:NODES_SHOWN])
        more = f" and {len(nodes) - NODES_SHOWN} more" if len(nodes) > NODES_SHOWN else ""
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}; "
            f"at {shown}{more} ({violation.get('helpUrl', '')})"
        )
    raise AssertionError("\n".join(lines))
