"""Reader ``line-survey``: airborne geophysical line data (CSV, optionally xz-compressed).

By default the readings come back as points (a GeoDataFrame in the survey's
CRS, from the catalog).  With ``grid=True`` they are gridded on request by
inverse-distance weighting of the nearest readings within ``max_distance``:
cells farther than that from every reading stay NaN, so gaps between lines
and outside the survey are never filled by extrapolation.  Geographic surveys
are gridded in their UTM zone (metres); projected surveys in their own CRS.

Rows whose value equals the survey's ``nodata`` or whose coordinates are
missing are dropped and counted; coordinates are checked against the CRS (a
swapped or mis-declared column raises :class:`~geomap.errors.CRSError`).
"""

from __future__ import annotations

import lzma
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.harmonize.crs import check_coordinates
from geomap.io._archive_members import DEFAULT_MAX_UNCOMPRESSED
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._reader_entry import attach_report, pick_layer, reject_unknown_options
from geomap.io._text import decode_text, refuse_duplicate_columns
from geomap.io.registry import reader

__all__ = ["grid_lines", "read_line_survey"]

_MAX_XZ_BYTES = DEFAULT_MAX_UNCOMPRESSED


def _read_text(
    path: Path, file_format: str, encoding: str, *, max_bytes: int = _MAX_XZ_BYTES
) -> str:
    if file_format == "csv-xz":
        from geomap.io._archive_members import decompression_bound

        max_bytes = decompression_bound(max_bytes, path, default=_MAX_XZ_BYTES)
        require_format(path, "xz", what="xz-compressed CSV")
        try:
            with lzma.open(path) as handle:
                data = handle.read(max_bytes + 1)
        except (lzma.LZMAError, EOFError) as exc:
            raise DataError(
                f"{path} is not a complete xz stream ({exc}); it is truncated: fetch it again"
            ) from None
        if len(data) > max_bytes:
            raise DataError(
                f"{path} expands beyond {max_bytes:,} bytes (an xz bomb or an unexpectedly "
                "large file); refused. Raise the reader option 'max_uncompressed_bytes' only "
                "for a trusted file"
            )
    else:
        require_format(path, "text", what="CSV")
        data = path.read_bytes()
    return decode_text(data, encoding, source=str(path))


@reader("line-survey")
def read_line_survey(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    x: str,
    y: str,
    value: str,
    line: str | None = None,
    units: str | None = None,
    nodata: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    stride: int = 1,
    grid: bool = False,
    resolution: float | None = None,
    max_distance: float | None = None,
    neighbours: int = 8,
    max_uncompressed_bytes: int = _MAX_XZ_BYTES,
    **options: Any,
) -> Any:
    """Read line-survey readings as points, or grid them on request.

    Parameters
    ----------
    x, y, value : str
        Column names of the coordinates (in the catalog's CRS) and of the value.
    line : str, optional
        Column of the flight-line id.
    units : str, optional
        Units of ``value`` (recorded in attrs).
    nodata : float, optional
        Value of ``value`` meaning no reading; such rows are dropped and counted.
    bbox : (xmin, ymin, xmax, ymax), optional
        Keep only readings inside this box (survey CRS); for quick looks and tests.
    stride : int, default 1
        Keep every ``stride``-th reading along the file (decimation, counted).
    grid : bool, default False
        Return a gridded DataArray instead of points (see :func:`grid_lines`).
    resolution, max_distance, neighbours
        Passed to :func:`grid_lines`.
    max_uncompressed_bytes : int
        Bound on the decompressed size of an ``.xz`` file (512 MiB by default).

    Returns
    -------
    GeoDataFrame or DataArray
    """
    import geopandas as gpd

    reject_unknown_options(
        "line-survey",
        options,
        [
            "x",
            "y",
            "value",
            "line",
            "units",
            "nodata",
            "bbox",
            "stride",
            "grid",
            "resolution",
            "max_distance",
            "neighbours",
            "max_uncompressed_bytes",
        ],
    )
    pick_layer(dataset.id, layer, {"readings": None})
    entry = next(f for f in dataset.files if f.format in ("csv", "csv-xz"))
    path = paths[entry.path]
    text = _read_text(
        path, entry.format, entry.encoding or "utf-8", max_bytes=max_uncompressed_bytes
    )
    refuse_duplicate_columns(text, source=str(path))
    try:
        import io

        table = pd.read_csv(io.StringIO(text), low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV table ({exc}); fetch it again") from None
    wanted = [c for c in (x, y, value, line) if c is not None]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise DataError(
            f"{path} has no column(s) {missing}; columns are {list(table.columns)[:20]}; "
            "fix reader_options in the catalog"
        )
    report = IngestReport(dataset.id, records_in=len(table))
    crs = resolve_crs(None, entry.crs, source=str(path))
    for column in (x, y, value):
        numeric = pd.to_numeric(table[column], errors="coerce")
        bad = numeric.isna() & table[column].notna()
        if bad.any():
            report.drop(f"non-numeric {column}", int(bad.sum()))
        table[column] = numeric
    no_xy = table[x].isna() | table[y].isna()
    report.drop("missing coordinates", int(no_xy.sum()))
    no_value = table[value].isna()
    if nodata is not None:
        no_value |= np.isclose(table[value], nodata)
    report.drop(f"{value} missing or equal to nodata {nodata}", int((no_value & ~no_xy).sum()))
    table = table.loc[~(no_xy | no_value)]
    if bbox is not None:
        xmin, ymin, xmax, ymax = bbox
        inside = table[x].between(xmin, xmax) & table[y].between(ymin, ymax)
        report.drop("outside the requested bbox", int((~inside).sum()))
        table = table.loc[inside]
    if stride > 1:
        report.drop(f"decimated (stride={stride})", len(table) - len(table.iloc[::stride]))
        table = table.iloc[::stride]
    if table.empty:
        raise DataError(f"{path}: no readings left after filtering; widen bbox or check nodata")
    check_coordinates(
        table[x].to_numpy(), table[y].to_numpy(), crs, labels=list(table.index), what=str(path)
    )
    attrs = {
        "geomap_value": value,
        "geomap_line": line,
        "units": units,
    }
    if grid:
        da = grid_lines(
            table[x].to_numpy(),
            table[y].to_numpy(),
            table[value].to_numpy(),
            crs=crs,
            lines=table[line].to_numpy() if line else None,
            resolution=resolution,
            max_distance=max_distance,
            neighbours=neighbours,
            name=value,
        )
        da.attrs.update({k: v for k, v in attrs.items() if v is not None})
        report.records_out = int(np.isfinite(da.values).sum())
        report.notes.append(
            f"{len(table)} readings gridded at {da.attrs['geomap_params']} (cells farther than "
            "max_distance from every reading stay NaN)"
        )
        return attach_report(da, report, geomap_source=dataset.id)
    frame = gpd.GeoDataFrame(
        table.reset_index(drop=True),
        geometry=gpd.points_from_xy(table[x].to_numpy(), table[y].to_numpy()),
        crs=crs,
    )
    report.records_out = len(frame)
    return attach_report(
        frame, report, geomap_source=dataset.id, **{k: v for k, v in attrs.items() if v is not None}
    )


def _utm_for(lon: np.ndarray, lat: np.ndarray, crs: pyproj.CRS) -> pyproj.CRS:
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    datum = crs.datum.name if crs.datum is not None else "WGS 84"
    infos = query_utm_crs_info(
        datum_name=datum,
        area_of_interest=AreaOfInterest(
            float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
        ),
    ) or query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(
            float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
        ),
    )
    if not infos:
        raise DataError("no UTM zone covers the survey; pass a projected CRS")
    centre = float(np.median(lon))
    zone = min(infos, key=lambda i: abs(_utm_centre(i.name) - centre))
    return pyproj.CRS.from_authority(zone.auth_name, zone.code)


def _utm_centre(name: str) -> float:
    digits = "".join(ch for ch in name.split("zone")[-1] if ch.isdigit())
    return -183.0 + 6.0 * int(digits) if digits else 0.0


def _line_spacing(xy: np.ndarray, lines: np.ndarray | None) -> float:
    """Median distance from a reading to the nearest reading of another line."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    sample = rng.choice(len(xy), size=min(2000, len(xy)), replace=False)
    tree = cKDTree(xy)
    k = min(64, len(xy))
    dist, idx = tree.query(xy[sample], k=k)
    if lines is None:
        return float(np.median(dist[:, 1])) * 4.0
    other = lines[idx] != lines[sample][:, None]
    masked = np.where(other, dist, np.inf)
    nearest = masked.min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    if nearest.size == 0:
        raise DataError("cannot estimate the line spacing; pass resolution= and max_distance=")
    return float(np.median(nearest))


def grid_lines(
    x: np.ndarray,
    y: np.ndarray,
    values: np.ndarray,
    *,
    crs: Any,
    lines: np.ndarray | None = None,
    resolution: float | None = None,
    max_distance: float | None = None,
    neighbours: int = 8,
    name: str = "value",
) -> Any:
    """Grid scattered line readings by inverse-distance weighting with a search radius.

    Parameters
    ----------
    x, y, values : array
        Reading coordinates (in ``crs``) and values.
    crs : CRS-like
        Geographic surveys are gridded in their UTM zone; projected ones in their CRS.
    lines : array, optional
        Line id per reading, used to estimate the line spacing.
    resolution : float, optional
        Cell size in metres (default a quarter of the median line spacing).
    max_distance : float, optional
        Search radius in metres (default the median line spacing); cells with
        no reading within it stay NaN.
    neighbours : int, default 8
        Readings weighted per cell (the nearest within ``max_distance``).

    Returns
    -------
    DataArray
        float32, dims ``("y", "x")``, y descending, CRS and nodata (NaN) written,
        ``attrs["geomap_params"]`` a JSON string of the gridding parameters.
    """
    import json

    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr
    from scipy.spatial import cKDTree

    source = pyproj.CRS.from_user_input(crs)
    if source.is_geographic:
        target = _utm_for(np.asarray(x), np.asarray(y), source)
        to_grid = pyproj.Transformer.from_crs(source, target, always_xy=True)
        gx, gy = to_grid.transform(x, y)
    else:
        target, gx, gy = source, np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    xy = np.column_stack([gx, gy])
    values = np.asarray(values, dtype="float64")
    if xy.shape[0] < 3:
        raise DataError("at least 3 readings are needed to grid a survey")
    spacing = None
    if resolution is None or max_distance is None:
        spacing = _line_spacing(xy, lines)
    res = float(resolution) if resolution is not None else spacing / 4.0  # type: ignore[operator]
    radius = float(max_distance) if max_distance is not None else float(spacing)  # type: ignore[arg-type]
    if not (res > 0 and radius > 0):
        raise DataError(f"resolution {res} and max_distance {radius} must be positive")
    xmin = np.floor(gx.min() / res) * res
    ymax = np.ceil(gy.max() / res) * res
    ncols = int(np.ceil((gx.max() - xmin) / res)) + 1
    nrows = int(np.ceil((ymax - gy.min()) / res)) + 1
    if ncols * nrows > 50_000_000:
        raise DataError(
            f"a {nrows} x {ncols} grid at {res:g} m is too large; choose a coarser resolution"
        )
    cx = xmin + (np.arange(ncols) + 0.5) * res
    cy = ymax - (np.arange(nrows) + 0.5) * res
    tree = cKDTree(xy)
    out = np.full((nrows, ncols), np.nan, dtype="float32")
    k = max(1, min(neighbours, len(xy)))
    for start in range(0, nrows, 256):
        rows = cy[start : start + 256]
        mx, my = np.meshgrid(cx, rows)
        query = np.column_stack([mx.ravel(), my.ravel()])
        dist, idx = tree.query(query, k=k, distance_upper_bound=radius)
        dist = dist.reshape(len(query), k)
        idx = idx.reshape(len(query), k)
        found = np.isfinite(dist)
        weights = np.where(found, 1.0 / np.maximum(dist, res * 1e-3) ** 2, 0.0)
        safe_idx = np.where(found, idx, 0)
        total = weights.sum(axis=1)
        estimate = (weights * values[safe_idx]).sum(axis=1) / np.where(total > 0, total, 1.0)
        estimate[total == 0] = np.nan
        out[start : start + len(rows)] = estimate.reshape(len(rows), ncols)
    da = xr.DataArray(out, dims=("y", "x"), coords={"y": cy, "x": cx}, name=name)
    da = da.rio.write_crs(target.to_wkt()).rio.write_nodata(np.nan, encoded=False)
    da = da.rio.write_transform(da.rio.transform(recalc=True))
    da.attrs["geomap_params"] = json.dumps(
        {
            "method": "inverse-distance (power 2)",
            "resolution_m": res,
            "max_distance_m": radius,
            "neighbours": k,
            "grid_crs": target.to_string(),
        }
    )
    return da
