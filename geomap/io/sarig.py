"""Reader ``sarig-gawler``: SARIG faults and the Gawler prospectivity tables (South Australia).

Layers:

``"faults"`` (default)
    5,097 fault polylines (GDA94, from the shapefile's ``.prj``); ``SYMBOL`` and
    ``DESCRIPTIO`` become ``symbol`` and ``description``.
``"features"``
    ``tdf_100.csv``, a regular 100 × 100 table of evidence values as points.
``"training"``
    ``fv.csv``, 230 labelled samples (``deposit`` 1 = SARIG mine/deposit, 0 =
    negative) as points.
``"grid"``
    One column of ``tdf_100.csv`` as a raster (``variable``, default ``"mag"``).

Undeclared no-data in the tables is handled explicitly: where ``dem``, ``mag``
and ``grav`` are all exactly 0 (2,574 of 10,000 nodes, the sea and land outside
the source images), those three values are set to NaN and counted; ``geol`` =
``-9999`` becomes missing.  Units are undocumented in the source; ``faults``
looks like a distance in degrees.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError, UnknownNameError
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._reader_entry import attach_report, local_file, pick_layer, reject_unknown_options
from geomap.io._text import decode_text, refuse_duplicate_columns
from geomap.io.registry import reader
from geomap.io.vectors import read_vector_path, shapefile_sidecars

__all__ = ["read_sarig_gawler"]

_LAYERS = {"faults": "Faults.shp", "features": "tdf_100.csv", "training": "fv.csv", "grid": None}
_ZERO_FILLED = ("dem", "mag", "grav")
_GRID_VARIABLES = ("res", "faults", "dem", "mag", "grav")


def _read_table(dataset: Dataset, paths: dict[str, Path], name: str, report: IngestReport) -> Any:
    relpath, path = local_file(dataset, paths, name)
    entry = dataset.file(relpath)
    require_format(path, "text")
    text = decode_text(path.read_bytes(), entry.encoding or "utf-8", source=str(path))
    refuse_duplicate_columns(text, source=str(path))
    try:
        table = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV table ({exc}); fetch it again") from None
    needed = {"LONGITUDE", "LATITUDE", *_ZERO_FILLED, "geol"}
    if needed - set(table.columns):
        raise DataError(
            f"{path} lacks column(s) {sorted(needed - set(table.columns))}; "
            "fetch the catalogued file"
        )
    report.records_in += len(table)
    filled = (table[list(_ZERO_FILLED)] == 0).all(axis=1)
    table.loc[filled, list(_ZERO_FILLED)] = np.nan
    report.normalize(
        "dem, mag and grav all exactly 0 (outside the source grids) set to NaN", int(filled.sum())
    )
    geol = table["geol"].astype("string")
    missing_geol = geol.isin(["-9999", "-9999.0"])
    table["geol"] = geol.mask(missing_geol)
    report.normalize("geol -9999 set to missing", int(missing_geol.sum()))
    crs = resolve_crs(None, entry.crs, source=str(path))
    from geomap.harmonize.crs import check_coordinates

    check_coordinates(
        table["LONGITUDE"].to_numpy(),
        table["LATITUDE"].to_numpy(),
        crs,
        labels=list(table.index),
        what=str(path),
    )
    return table.rename(columns={"LONGITUDE": "longitude", "LATITUDE": "latitude"}), crs


@reader("sarig-gawler")
def read_sarig_gawler(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    variable: str = "mag",
    **options: Any,
) -> Any:
    """Read one SARIG Gawler layer (see the module docstring).

    Parameters
    ----------
    layer : {"faults", "features", "training", "grid"}, optional
    variable : str, default "mag"
        For ``layer="grid"``: one of ``res``, ``faults``, ``dem``, ``mag``, ``grav``.

    Returns
    -------
    GeoDataFrame or DataArray
    """
    import geopandas as gpd

    reject_unknown_options("sarig-gawler", options, ["variable"])
    chosen = pick_layer(dataset.id, layer, _LAYERS)
    report = IngestReport(dataset.id)
    if chosen == "faults":
        relpath, path = local_file(dataset, paths, "Faults.shp")
        frame = read_vector_path(
            path,
            file_format="shapefile",
            declared_crs=dataset.file(relpath).crs,
            report=report,
            sidecars=shapefile_sidecars(dataset, paths, relpath),
        )
        frame = frame.rename(columns={"SYMBOL": "symbol", "DESCRIPTIO": "description"})
        report.records_out = len(frame)
        return attach_report(frame, report, geomap_source=dataset.id, geomap_layer=chosen)
    table, crs = _read_table(
        dataset, paths, "fv.csv" if chosen == "training" else "tdf_100.csv", report
    )
    if chosen in ("features", "training"):
        if chosen == "training":
            table["deposit"] = table["deposit"].astype("int8")
        frame = gpd.GeoDataFrame(
            table, geometry=gpd.points_from_xy(table["longitude"], table["latitude"]), crs=crs
        )
        report.records_out = len(frame)
        return attach_report(frame, report, geomap_source=dataset.id, geomap_layer=chosen)
    if variable not in _GRID_VARIABLES:
        raise UnknownNameError(
            f"variable {variable!r} is not a grid column; choose one of {list(_GRID_VARIABLES)}"
        )
    return _as_grid(table, variable, crs, report, dataset.id)


def _as_grid(
    table: pd.DataFrame, variable: str, crs: Any, report: IngestReport, source: str
) -> Any:
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    lons = np.unique(table["longitude"].round(9))
    lats = np.unique(table["latitude"].round(9))
    if lons.size * lats.size != len(table):
        raise DataError(
            f"tdf_100.csv is not a complete regular grid ({lons.size} x {lats.size} nodes for "
            f"{len(table)} rows); read layer='features' as points instead"
        )
    for axis, values in (("longitude", lons), ("latitude", lats)):
        steps = np.diff(values)
        if not np.allclose(steps, steps[0], rtol=1e-6):
            raise DataError(f"tdf_100.csv {axis} nodes are not evenly spaced; cannot grid them")
    grid = (
        table.assign(longitude=table["longitude"].round(9), latitude=table["latitude"].round(9))
        .pivot(index="latitude", columns="longitude", values=variable)
        .sort_index(ascending=False)
    )
    da = xr.DataArray(
        grid.to_numpy(dtype="float32"),
        dims=("y", "x"),
        coords={"y": grid.index.to_numpy(), "x": grid.columns.to_numpy()},
        name=variable,
    )
    da = da.rio.write_crs(crs).rio.write_nodata(np.nan, encoded=False)
    da = da.rio.write_transform(da.rio.transform(recalc=True))
    da.attrs.update(long_name=f"SARIG Gawler training grid: {variable}", units="undocumented")
    report.records_out = int(np.isfinite(da.values).sum())
    report.notes.append(
        f"gridded column {variable!r}: node-registered {da.shape[0]} x {da.shape[1]}"
    )
    return attach_report(da, report, geomap_source=source, geomap_layer="grid")
