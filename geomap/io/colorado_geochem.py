"""Reader for the USGS Colorado state-scale soil geochemistry (DS 520, as edited for GcClust).

``CoGeochemData.rda`` is an R data file (XDR, compressed) read with the
pure-Python ``rdata`` package (no R needed).  It holds one list
``CoGeochemData`` with

``concData``
    an sp ``SpatialPointsDataFrame``: 959 soil samples (0–15 cm, near-total
    four-acid digestion), row names = field sample ids (``06co001`` …),
    ``coords`` = longitude, latitude on WGS84 (``+proj=longlat +ellps=WGS84``),
    ``data`` = 39 element concentrations in mg/kg (= ppm);
``censorIndicators``
    959 × 39 strings, stored column by column as R stores a matrix
    (``"no"`` = measured, ``"left"`` = below the lower limit of determination);
``constSumValue``
    the closure constant 10⁶ (mg/kg), kept in ``attrs["geomap_closure_ppm"]``.

The edited table replaced every left-censored value (Sb, As, Bi, Cd, In, P and
S: 240 values) by 0.65 × the lower limit of determination.  The reader
restores the house convention of :mod:`geomap.io.geochem`: ``<El>_ppm`` NaN,
``<El>_censored`` True, and ``<El>_dl_ppm`` = imputed value / 0.65 (the limit
itself); the imputed value is kept in ``<El>_imputed_ppm`` for users who want
the GcClust table unchanged.  Each value so restored is counted in the report.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.io._reader_entry import attach_report, local_file, reject_unknown_options
from geomap.io.geochem import ELEMENTS
from geomap.io.registry import reader

__all__ = ["IMPUTATION_FACTOR", "read_colorado_rda", "read_colorado_soil_geochem"]

IMPUTATION_FACTOR = 0.65
"""The edited table set each censored value to this fraction of its limit of determination."""

_GZIP = b"\x1f\x8b"
_RDA_MAGIC = (b"RDX2\n", b"RDX3\n", b"RDA2\n", b"RDA3\n")


def _require_rda(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise DataError(f"R data file {path} is missing or empty; run `geomap fetch` again")
    head = path.read_bytes()[:5]
    if not (head.startswith(_GZIP) or head.startswith(b"BZh") or head.startswith(_RDA_MAGIC)):
        raise DataError(
            f"{path} is not an R data file (.rda): first bytes {head!r}; "
            "replace it with the genuine CoGeochemData.rda"
        )


def read_colorado_rda(path: Path | str, *, dataset_id: str = "usgs-colorado-soil-geochem") -> Any:
    """Read ``CoGeochemData.rda`` into the geochemistry schema.

    Parameters
    ----------
    path : Path or str
        The ``.rda`` file.
    dataset_id : str
        Name used in the ingest report.

    Returns
    -------
    GeoDataFrame
        959 points in WGS84 (EPSG:4326) with ``sample_id``, ``medium`` (``"soil"``)
        and ``<El>_ppm`` / ``<El>_censored`` / ``<El>_dl_ppm`` / ``<El>_imputed_ppm``.

    Raises
    ------
    DataError
        Not an R data file, or not the expected structure.
    """
    import geopandas as gpd

    try:
        import rdata
    except ImportError as exc:  # pragma: no cover - dependency declared
        raise DataError("reading .rda files needs the 'rdata' package: pip install rdata") from exc
    path = Path(path)
    _require_rda(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # sp classes have no converter
            converted = rdata.conversion.convert(rdata.parser.parse_file(path))
    except Exception as exc:
        raise DataError(f"{path}: cannot parse the R data file ({exc}); fetch it again") from None
    try:
        root = converted["CoGeochemData"]
        points = vars(root["concData"])
        table = points["data"]
        coords = np.asarray(points["coords"], dtype="float64")
        flags = np.asarray(root["censorIndicators"]).astype(str)
        closure = float(np.asarray(root["constSumValue"]).ravel()[0])
        proj4 = str(np.asarray(vars(points["proj4string"])["projargs"]).ravel()[0])
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(
            f"{path} does not hold the GcClust list CoGeochemData(concData, censorIndicators, "
            f"constSumValue): {exc!r}"
        ) from None
    if not isinstance(table, pd.DataFrame) or coords.shape != (len(table), 2):
        raise DataError(f"{path}: concData has {coords.shape} coordinates for {len(table)} rows")
    if "+proj=longlat" not in proj4 or "WGS84" not in proj4:
        raise DataError(f"{path}: coordinates are in {proj4!r}, expected +proj=longlat WGS84")
    n, m = table.shape
    if flags.size != n * m:
        raise DataError(f"{path}: censorIndicators has {flags.size} entries for a {n} x {m} table")
    unknown_flags = sorted(set(np.unique(flags)) - {"no", "left"})
    if unknown_flags:
        raise DataError(f"{path}: unknown censoring indicators {unknown_flags}; expected no/left")
    censored_matrix = (flags == "left").reshape(m, n).T  # R matrices are column-major
    report = IngestReport(dataset_id, records_in=n)
    columns: dict[str, Any] = {
        "sample_id": pd.array([str(i) for i in table.index], dtype="string"),
        "medium": pd.array(["soil (0-15 cm)"] * n, dtype="string"),
        "longitude": coords[:, 0],
        "latitude": coords[:, 1],
    }
    elements = []
    restored = 0
    for j, element in enumerate(table.columns):
        element = str(element)
        if element not in ELEMENTS:
            raise DataError(f"{path}: column {element!r} is not an element symbol")
        value = table.iloc[:, j].to_numpy(dtype="float64")
        below = censored_matrix[:, j]
        restored += int(below.sum())
        columns[f"{element}_ppm"] = np.where(below, np.nan, value)
        columns[f"{element}_censored"] = below
        columns[f"{element}_dl_ppm"] = np.where(below, value / IMPUTATION_FACTOR, np.nan)
        if below.any():
            columns[f"{element}_imputed_ppm"] = np.where(below, value, np.nan)
        elements.append(element)
    report.normalize(
        "censored values (imputed as 0.65 x limit) restored to censored; limit = value / 0.65",
        restored,
    )
    nonpositive = sum(int((np.asarray(columns[f"{e}_ppm"]) <= 0).sum()) for e in elements)
    if nonpositive:
        raise DataError(f"{path}: {nonpositive} measured concentrations are zero or negative")
    duplicated = pd.Index(columns["sample_id"]).duplicated()
    if duplicated.any():
        raise DataError(
            f"{path}: sample ids repeated: {list(pd.Index(columns['sample_id'])[duplicated])[:5]}"
        )
    out = gpd.GeoDataFrame(
        columns, geometry=gpd.points_from_xy(coords[:, 0], coords[:, 1]), crs="EPSG:4326"
    )
    report.records_out = len(out)
    return attach_report(
        out,
        report,
        geomap_source=dataset_id,
        geomap_elements=elements,
        geomap_medium="soil",
        geomap_closure_ppm=closure,
    )


@reader("colorado-soil-geochem")
def read_colorado_soil_geochem(
    dataset: Any,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    **options: Any,
) -> Any:
    """Read the USGS Colorado soil geochemistry (see the module docstring).

    Returns
    -------
    GeoDataFrame
        Points in WGS84 (EPSG:4326).
    """
    from geomap.errors import UnknownNameError

    reject_unknown_options("colorado-soil-geochem", options, [])
    if layer not in (None, "samples"):
        raise UnknownNameError(f"dataset {dataset.id!r} has no layer {layer!r}; use 'samples'")
    _, path = local_file(dataset, paths, "CoGeochemData.rda")
    return read_colorado_rda(path, dataset_id=dataset.id)
