"""The occurrence index: each occurrence dataset's harmonized frame, kept as GeoParquet.

Reading and harmonizing every occurrence source (about 58,000 MinMod, USMIN and carbonatite
records) takes seconds; :func:`geomap.read_occurrences` (and ``geomap occurrences``) does it on
every call.  The index keeps what :func:`geomap.io.read` returns for each dataset, every column
and its ``attrs`` (the ingest report), in ``<download cache>/occurrence-index/<id>.parquet``,
so a later query reads a few MB of GeoParquet instead.

An entry is used only when its key matches: the sha256 of a canonical JSON document holding
geomap's version, the fingerprint of geomap's code
(:func:`geomap.core.fingerprint.code_fingerprint`: any change to a reader, the vocabularies or
the schema gives another key) and the dataset's
catalog entry as far as reading depends on it (reader, options, and every file's path, sha256,
format, CRS and encoding).  Anything else is a miss: the dataset is read again and the entry
rewritten (atomically, so a killed process never leaves half a file).  An entry that cannot be
read back (truncated, corrupt, written by an incompatible library) is reported with a warning
and rebuilt, never trusted.  ``GEOMAP_OCCURRENCE_INDEX=0`` turns the index off;
``GEOMAP_OCCURRENCE_INDEX_DIR`` moves it out of the download cache.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geomap import _paths
from geomap.core import fingerprint

__all__ = [
    "SourcePart",
    "cached_frame",
    "cached_query",
    "deduplicated",
    "frame_digest",
    "index_dir",
    "index_enabled",
    "index_key",
    "index_path",
    "read_indexed",
    "read_part",
    "selection_key",
]

_KEY = "geomap_index_key"
_ATTRS_DIGEST = "geomap_index_attrs_sha256"
_FOLDER = "occurrence-index"


def index_enabled() -> bool:
    """Whether the index is in use (``GEOMAP_OCCURRENCE_INDEX`` not set to 0/false/off/no)."""
    return os.environ.get("GEOMAP_OCCURRENCE_INDEX", "1").strip().lower() not in (
        "0",
        "false",
        "off",
        "no",
    )


def index_dir() -> Path:
    """Return the index folder: ``$GEOMAP_OCCURRENCE_INDEX_DIR``, else in the download cache."""
    env = os.environ.get("GEOMAP_OCCURRENCE_INDEX_DIR")
    return Path(env) if env else _paths.cache_dir() / _FOLDER


def index_path(dataset_id: str) -> Path:
    """Return where the index entry of one dataset lives."""
    return index_dir() / f"{dataset_id}.parquet"


def index_key(dataset: Any) -> str:
    """Return the key of a dataset's entry: its files' hashes, its reader and geomap's code."""
    from geomap._version import __version__

    document = {
        "geomap": __version__,
        "code": fingerprint.code_fingerprint(),
        "dataset": dataset.id,
        "reader": dataset.reader,
        "reader_options": dataset.reader_options,
        "files": [[f.path, f.sha256, f.format, f.crs, f.encoding] for f in dataset.files],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _attrs_digest(attrs: dict[str, Any]) -> str:
    """Return the sha256 of an entry's attrs (the key and report), the digest itself left out."""
    body = {k: v for k, v in attrs.items() if k != _ATTRS_DIGEST}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checked_attrs(metadata: dict[bytes, bytes]) -> dict[str, Any]:
    """Return an entry's attrs from its footer, refusing them if their digest does not match.

    Data pages carry CRC32 checksums (verified on every read); this covers the footer's JSON.
    """
    attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}").decode("utf-8"))
    if not isinstance(attrs, dict):
        raise ValueError("the entry's attrs are not a mapping")
    if _KEY in attrs and attrs.get(_ATTRS_DIGEST) != _attrs_digest(attrs):
        raise ValueError("the entry's attrs do not match their sha256")
    return attrs


def _stored_key(path: Path) -> str | None:
    """Return the key recorded in an entry's footer (the frame's ``attrs``), without the rows."""
    import pyarrow.parquet as pq

    attrs = _checked_attrs(pq.read_schema(path).metadata or {})
    key = attrs.get(_KEY)
    return key if isinstance(key, str) else None


def _load(path: Path, key: str) -> Any | None:
    """Return the frame of an entry whose key matches, or ``None`` when it is absent or stale.

    Raises whatever the Parquet reader raises on a damaged file; the caller reports it.
    """
    if not path.is_file() or _stored_key(path) != key:
        return None
    import geopandas as gpd

    frame = gpd.read_parquet(path, page_checksum_verification=True)
    frame.attrs.pop(_ATTRS_DIGEST, None)
    if frame.attrs.pop(_KEY, None) != key:
        raise ValueError("the key in the file's metadata and in its frame differ")
    return frame


def _store(path: Path, key: str, frame: Any) -> None:
    """Write an entry atomically (temporary file beside it, renamed when complete).

    The key travels in the frame's ``attrs``, which GeoParquet files written by geopandas
    keep in their footer (``PANDAS_ATTRS``) beside the ingest report.
    """
    stored = frame.copy(deep=False)
    stored.attrs = {**frame.attrs, _KEY: key}
    stored.attrs[_ATTRS_DIGEST] = _attrs_digest(stored.attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        stored.to_parquet(tmp_name, compression="zstd", index=None, write_page_checksum=True)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _fresh_path(dataset_id: str, catalog: Any) -> tuple[Path, str, bool]:
    """Return the entry's path, its key, and whether a readable entry with that key exists.

    An entry that cannot be read is reported (a warning) and counts as absent.
    """
    dataset = catalog.dataset(dataset_id)
    key = index_key(dataset)
    path = index_path(dataset_id)
    try:
        usable = path.is_file() and _stored_key(path) == key
    except Exception as exc:  # a damaged footer: report, rebuild, never trust
        _warn_unreadable(path, exc)
        usable = False
    return path, key, usable


def _warn_unreadable(path: Path, exc: BaseException) -> None:
    warnings.warn(
        f"occurrence index {path} was unreadable ({type(exc).__name__}: {exc}); "
        "rebuilding it from the source files",
        UserWarning,
        stacklevel=3,
    )


def _build(dataset_id: str, catalog: Any, path: Path, key: str) -> Any:
    """Read a dataset from its sources and write its entry (a failed write is reported)."""
    from geomap.io import read

    frame = read(dataset_id, catalog=catalog)
    try:
        _store(path, key, frame)
    except (OSError, TypeError, ValueError) as exc:
        warnings.warn(
            f"occurrence index not written to {path} ({exc}); later queries read the sources "
            "again: set GEOMAP_CACHE_DIR to a writable folder",
            UserWarning,
            stacklevel=3,
        )
    return frame


def read_indexed(dataset_id: str, catalog: Any) -> Any:
    """Return ``geomap.read(dataset_id)`` from the index, reading and indexing it on a miss.

    Parameters
    ----------
    dataset_id : str
        An occurrence dataset of the catalog.
    catalog : Catalog
        The catalog the dataset's hashes and reader come from.

    Returns
    -------
    GeoDataFrame
        The same frame (columns, dtypes, values, CRS, ``attrs``) as ``geomap.read`` gives.

    Warns
    -----
    UserWarning
        When an entry was unreadable (and is rebuilt) or the cache folder is not writable.
    """
    if not index_enabled():
        from geomap.io import read

        return read(dataset_id, catalog=catalog)
    path, key, usable = _fresh_path(dataset_id, catalog)
    if usable:
        try:
            frame = _load(path, key)
        except Exception as exc:  # damaged row groups: report, rebuild, never trust
            _warn_unreadable(path, exc)
            frame = None
        if frame is not None:
            return frame
    return _build(dataset_id, catalog, path, key)


def _stamp(path: Path) -> tuple[int, int] | None:
    """Modification time and size of an entry (``None`` if it vanished meanwhile)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


_PARTS: dict[tuple[Any, ...], SourcePart] = {}
_PARTS_MAX = 16


def _remember(memo_key: tuple[Any, ...], part: SourcePart) -> None:
    """Keep a selection for this process (a CLI command may ask the same twice)."""
    if len(_PARTS) >= _PARTS_MAX:
        _PARTS.pop(next(iter(_PARTS)))
    _PARTS[memo_key] = dataclasses.replace(part, frame=part.frame.copy())


@dataclass
class SourcePart:
    """The rows of one occurrence dataset inside a region and countries, and what was left out.

    Attributes
    ----------
    frame : GeoDataFrame
        The rows kept, in EPSG:4326, in the dataset's order (index not reset).
    report : dict
        The dataset's ingest report (``attrs["geomap_report"]`` of its frame).
    total : int
        Rows of the whole dataset.
    outside : int
        Rows outside the bounding box.
    not_in_country : int
        Rows inside the box whose country is not one of those wanted.
    """

    frame: Any
    report: dict[str, Any]
    total: int
    outside: int
    not_in_country: int


def _masks(
    lon: Any, lat: Any, country: Any, bbox: Sequence[float] | None, countries: list[str] | None
) -> tuple[Any, int, int]:
    import numpy as np

    keep = np.ones(len(lon), dtype=bool)
    outside = not_in_country = 0
    if bbox is not None:
        west, south, east, north = bbox
        inside = (lat >= south) & (lat <= north)
        inside &= (
            ((lon >= west) & (lon <= east)) if west <= east else ((lon >= west) | (lon <= east))
        )
        outside = int((keep & ~inside).sum())
        keep &= inside
    if countries:
        in_country = country()
        not_in_country = int((keep & ~in_country).sum())
        keep &= in_country
    return keep, outside, not_in_country


def _part_of_frame(
    frame: Any, bbox: Sequence[float] | None, countries: list[str] | None
) -> SourcePart:
    import shapely

    total = len(frame)
    report = frame.attrs.get("geomap_report", {})
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geoms = frame.geometry.to_numpy()
    keep, outside, not_in = _masks(
        shapely.get_x(geoms),
        shapely.get_y(geoms),
        lambda: frame["country"].isin(countries).to_numpy(),
        bbox,
        countries,
    )
    return SourcePart(frame.loc[keep], report, total, outside, not_in)


@functools.lru_cache(maxsize=8)
def _crs_from_projjson(text: str) -> Any:
    import pyproj

    return pyproj.CRS.from_json(text)


def _lonlat(column: Any) -> tuple[Any, Any]:
    """Return x and y of a WKB column; points are decoded in NumPy, anything else by shapely."""
    import numpy as np
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(array)
    if n == 0:
        return np.empty(0, dtype="float64"), np.empty(0, dtype="float64")
    if n and array.null_count == 0 and array.type in (pa.binary(), pa.large_binary()):
        width = np.int64 if array.type == pa.large_binary() else np.int32
        offsets = np.frombuffer(array.buffers()[1], dtype=width)[
            array.offset : array.offset + n + 1
        ]
        if (np.diff(offsets) == 21).all():  # 1 byte order + 4 type + two float64
            data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
            rows = data.reshape(n, 21)
            if (rows[:, :5] == np.array([1, 1, 0, 0, 0], dtype=np.uint8)).all():  # LE 2-D Point
                coords = np.ascontiguousarray(rows[:, 5:]).view("<f8")
                return coords[:, 0].copy(), coords[:, 1].copy()
    import shapely

    geoms = shapely.from_wkb(array.to_numpy(zero_copy_only=False))
    return shapely.get_x(geoms), shapely.get_y(geoms)


def _part_of_entry(
    path: Path, key: str, bbox: Sequence[float] | None, countries: list[str] | None
) -> SourcePart | None:
    """Select rows in Arrow and convert only those to pandas (the slow step for strings).

    Only the geometry (and country) columns are read to choose the rows; the other columns
    are read only when a row is kept.  Returns ``None`` when the entry is not in EPSG:4326 or
    lacks its GeoParquet metadata, so the caller takes the pandas route; raises on a damaged
    file.
    """
    import io

    import geopandas as gpd
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path, page_checksum_verification=True)
    schema = parquet.schema_arrow
    metadata = schema.metadata or {}
    geo = json.loads(metadata.get(b"geo", b"{}").decode("utf-8"))
    column = geo.get("primary_column")
    meta = geo.get("columns", {}).get(column or "", {})
    crs = meta.get("crs")
    epsg = crs.get("id", {}).get("code") if isinstance(crs, dict) else None
    if column is None or meta.get("encoding") != "WKB" or epsg != 4326:
        return None
    attrs = _checked_attrs(metadata)
    if attrs.get(_KEY) != key:
        raise ValueError("the key in the file's metadata changed while it was read")
    probe = parquet.read(columns=[column, "country"] if countries else [column])
    lon, lat = _lonlat(probe.column(column))

    def in_country() -> Any:
        values = pa.array(countries or [], type=pa.string())
        found = pc.is_in(probe.column("country").cast(pa.string()), value_set=values)
        return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)

    keep, outside, not_in = _masks(lon, lat, in_country, bbox, countries)
    rows = np.flatnonzero(keep)
    kept = parquet.read().take(pa.array(rows)) if len(rows) else schema.empty_table()
    # The CRS is parsed once per process (pyproj is slow at it), not once per read.
    meta["crs"] = None
    kept = kept.replace_schema_metadata({**metadata, b"geo": json.dumps(geo).encode("utf-8")})
    buffer = io.BytesIO()
    pq.write_table(kept, buffer)
    buffer.seek(0)
    frame = gpd.read_parquet(buffer)
    frame = frame.set_crs(_crs_from_projjson(json.dumps(crs)), allow_override=True)
    attrs.pop(_KEY, None)
    attrs.pop(_ATTRS_DIGEST, None)
    frame.attrs = attrs
    frame.index = rows
    return SourcePart(frame, attrs.get("geomap_report", {}), len(keep), outside, not_in)


def read_part(
    dataset_id: str,
    catalog: Any,
    *,
    bbox: Sequence[float] | None = None,
    countries: list[str] | None = None,
) -> SourcePart:
    """Return one occurrence dataset's rows inside a box and countries, from the index.

    Same rows, columns and dtypes as selecting from ``geomap.read(dataset_id)`` after
    ``to_crs(4326)``; from an index entry only the selected rows are converted to pandas.

    Parameters
    ----------
    dataset_id : str
        An occurrence dataset of the catalog.
    catalog : Catalog
        The catalog.
    bbox : sequence of float, optional
        West, south, east, north in degrees (west > east crosses the antimeridian).
    countries : list of str, optional
        Upper-case ISO3 codes to keep.

    Returns
    -------
    SourcePart
    """
    if index_enabled():
        path, key, usable = _fresh_path(dataset_id, catalog)
        stamp = _stamp(path) if usable else None
        usable = stamp is not None
        memo_key = (str(path), stamp, key, tuple(bbox or ()), tuple(countries or ()))
        remembered = _PARTS.get(memo_key)
        if usable and remembered is not None:
            return dataclasses.replace(remembered, frame=remembered.frame.copy())
        if usable:
            try:
                part = _part_of_entry(path, key, bbox, countries)
                if part is not None:
                    _remember(memo_key, part)
            except Exception as exc:  # damaged row groups: report, rebuild, never trust
                _warn_unreadable(path, exc)
                part = None
                usable = False
            if part is not None:
                return part
        frame = None
        if usable:  # an entry in another CRS: read it whole, select in pandas
            try:
                frame = _load(path, key)
            except Exception as exc:  # damaged: report, rebuild, never trust
                _warn_unreadable(path, exc)
        if frame is None:
            frame = _build(dataset_id, catalog, path, key)
    else:
        from geomap.io import read

        frame = read(dataset_id, catalog=catalog)
    return _part_of_frame(frame, bbox, countries)


# ---- frames derived from catalog datasets --------------------------------------------------

_DERIVED_FOLDER = "derived"


def cached_frame(name: str, dataset_ids: Sequence[str], catalog: Any, build: Any) -> Any:
    """Return ``build()``, kept in the index folder while its datasets and geomap's code last.

    For frames computed from catalog datasets alone (the admin units every occurrence query
    checks states against): the key is the index keys of ``dataset_ids`` (their files'
    hashes, readers and geomap's code fingerprint) and ``name``.  A stale or damaged entry
    is reported (damaged) and built again; with the index turned off, ``build()`` runs.

    Parameters
    ----------
    name : str
        The entry's file name (``<index>/derived/<name>.parquet``).
    dataset_ids : sequence of str
        The catalog datasets ``build`` reads.
    catalog : Catalog
        The catalog.
    build : callable
        Returns the GeoDataFrame.
    """
    if not index_enabled():
        return build()
    document = [name, *(index_key(catalog.dataset(d)) for d in dataset_ids)]
    key = hashlib.sha256(json.dumps(document).encode("utf-8")).hexdigest()
    path = index_dir() / _DERIVED_FOLDER / f"{name}.parquet"
    return _kept(path, key, build, what=name)


_QUERY_FOLDER = "queries"
_QUERY_KEEP = 32


def cached_query(query: dict[str, Any], dataset_ids: Sequence[str], catalog: Any, run: Any) -> Any:
    """Return ``run()``, the answer to an occurrence query, kept while its inputs last.

    The key is the query (every option, as JSON) and the index keys of ``dataset_ids``
    (the occurrence datasets and the admin units it reads: files' hashes, readers, geomap's
    code fingerprint), so a repeated query (``geomap occurrences`` run again) reads one
    small GeoParquet file instead of selecting, merging and annotating again.  The most
    recent queries are kept; a damaged entry is reported and computed again; with the index
    turned off, ``run()`` runs.

    Parameters
    ----------
    query : dict
        The query's options (JSON-serialisable).
    dataset_ids : sequence of str
        Every catalog dataset the answer depends on.
    catalog : Catalog
        The catalog.
    run : callable
        Computes the answer (a GeoDataFrame).
    """
    if not index_enabled():
        return run()
    path = query_path(query, dataset_ids, catalog)
    return _kept(path, path.stem, run, what="occurrence query", keep=_QUERY_KEEP)


def read_query_table(path: Path, select: Any = None) -> tuple[Any, Any, Any] | None:
    """Return a query entry's columns but the geometry, and its points' x and y, via pyarrow.

    ``None`` when the entry is absent or cannot be used this way (not points in EPSG:4326,
    unreadable: the caller's normal route then reports and rebuilds it).  The columns come
    out as ``geopandas.read_parquet`` gives them.  ``select``, if given, is called with the
    entry's Arrow table and returns a boolean mask: only those rows are decoded and
    converted to pandas (index reset to 0..n-1).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        return None
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
        metadata = parquet.schema_arrow.metadata or {}
        attrs = _checked_attrs(metadata)
        geo = json.loads(metadata.get(b"geo", b"{}").decode("utf-8"))
        column = geo.get("primary_column")
        meta = geo.get("columns", {}).get(column or "", {})
        crs = meta.get("crs")
        epsg = crs.get("id", {}).get("code") if isinstance(crs, dict) else None
        if attrs.get(_KEY) != path.stem or meta.get("encoding") != "WKB" or epsg != 4326:
            return None
        table = parquet.read()
        if select is not None:
            table = table.filter(pa.array(select(table), type=pa.bool_()))
        x, y = _lonlat(table.column(column))
        frame = table.drop_columns([column]).to_pandas()
    except Exception:  # the normal route reads it again, and reports what is wrong
        return None
    if select is not None:
        frame = frame.reset_index(drop=True)
    return frame, x, y


def query_path(query: dict[str, Any], dataset_ids: Sequence[str], catalog: Any) -> Path:
    """Return where the answer to an occurrence query is kept (named by its key)."""
    document = {
        "query": query,
        "datasets": {d: index_key(catalog.dataset(d)) for d in dataset_ids},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return index_dir() / _QUERY_FOLDER / f"{key}.parquet"


# ---- deduplicated selections ---------------------------------------------------------------

_DEDUP_FOLDER = "dedup"
_DEDUP_KEEP = 32


def frame_digest(frame: Any) -> str | None:
    """Return a sha256 of a frame's columns, dtypes, index and values, or ``None`` if unhashable.

    Together with geomap's code fingerprint it keys results computed from the frame.
    """
    import pandas as pd
    import shapely

    digest = hashlib.sha256(fingerprint.code_fingerprint().encode("ascii"))
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    geometry = frame.geometry.name
    try:
        values = pd.util.hash_pandas_object(pd.DataFrame(frame.drop(columns=geometry)))
    except TypeError:
        return None
    digest.update(values.to_numpy().tobytes())
    for wkb in shapely.to_wkb(frame.geometry.to_numpy(), hex=False):
        digest.update(wkb if wkb is not None else b"\0")
    return digest.hexdigest()


def selection_key(dataset_ids: Sequence[str], catalog: Any, **selection: Any) -> str | None:
    """Return a key for the rows :func:`read_part` gives for these datasets and ``selection``.

    The rows are a function of the datasets' index entries (their keys: files' hashes,
    reader, geomap's code) and the selection (box, countries), so this keys them without
    reading or hashing them.  ``None`` when a dataset has a file without a recorded sha256
    (its entry's key would not change with the file).
    """
    datasets = [catalog.dataset(d) for d in dataset_ids]
    if any(not f.sha256 for d in datasets for f in d.files):
        return None
    document = {"datasets": [index_key(d) for d in datasets], "selection": selection}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def deduplicated(frame: Any, merge: Any, key: str | None = None) -> Any:
    """Return ``merge(frame)``, kept in the index folder under ``key`` (or the frame's digest).

    Merging duplicates across compilations needs a spatial index (SciPy) and takes seconds
    over a country; the same selection (the same rows from the same code) is merged once.
    ``key`` (:func:`selection_key`) names the rows without hashing them.  A damaged entry is
    reported and merged again.
    """
    if not index_enabled():
        return merge(frame)
    key = key or frame_digest(frame)
    if key is None:
        return merge(frame)
    path = index_dir() / _DEDUP_FOLDER / f"{key}.parquet"
    return _kept(path, key, lambda: merge(frame), what="merged occurrences", keep=_DEDUP_KEEP)


def _kept(path: Path, key: str, compute: Any, *, what: str, keep: int | None = None) -> Any:
    """Return the entry at ``path`` under ``key``, else ``compute()``, then kept there.

    A damaged entry is reported and computed again (never trusted); with ``keep``, only the
    ``keep`` newest entries of the folder stay; a failed write is reported, not raised.
    """
    try:
        cached = _load(path, key)
    except Exception as exc:  # damaged: report, compute again, never trust
        _warn_unreadable(path, exc)
        cached = None
    if cached is not None:
        return cached
    result = compute()
    try:
        _store(path, key, result)
        if keep is not None:
            _prune(path.parent, keep)
    except (OSError, TypeError, ValueError) as exc:
        warnings.warn(
            f"{what} not kept in {path} ({exc}); set GEOMAP_CACHE_DIR to a writable folder",
            UserWarning,
            stacklevel=3,
        )
    return result


def _prune(folder: Path, keep: int) -> None:
    """Keep the ``keep`` most recently written entries of a folder only."""
    entries = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.unlink(missing_ok=True)
