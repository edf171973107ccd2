"""Content-addressed cache of intermediate products.

A product's key is the sha256 of a canonical JSON document holding the stage name,
geomap's version and everything the product depends on (dataset file hashes, grid,
parameters, the keys of upstream products, random seeds).  Change one parameter and
only the products whose keys include it are recomputed.

Products live in ``<root>/<stage>/<key>/`` and appear there atomically (written to a
temporary folder, renamed when complete), so a build killed half-way never leaves a
product that a later build could mistake for a finished one.  A lock per key makes a
second build that wants the same product wait for the first instead of computing it
twice or reading it half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - .rio accessor on loaded products
import xarray as xr
from filelock import FileLock

from geomap.errors import ExportError
from geomap.io.atomic import atomic_dir

__all__ = ["ProductCache", "canonical_json", "product_key"]

T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot hash a value of type {type(value).__name__} into a cache key")


def canonical_json(document: Any) -> str:
    """Return the canonical JSON text of ``document`` (sorted keys, no whitespace)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=_default)


def product_key(stage: str, inputs: dict[str, Any]) -> str:
    """Return the cache key of a product of ``stage`` computed from ``inputs``."""
    from geomap import __version__

    text = canonical_json({"stage": stage, "geomap": __version__, "inputs": inputs})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ProductCache:
    """Cache of pipeline products under ``root``.

    Parameters
    ----------
    root : Path
        The cache folder (created on demand).
    enabled : bool, default True
        With ``False`` every product is recomputed (and not stored).
    """

    root: Path
    enabled: bool = True
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def path(self, stage: str, key: str) -> Path:
        """Return the folder of one product."""
        return self.root / stage / key

    def _unwritable(self, exc: OSError) -> ExportError:
        return ExportError(
            f"product cache {self.root} cannot be written ({exc.strerror or exc}); "
            "set GEOMAP_PRODUCT_CACHE to a writable folder with free space, or disable "
            "the cache"
        )

    def _lock(self, stage: str, key: str) -> FileLock:
        """Create and acquire the lock of one product (ExportError if the cache is read-only)."""
        lock_dir = self.root / ".locks"
        try:
            lock_dir.mkdir(parents=True, exist_ok=True)
            (self.root / stage).mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_dir / f"{stage}-{key[:32]}.lock"))
            lock.acquire()
        except OSError as exc:
            raise self._unwritable(exc) from exc
        return lock

    def get_or_compute(
        self,
        stage: str,
        inputs: dict[str, Any],
        compute: Callable[[], T],
        *,
        save: Callable[[T, Path], None],
        load: Callable[[Path], T],
    ) -> tuple[T, str]:
        """Return the cached product, or compute, store and return it.

        Parameters
        ----------
        stage : str
            The stage name (a folder of the cache).
        inputs : dict
            Everything the product depends on; hashed into its key.
        compute : callable
            Makes the product.
        save, load : callable
            Write the product into a folder; read it back.

        Returns
        -------
        tuple
            The product (as read back from the cache, so a first and a second run
            hand identical values downstream) and its key.
        """
        key = product_key(stage, inputs)
        if not self.enabled:
            self.misses.append(f"{stage}/{key[:12]}")
            return compute(), key
        final = self.path(stage, key)
        if final.is_dir():  # products appear whole (atomic rename): no lock needed to read
            self.hits.append(f"{stage}/{key[:12]}")
            return load(final), key
        lock = self._lock(stage, key)
        try:
            if final.is_dir():  # another build finished it while this one waited
                self.hits.append(f"{stage}/{key[:12]}")
                return load(final), key
            value = compute()
            with atomic_dir(final) as tmp:
                save(value, tmp)
                (tmp / "inputs.json").write_text(
                    json.dumps(
                        {"stage": stage, "inputs": json.loads(canonical_json(inputs))}, indent=1
                    ),
                    encoding="utf-8",
                )
        finally:
            lock.release()
        self.misses.append(f"{stage}/{key[:12]}")
        return load(final), key

    def clear(self) -> None:
        """Remove every cached product."""
        shutil.rmtree(self.root, ignore_errors=True)


# ---- savers and loaders for the product types ---------------------------------------------


def save_dataset(value: xr.Dataset | xr.DataArray, folder: Path) -> None:
    """Store a Dataset or DataArray as NetCDF (CRS kept in ``spatial_ref``)."""
    ds = value.to_dataset(name="__dataarray__") if isinstance(value, xr.DataArray) else value
    ds = ds.copy()
    for name in ds.data_vars:
        ds[name].attrs = {k: _netcdf_attr(v) for k, v in ds[name].attrs.items()}
    ds.attrs = {k: _netcdf_attr(v) for k, v in ds.attrs.items()}
    try:
        ds.to_netcdf(folder / "data.nc", engine="netcdf4")
    except RuntimeError as exc:  # netCDF4/HDF5 report a full disk as "NetCDF: HDF error"
        raise ExportError(
            f"writing {folder / 'data.nc'} failed ({exc}); free disk space, or set "
            "GEOMAP_PRODUCT_CACHE to another folder"
        ) from exc


def _netcdf_attr(value: Any) -> Any:
    if isinstance(value, str | int | float | np.number | np.ndarray | list):
        return value
    return json.dumps(value, default=_default)


def load_dataset(folder: Path) -> xr.Dataset:
    """Read a stored Dataset fully into memory (the file is closed afterwards)."""
    with xr.open_dataset(folder / "data.nc", engine="netcdf4", decode_coords="all") as ds:
        return ds.load()


def load_dataarray(folder: Path) -> xr.DataArray:
    """Read a stored DataArray."""
    return load_dataset(folder)["__dataarray__"].rename(None)


def save_frame(value: gpd.GeoDataFrame | pd.DataFrame, folder: Path) -> None:
    """Store a (Geo)DataFrame as (Geo)Parquet."""
    value.to_parquet(folder / "data.parquet")
    if value.attrs:
        (folder / "attrs.json").write_text(
            json.dumps(value.attrs, default=_default), encoding="utf-8"
        )


def load_frame(folder: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a stored (Geo)DataFrame with its ``attrs``."""
    import pyarrow.parquet as pq

    path = folder / "data.parquet"
    metadata = pq.read_schema(path).metadata or {}
    frame = gpd.read_parquet(path) if b"geo" in metadata else pd.read_parquet(path)
    attrs_path = folder / "attrs.json"
    if attrs_path.exists():
        frame.attrs = json.loads(attrs_path.read_text(encoding="utf-8"))
    return frame


def save_json(value: Any, folder: Path) -> None:
    """Store a JSON-serialisable value."""
    (folder / "data.json").write_text(canonical_json(value), encoding="utf-8")


def load_json(folder: Path) -> Any:
    """Read a stored JSON value."""
    return json.loads((folder / "data.json").read_text(encoding="utf-8"))


def cache_root() -> Path:
    """Return the default product cache (``$GEOMAP_CACHE_DIR/products``)."""
    from geomap import _paths

    return Path(os.environ.get("GEOMAP_PRODUCT_CACHE", _paths.cache_dir() / "products"))
