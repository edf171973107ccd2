"""Where geomap finds its catalog, recipes, mirrored data and cache.

Resolution order (first hit wins):

* catalog: ``$GEOMAP_CATALOG``, ``data_catalog.yaml`` at the checkout root, the copy
  bundled in the wheel;
* recipes: ``$GEOMAP_LAYERS``, ``layers/`` at the checkout root, the bundled copy;
* mirrored data roots: every directory in ``$GEOMAP_DATA_DIR`` (``os.pathsep``
  separated), then ``../shared/data`` beside the checkout;
* download cache: ``$GEOMAP_CACHE_DIR``, else the per-user cache (``pooch.os_cache``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"


def catalog_path() -> Path:
    """Return the path of the data catalog in use."""
    env = os.environ.get("GEOMAP_CATALOG")
    if env:
        return Path(env)
    local = CHECKOUT_ROOT / "data_catalog.yaml"
    return local if local.exists() else BUNDLED_DIR / "data_catalog.yaml"


def catalog_root(catalog: Path) -> Path:
    """Return the folder a catalog's relative paths (its ``registry``) are resolved against.

    The folder holding the catalog, except for the copy bundled in the wheel, whose paths are
    those of the checkout it was built from (the package's parent folder).
    """
    if catalog.resolve() == (BUNDLED_DIR / "data_catalog.yaml").resolve():
        return CHECKOUT_ROOT
    return catalog.parent


def registry_folder(catalog: Path, relative: str) -> Path:
    """Return a catalog's registry folder: beside the catalog, else in the project.

    ``relative`` (the catalog's ``registry`` key) is looked up against the catalog's folder
    (:func:`catalog_root`) and, when no such folder is there (a copy of the catalog kept
    elsewhere), against the project root, the folder holding the ``geomap`` package.
    """
    own = catalog_root(catalog) / relative
    if own.is_dir():
        return own
    project = CHECKOUT_ROOT / relative
    return project if project.is_dir() else own


def layers_dir() -> Path:
    """Return the directory holding the shipped recipes."""
    env = os.environ.get("GEOMAP_LAYERS")
    if env:
        return Path(env)
    local = CHECKOUT_ROOT / "layers"
    return local if local.is_dir() else BUNDLED_DIR / "layers"


def data_roots() -> list[Path]:
    """Return the local mirror directories searched before any download."""
    roots: list[Path] = []
    env = os.environ.get("GEOMAP_DATA_DIR")
    if env:
        roots.extend(Path(p) for p in env.split(os.pathsep) if p)
    shared = CHECKOUT_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        roots.append(shared)
    return roots


def cache_dir() -> Path:
    """Return the download cache directory (created on demand by the caller)."""
    env = os.environ.get("GEOMAP_CACHE_DIR")
    if env:
        return Path(env)
    try:  # what pooch.os_cache("geomap") returns, without importing pooch and requests
        import platformdirs
    except ImportError:  # pragma: no cover - platformdirs comes with pooch
        import pooch

        return Path(pooch.os_cache("geomap"))
    return Path(platformdirs.user_cache_dir("geomap"))
