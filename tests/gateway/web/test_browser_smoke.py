"""The browser-test chain works end to end: the system Chromium, driven by Playwright, loads
a page from a live gateway over real HTTP, and axe-core passes an accessible page and fails an
inaccessible one, naming each serious or critical violation; and async tests still run in the
same thread while Chromium is up."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Page

from gateway.runtime import Runtime
from tests.support.browser import assert_accessible

# The browser fixtures' plugin; tests/conftest.py registers it for every module, and naming it
# here too keeps this module runnable on its own (a plugin is registered once).
pytestmark = pytest.mark.browser

ACCESSIBLE = """<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Sign in - GovConnect</title></head>
<body>
<header><a href="#main">Skip to main content</a></header>
<main id="main">
  <h1>Sign in</h1>
  <form method="post" action="/sign-in">
    <label for="email">Email address</label>
    <input id="email" name="email" type="email" autocomplete="email">
    <button type="submit">Continue</button>
  </form>
  <p><a href="/help"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Help"></a></p>
</main>
</body>
</html>"""

INACCESSIBLE = """<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Sign in - GovConnect</title></head>
<body>
<main>
  <h1>Sign in</h1>
  <form method="post" action="/sign-in">
    <input id="email" name="email" type="email">
    <button type="submit">Continue</button>
  </form>
  <p><a href="/help"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></a></p>
</main>
</body>
</html>"""


def test_chromium_shows_a_page_of_the_live_gateway(page: Page, gateway_url: str) -> None:
    response = page.goto(f"{gateway_url}/healthz")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(page.locator("pre").first.inner_text()) == {"status": "ok"}


def test_axe_passes_an_accessible_page_and_fails_an_inaccessible_one(page: Page) -> None:
    page.set_content(ACCESSIBLE)
    assert_accessible(page, "accessible sign-in form")

    page.set_content(INACCESSIBLE)
    with pytest.raises(AssertionError) as caught:
        assert_accessible(page, "inaccessible sign-in form")
    report = str(caught.value)
    assert report.startswith("inaccessible sign-in form: ")
    for rule in ("image-alt (critical)", "link-name (serious)", "label (critical)"):
        assert rule in report, report
    assert "#email" in report and "dequeuniversity.com" in report


async def test_async_tests_run_while_chromium_is_up(browser: Browser, runtime: Runtime) -> None:
    # Playwright's sync API marks its loop as running between calls; the browser plugin lifts
    # that mark while pytest-asyncio's runner runs this test (see tests/support/browser.py).
    assert await runtime.redis.ping()
