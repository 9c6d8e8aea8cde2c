"""Driving pages over real HTTP the way a browser with JavaScript off would."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_BODY = re.compile(r"data-body>(.*?)</pre>", re.DOTALL)
_CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Browser:
    """A cookie jar and the CSRF token of the last page, over ``httpx``."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.base_url, headers=self.headers, follow_redirects=True, timeout=30
        )
        self.csrf = ""

    def get(self, path: str) -> httpx.Response:
        response = self.client.get(path)
        if match := _CSRF.search(response.text):
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        form = {"csrf_token": self.csrf, **data} if csrf else data
        response = self.client.post(path, data=form)
        if match := _CSRF.search(response.text):
            self.csrf = match.group(1)
        return response

    def submit(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Open ``page`` for its CSRF token, then post ``data`` to ``action``."""
        self.get(page)
        return self.post(action, data)

    def close(self) -> None:
        self.client.close()


def latest_code(outbox_html: str) -> str:
    """The newest six-digit code on the development outbox page (newest messages first)."""
    for body in _BODY.findall(outbox_html):
        if match := _CODE.search(body):
            return match.group(1)
    raise AssertionError("no code in the outbox")
