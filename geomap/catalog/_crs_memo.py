"""The catalog's CRS texts PROJ has accepted, kept so a later load need not parse them again.

Validating the catalog asks pyproj to parse every CRS it names; the first parse in a process
opens PROJ's database and costs about 0.1-0.2 s, on every ``geomap`` command.  A text that
this pyproj (with this PROJ data) accepted once is accepted again, so the accepted texts (and
whether each is projected) are kept in ``<download cache>/catalog-crs.json``, keyed by
pyproj's version and the PROJ data folder.  A text not in the file is parsed as before (an
invalid one is an error and is never kept); a file that cannot be read or written is ignored.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

from geomap import _paths

__all__ = ["is_projected", "save"]

_FILE = "catalog-crs.json"
_pending: dict[str, bool] = {}


def _stamp() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pyproj_version = version("pyproj")
    except PackageNotFoundError:  # pragma: no cover - pyproj is a dependency
        pyproj_version = "?"
    data = os.environ.get("PROJ_DATA") or os.environ.get("PROJ_LIB") or ""
    return f"pyproj {pyproj_version}; PROJ data {data}"


def _path() -> Path:
    return _paths.cache_dir() / _FILE


@functools.lru_cache(maxsize=1)
def _known() -> dict[str, bool]:
    try:
        document = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("stamp") != _stamp():
        return {}
    entries = document.get("crs")
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, bool)}


def is_projected(value: str, parse: Callable[[str], object]) -> bool:
    """Return whether a CRS text is projected, parsing it (``parse``) unless it was accepted.

    ``parse`` raises ``ValueError`` on an invalid text; only accepted texts are kept.
    """
    known = _known()
    if value in known:
        return known[value]
    projected = bool(getattr(parse(value), "is_projected", False))
    _pending[value] = projected
    return projected


def save() -> None:
    """Write the texts accepted in this process to the file (best effort, atomically)."""
    if not _pending:
        return
    merged = {**_known(), **_pending}
    path = _path()
    try:
        from geomap.core.atomic import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(
                json.dumps({"stamp": _stamp(), "crs": merged}, sort_keys=True), encoding="utf-8"
            )
    except OSError:
        return
    _pending.clear()
    _known.cache_clear()
