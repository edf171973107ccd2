"""Shared fixtures.  Area-specific fixtures live in the test modules that use them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geomap import _paths


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The mirrored data folder; the real-data tests need it."""
    roots = _paths.data_roots()
    if not roots:
        pytest.fail(
            "no mirrored data found: put ../shared/data beside the checkout or set GEOMAP_DATA_DIR"
        )
    return roots[0]


@pytest.fixture(scope="session")
def catalog():
    """The project catalog."""
    from geomap.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def _session_occurrence_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One occurrence index per test session: its entries are keyed by content and code."""
    return tmp_path_factory.mktemp("occurrence-index")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    _session_occurrence_index: Path,
) -> None:
    """Give every test a private download cache so no test sees another's downloads.

    The occurrence index is shared by the session (tests/test_occurrence_index.py gives each
    of its tests a fresh one): it is a pure function of the sources' hashes and geomap's code.
    """
    if "GEOMAP_TEST_KEEP_CACHE" not in os.environ:
        monkeypatch.setenv("GEOMAP_CACHE_DIR", str(tmp_path_factory.mktemp("geomap-cache")))
        monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX_DIR", str(_session_occurrence_index))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's package, driven by Playwright); see ``tests/_browser.py``."""
    from _browser import CHROMIUM_ARGS, chromium_path

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the recipes' validation lines (AUC, capture, reasons) after the test run.

    Tests attach them with ``record_property("validation_summary", text)``
    (``tests/test_model_recipes.py``); pytest captures ``print``, this section is not.
    """
    lines: dict[str, str] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == "validation_summary":
                    lines.setdefault(f"{report.nodeid}\0{value}", str(value))
    if not lines:
        return
    terminalreporter.section("recipe validation: spatial-CV and region hold-out AUC, capture")
    for key in sorted(lines):
        for line in lines[key].splitlines():
            terminalreporter.write_line(line)
