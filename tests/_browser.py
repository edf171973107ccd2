"""Headless Chromium with the network blocked, for the map tests.

Chromium comes from Debian's ``chromium`` package (``python3 dev.py test`` installs it);
Playwright drives it without downloading a browser.  Every request that is not a local file
(or a ``data:``/``blob:`` URL) is aborted and recorded: the maps must not need any.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


def chromium_path() -> str:
    """Debian's Chromium, or skip with the command that installs it."""
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip(
        "Debian's chromium is not installed and could not be installed here; "
        "`python3 dev.py test` installs it (apt-get install chromium)"
    )
    raise AssertionError  # unreachable


@dataclass
class Visit:
    page: Any
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def js(self, script: str, arg: Any = None) -> Any:
        """Evaluate ``script``; ``__MAP__`` stands for the page's Leaflet map."""
        return self.page.evaluate(script.replace("__MAP__", MAP_JS), arg)


def _open(browser: Any, path: Path, *, wait_ms: int = 1500) -> Visit:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    visit = Visit(page)

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            visit.blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and visit.console_errors.append(m.text))
    page.on("pageerror", lambda e: visit.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: visit.failed.append(r.url[:200]))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.querySelector('.leaflet-container') !== null")
    page.wait_for_timeout(wait_ms)
    return visit


MAP_JS = "window[document.querySelector('.folium-map').id]"


def _assert_clean(visit: Visit) -> None:
    assert visit.blocked == [], f"the page asked the network for {visit.blocked[:5]}"
    assert visit.page_errors == [], visit.page_errors
    assert visit.console_errors == [], visit.console_errors
    assert visit.failed == [], f"requests failed: {visit.failed[:5]}"
