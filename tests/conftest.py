"""Shared fixtures.  Area-specific fixtures live in the test modules that use them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from geomap import _paths

# Property tests draw the same examples on every run (seeded from each test), so a run of
# `.ci/run` is reproducible; HYPOTHESIS_PROFILE=explore draws fresh examples to hunt for more.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))

LONGEST_FILES = (
    "test_notebooks.py",
    "test_build_faults.py",
    "test_demo.py",
    "test_pipeline.py",
    "test_distributed.py",
    "test_scale.py",
    "test_geochem_evidence.py",
    "test_injection.py",
    "test_user_data.py",
    "test_cache_integrity.py",
    "test_browser.py",
)
"""The test files that take longest (``--durations`` of a whole run, December 2026), longest first.

Under pytest-xdist (``python3 dev.py test``: ``--dist loadfile --no-loadscope-reorder``) the
workers take whole files in collection order; starting with these keeps one long file from
running alone at the end while the other workers idle.  Order only: a stale list costs time,
never a result.
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, collect the longest files first (see :data:`LONGEST_FILES`)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {name: position for position, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


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


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Return a folder of this test run shared by every pytest-xdist worker (created).

    Each worker has its own base temporary folder (``.../pytest-N/popen-gw0``); their parent is
    the run's.  Without xdist the folder lies in the session's own base temporary folder.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def _session_occurrence_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One occurrence index per test run: its entries are keyed by content and code.

    Shared by the xdist workers: entries are written atomically, so two workers writing the
    same entry at once leave one whole file.
    """
    return shared_folder(tmp_path_factory, "occurrence-index")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_cache(
    tmp_path_factory: pytest.TempPathFactory, _session_occurrence_index: Path
) -> Iterator[None]:
    """Keep session- and module-scoped fixtures out of the user's download and product caches.

    They run before the per-test ``_isolated_cache`` below; without this they would read and
    write ``~/.cache/geomap`` (and a warm user cache would make a run depend on earlier ones).
    """
    if "GEOMAP_TEST_KEEP_CACHE" in os.environ:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOMAP_CACHE_DIR", str(tmp_path_factory.mktemp("geomap-session-cache")))
        patch.setenv("GEOMAP_OCCURRENCE_INDEX_DIR", str(_session_occurrence_index))
        yield


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


@dataclass(frozen=True)
class SharedBuild:
    """A finished ``geomap build``: its output folder, its product cache and its result."""

    out: Path
    cache: Path
    result: Any


@pytest.fixture(scope="session")
def japan_vms_build(tmp_path_factory: pytest.TempPathFactory) -> SharedBuild:
    """``geomap build kuroko-vms --region japan --resolution 50000``, once per test run.

    The smallest real build (every stage, leave-one-state-out and the cell-size stability
    rebuild included), shared by the modules that need a finished build to start from.  Its
    folder and its product cache are read-only for the tests: a test that damages or adds
    products works on a copy (``shutil.copytree(japan_vms_build.cache, ...)``).  Under xdist
    the workers share the product cache (its products are locked per key, so the second
    worker waits and reads them) and each writes its own output folder.
    """
    from geomap.pipeline import build

    cache = shared_folder(tmp_path_factory, "japan-vms-50km-products")
    out = tmp_path_factory.mktemp("japan-vms-50km") / "out"
    result = build(
        "kuroko-vms",
        region="japan",
        resolution_m=50_000,
        out=out,
        cache_dir=cache,
        progress=False,
    )
    return SharedBuild(out=out, cache=cache, result=result)
