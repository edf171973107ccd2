"""Content-addressed cache of intermediate products.

A product's key is the sha256 of a canonical JSON document holding the stage name,
geomap's version and a fingerprint of its code (so a product made by other code is never
reused), and everything the product depends on (dataset file hashes, grid,
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
import tempfile
import warnings
import zlib
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

from geomap.core.atomic import atomic_dir
from geomap.core.fingerprint import code_fingerprint
from geomap.errors import ExportError

__all__ = ["ProductCache", "canonical_json", "product_key"]

T = TypeVar("T")

CHECKSUMS = "checksums.json"
"""Per product: the size and CRC-32 of every file, written last, checked before each read."""


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
    """Return the cache key of a product of ``stage`` computed from ``inputs`` by this code."""
    from geomap._version import __version__

    code = {"version": __version__, "fingerprint": code_fingerprint()}
    text = canonical_json({"stage": stage, "geomap": code, "inputs": inputs})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ProductCache:
    """Cache of pipeline products under ``root``.

    Parameters
    ----------
    root : Path
        The cache folder (created on demand).
    enabled : bool, default True
        With ``False`` every product is recomputed and not kept between builds; Dask-backed
        products are still computed once, into a scratch folder removed by :meth:`close`.
    """

    root: Path
    enabled: bool = True
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    _scratch: tempfile.TemporaryDirectory[str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

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
            value = compute()
            if not _is_lazy(value):
                return value, key
            # a Dask-backed product is computed once, into a scratch folder that lives as
            # long as this cache (lazily loaded products keep reading their files)
            folder = self._scratch_folder() / stage / key
            with atomic_dir(folder, overwrite=True, geomap_owned=True) as tmp:
                save(value, tmp)
            return load(folder), key
        final = self.path(stage, key)
        label = f"{stage}/{key[:12]}"
        if final.is_dir():  # products appear whole (atomic rename): no lock needed to read
            found, problem = self._load_checked(final, load)
            if problem is None:
                self.hits.append(label)
                return found, key  # type: ignore[return-value]
        lock = self._lock(stage, key)
        try:
            if final.is_dir():  # another build finished it while this one waited
                found, problem = self._load_checked(final, load)
                if problem is None:
                    self.hits.append(label)
                    return found, key  # type: ignore[return-value]
                self._discard(final, f"{label}: {problem}")
            value = compute()
            with atomic_dir(final, geomap_owned=True) as tmp:
                save(value, tmp)
                (tmp / "inputs.json").write_text(
                    json.dumps(
                        {"stage": stage, "inputs": json.loads(canonical_json(inputs))}, indent=1
                    ),
                    encoding="utf-8",
                )
                write_checksums(tmp)
        finally:
            lock.release()
        self.misses.append(label)
        return load(final), key

    @staticmethod
    def _load_checked(folder: Path, load: Callable[[Path], T]) -> tuple[T | None, str | None]:
        """Load a product whose files match their checksums; else say what is wrong."""
        problem = checksum_problem(folder)
        if problem is not None:
            return None, problem
        try:
            return load(folder), None
        except Exception as exc:  # an unreadable entry is a miss, not a crash
            return None, f"unreadable ({type(exc).__name__}: {exc})"

    def _discard(self, folder: Path, what: str) -> None:
        """Move a damaged product out of the way (under its lock) and report it."""
        self.damaged.append(what)
        warnings.warn(f"cached product {what}; recomputing it", stacklevel=3)
        try:
            aside = Path(
                tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".bad", dir=folder.parent)
            )
            os.replace(folder, aside)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        shutil.rmtree(aside, ignore_errors=True)

    def clear(self) -> None:
        """Remove every cached product."""
        shutil.rmtree(self.root, ignore_errors=True)

    def _scratch_folder(self) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="geomap-products-")
        return Path(self._scratch.name)

    def close(self) -> None:
        """Remove the scratch folder of a disabled cache (products computed for one build).

        Call it once nothing reads the products any more; it is also removed when the cache
        object is garbage-collected.
        """
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _file_crc32(path: Path) -> str:
    """Return the CRC-32 of a file (hex): zlib's, about twice as fast as sha256 here."""
    crc = 0
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(piece, crc)
    return f"{crc:08x}"


def write_checksums(folder: Path) -> None:
    """Record the size and CRC-32 of every file of a product (``checksums.json``).

    The checksums detect damage (a truncated file, changed bytes), not deliberate
    tampering: whoever can write the cache can rewrite this file too.
    """
    files = {
        path.relative_to(folder).as_posix(): [path.stat().st_size, _file_crc32(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != CHECKSUMS
    }
    (folder / CHECKSUMS).write_text(json.dumps({"crc32": files}), encoding="utf-8")


def checksum_problem(folder: Path) -> str | None:
    """Say what is wrong with a product's files (``None`` when every checksum matches).

    Sizes are compared first (cheap: a truncated file is found without reading it), then the
    CRC-32 of every file; a file missing, added or changed is a problem.
    """
    try:
        document = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
        recorded = {str(k): (int(v[0]), str(v[1])) for k, v in document["crc32"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return f"no valid {CHECKSUMS}"
    present = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and path.name != CHECKSUMS
    }
    extra = sorted(set(present) - set(recorded))
    missing = sorted(set(recorded) - set(present))
    if missing or extra:
        return f"files missing {missing[:3]} or unexpected {extra[:3]}"
    try:
        for name, (size, _) in recorded.items():
            if present[name].stat().st_size != size:
                return f"{name} has {present[name].stat().st_size} bytes, {size} were written"
        for name, (_, digest) in recorded.items():
            if _file_crc32(present[name]) != digest:
                return f"{name} differs from the file written (checksum mismatch)"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


# ---- savers and loaders for the product types ---------------------------------------------


_BLOCKS = "blocks"
_LAYOUT = "blocks.json"
_HEADER = "header.nc"


def _is_lazy(value: Any) -> bool:
    from geomap.grid.blocks import is_lazy

    return isinstance(value, xr.Dataset | xr.DataArray) and is_lazy(value)


def _netcdf_ready(value: xr.Dataset | xr.DataArray) -> xr.Dataset:
    ds = value.to_dataset(name="__dataarray__") if isinstance(value, xr.DataArray) else value
    ds = ds.copy()
    for name in ds.data_vars:
        ds[name].attrs = {k: _netcdf_attr(v) for k, v in ds[name].attrs.items()}
    ds.attrs = {k: _netcdf_attr(v) for k, v in ds.attrs.items()}
    return ds


def _write_failed(path: Path, exc: Exception) -> ExportError:
    return ExportError(
        f"writing {path} failed ({getattr(exc, 'strerror', None) or exc}); free disk space, "
        "or set GEOMAP_PRODUCT_CACHE to another folder"
    )


def _write_netcdf(ds: xr.Dataset, path: Path) -> None:
    try:
        ds.to_netcdf(path, engine="netcdf4")
    except RuntimeError as exc:  # netCDF4/HDF5 report a full disk as "NetCDF: HDF error"
        raise _write_failed(path, exc) from exc


def _block_path(folder: Path, variable: int, i: int, j: int) -> Path:
    return folder / _BLOCKS / str(variable) / f"{i:05d}_{j:05d}.npy"


def _write_block(values: np.ndarray, path: Path) -> None:
    try:
        np.save(path, np.ascontiguousarray(values), allow_pickle=False)
    except OSError as exc:
        raise _write_failed(path, exc) from exc


def _read_block(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save_dataset(
    value: xr.Dataset | xr.DataArray, folder: Path, *, progress: str | None = None
) -> None:
    """Store a Dataset or DataArray (CRS kept in ``spatial_ref``).

    A NumPy-backed value becomes one NetCDF file, ``data.nc``.  A Dask-backed value is
    computed a few block positions at a time on the active Dask scheduler (threads or a
    distributed cluster; :func:`geomap.grid.blocks.iter_blocks`) and each block of each
    variable is saved by this process to its own ``.npy`` file (``blocks/<variable>/<row>_
    <col>.npy``; names, attributes, CRS and encodings in ``header.nc``, one cell of every
    variable; the layout and the coordinates in ``blocks.json``), so memory holds those
    blocks, never the grid.  Reading the product back lazily on a distributed cluster needs
    the cache folder on storage the workers share with the client.

    Parameters
    ----------
    value : Dataset or DataArray
    folder : Path
        An existing, empty folder (the cache renames it into place when complete).
    progress : str, optional
        Label of a progress display over the blocks (Dask-backed values).
    """
    ds = _netcdf_ready(value)
    if not _is_lazy(ds):
        _write_netcdf(ds, folder / "data.nc")
        return
    ds = ds.unify_chunks()
    names = list(ds.data_vars)
    for name in names:
        if ds[name].dims != ("y", "x"):
            raise ExportError(
                f"cannot store variable {name!r} with dims {ds[name].dims} block by block; "
                "every variable of a chunked product must have dims ('y', 'x')"
            )
    header = ds.isel(y=slice(0, 1), x=slice(0, 1))
    for name in names:  # names, dtypes, attributes and encodings; the values are not used
        header[name] = header[name].copy(data=np.zeros((1, 1), dtype=ds[name].dtype))
    _write_netcdf(header, folder / _HEADER)
    from geomap.grid.blocks import iter_blocks

    row_sizes, col_sizes = ds.chunks["y"], ds.chunks["x"]
    for k in range(len(names)):
        (folder / _BLOCKS / str(k)).mkdir(parents=True)
    # a few block positions at a time, every variable there, written here: memory holds those
    # blocks whatever the grid size and however the graphs of the variables interleave, and
    # workers of a distributed cluster never write to this folder
    for block in iter_blocks([ds[name] for name in names], progress=progress):
        i, j = block.index
        for k, values in enumerate(block.values):
            _write_block(values, _block_path(folder, k, i, j))
    layout = {
        "variables": names,
        "rows": [int(r) for r in row_sizes],
        "cols": [int(c) for c in col_sizes],
        "y": ds["y"].values.tolist(),
        "x": ds["x"].values.tolist(),
    }
    (folder / _LAYOUT).write_text(json.dumps(layout), encoding="utf-8")


def _netcdf_attr(value: Any) -> Any:
    if isinstance(value, str | int | float | np.number | np.ndarray | list):
        return value
    return json.dumps(value, default=_default)


def _load_blocks(folder: Path, layout: dict[str, Any], lazy: bool) -> xr.Dataset:
    with xr.open_dataset(folder / _HEADER, engine="netcdf4", decode_coords="all") as header:
        header = header.load()
    y = np.asarray(layout["y"], dtype=header["y"].dtype)
    x = np.asarray(layout["x"], dtype=header["x"].dtype)
    rows, cols = layout["rows"], layout["cols"]
    variables = {}
    for k, name in enumerate(layout["variables"]):
        template = header[name]
        if lazy:
            import dask
            import dask.array as dsa

            data: Any = dsa.block(
                [
                    [
                        dsa.from_delayed(
                            dask.delayed(_read_block, pure=True)(str(_block_path(folder, k, i, j))),
                            shape=(h, w),
                            dtype=template.dtype,
                        )
                        for j, w in enumerate(cols)
                    ]
                    for i, h in enumerate(rows)
                ]
            )
        else:
            data = np.block(
                [
                    [_read_block(str(_block_path(folder, k, i, j))) for j in range(len(cols))]
                    for i in range(len(rows))
                ]
            )
        variable = xr.Variable(("y", "x"), data, template.attrs)
        variable.encoding = dict(template.encoding)
        variables[name] = variable
    coords = {
        "y": xr.Variable("y", y, header["y"].attrs),
        "x": xr.Variable("x", x, header["x"].attrs),
        **{
            str(c): header.coords[c].variable
            for c in header.coords
            if c not in ("y", "x") and not set(header.coords[c].dims) & {"y", "x"}
        },
    }
    ds = xr.Dataset(variables, coords=coords, attrs=header.attrs)
    for name in ds.data_vars:
        ds[name].encoding = dict(variables[name].encoding)
    return ds


def load_dataset(folder: Path, *, chunks: Any = None) -> xr.Dataset:
    """Read a stored Dataset.

    Parameters
    ----------
    folder : Path
        A product folder written by :func:`save_dataset`.
    chunks : None, "auto", int or (int, int)
        ``None`` reads every value into memory (the files are closed afterwards).  Otherwise
        the result is Dask-backed in blocks of this size, read lazily from the product's
        files, which must stay in place while it is used (cache products never change).
    """
    from geomap.grid import resolve_chunks

    layout_path = folder / _LAYOUT
    if layout_path.exists():
        layout = json.loads(layout_path.read_text(encoding="utf-8"))
        ds = _load_blocks(folder, layout, lazy=chunks is not None)
        if chunks is None:
            return ds
    elif chunks is None:
        with xr.open_dataset(folder / "data.nc", engine="netcdf4", decode_coords="all") as ds:
            return ds.load()
    else:
        ds = xr.open_dataset(folder / "data.nc", engine="netcdf4", decode_coords="all", chunks={})
    block = resolve_chunks(chunks, (ds.sizes["y"], ds.sizes["x"]))
    assert block is not None
    wanted = {"y": block[0], "x": block[1]}
    if ds.chunks.get("y", ())[:1] == (block[0],) and ds.chunks.get("x", ())[:1] == (block[1],):
        return ds
    return ds.chunk(wanted)


def load_dataarray(folder: Path, *, chunks: Any = None) -> xr.DataArray:
    """Read a stored DataArray (lazily with ``chunks``, as :func:`load_dataset`)."""
    return load_dataset(folder, chunks=chunks)["__dataarray__"].rename(None)


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
