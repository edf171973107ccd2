"""The fingerprint of geomap's own code: part of every cache key (products, occurrence index).

On the ground floor, apart from :mod:`geomap.pipeline.cache`, so that light callers (the occurrence
index behind ``geomap occurrences``) can compute it without importing xarray or rioxarray.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["code_fingerprint"]


@functools.cache
def code_fingerprint() -> str:
    """Return the sha256 of geomap's own source and data files (``*.py``, ``*.yaml``, ``*.json``).

    Part of every product key, so a product computed by other code (an upgrade, a local edit,
    a development checkout between releases) is never served from the cache.
    """
    package = Path(__file__).resolve().parents[1]  # geomap/, from geomap/core/fingerprint.py
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
