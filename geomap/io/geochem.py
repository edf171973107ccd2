"""Readers for sample geochemistry: ``capricorn-geochem`` and ``lapland-till-geochem``.

Both return one row per analysed sample, as points, with element
concentrations normalized to **ppm** and one convention for values below
detection (left-censored), never zeros:

``<El>_ppm``
    the measured concentration in ppm; NaN when below detection or not analysed;
``<El>_censored``
    True when the analysis reported "below detection";
``<El>_dl_ppm``
    the detection limit in ppm where the source gives it, else NaN.

``attrs["geomap_elements"]`` lists the element symbols.  Column units are taken
from the column names (``_ppm``, ``_ppb`` ÷ 1000, ``_pct``/``_wt`` × 10,000).

Capricorn (CSIRO regolith, GDA94 / MGA 50)
    Negative values ``-d`` mean "below the detection limit d" (e.g. Te −0.2);
    zeros occur only in rows analysed for a reduced suite (48–57 of 61
    elements zero, the others measured) and in 184 rows without any
    analysis, so a zero means *not analysed* (NaN, not censored).  Rows
    without any analysis are dropped and counted; so is the dummy record at
    x = y = 0.  Each sample was analysed in up to four size fractions; the
    ``size_fraction`` option selects one (default ``"<75µm"``, the fine
    fraction used for soil-geochemical mapping; ``"all"`` keeps every
    fraction, one row per sample and fraction).  The mis-encoded ``"Âµ"``
    (UTF-8 read as Latin-1) is repaired to ``"µ"``.
Lapland (GTK till, method 511P, ETRS-TM35FIN)
    A companion flag column ``<El>_511P_T`` marks ``<`` (below detection:
    censored; the value is 0) and ``!`` (value kept, flag kept in
    ``<El>_flag``).  A zero without a flag is also treated as below
    detection, since a concentration cannot be zero (counted).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError, UnknownNameError
from geomap.io._reader_entry import attach_report, local_file, reject_unknown_options
from geomap.io.registry import reader
from geomap.io.vectors import read_vector_path, shapefile_sidecars

__all__ = [
    "ELEMENTS",
    "SIZE_FRACTIONS",
    "element_columns",
    "read_capricorn_geochem",
    "read_lapland_till_geochem",
    "repair_mojibake",
]

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu "
    "Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U"
)
ELEMENTS = frozenset(_SYMBOLS.split())
"""Chemical element symbols (H–U)."""

_UNIT_FACTORS = {"ppm": 1.0, "ppb": 1e-3, "pct": 1e4, "wt": 1e4, "percent": 1e4, "gt": 1.0}
_ELEMENT_COLUMN = re.compile(
    r"^(?P<el>[A-Z][a-z]?)_(?P<unit>ppm|ppb|pct|wt|percent|gt)(?:_[A-Za-z0-9]*)?$"
)

SIZE_FRACTIONS = {
    "<75µm": "<75µm",
    "75-250µm": "75-250µm",
    "250-2000µm": "250-2000µm",
    ">2000µm": ">2000µm",
}
"""Capricorn size fractions after normalization (the values of ``size_fraction``)."""


def element_columns(columns: list[str]) -> dict[str, tuple[str, float]]:
    """Map element columns to (element symbol, factor to ppm) from their names.

    >>> element_columns(["La_ppm", "Au_ppb", "Fe_pct", "Easting"])
    {'La_ppm': ('La', 1.0), 'Au_ppb': ('Au', 0.001), 'Fe_pct': ('Fe', 10000.0)}
    """
    out = {}
    for column in columns:
        match = _ELEMENT_COLUMN.match(column)
        if match and match["el"] in ELEMENTS:
            out[column] = (match["el"], _UNIT_FACTORS[match["unit"]])
    return out


def repair_mojibake(series: pd.Series) -> tuple[pd.Series, int]:
    """Repair UTF-8 text that was decoded as Latin-1 (``"Âµm"`` -> ``"µm"``); count repairs."""
    repaired = 0

    def fix(value: Any) -> Any:
        nonlocal repaired
        if not isinstance(value, str) or not any(ch in value for ch in "ÂÃ"):
            return value
        try:
            fixed = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value
        repaired += fixed != value
        return fixed

    return series.map(fix), repaired


def _normalize_fraction(value: Any) -> Any:
    if not isinstance(value, str):
        return pd.NA
    text = value.replace("μ", "µ").replace(" ", "")
    text = text.replace("µm-", "-")  # "75µm-250µm" -> "75-250µm"
    return text


def _censored_frame(
    frame: pd.DataFrame,
    elements: dict[str, tuple[str, float]],
    values: dict[str, np.ndarray],
    censored: dict[str, np.ndarray],
    limits: dict[str, np.ndarray],
    keep: list[str],
) -> pd.DataFrame:
    columns: dict[str, Any] = {name: frame[name].to_numpy() for name in keep}
    for column, (element, _) in elements.items():
        columns[f"{element}_ppm"] = values[column]
        columns[f"{element}_censored"] = censored[column]
        columns[f"{element}_dl_ppm"] = limits[column]
    return pd.DataFrame(columns, index=frame.index)


@reader("capricorn-geochem")
def read_capricorn_geochem(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    size_fraction: str = "<75µm",
    **options: Any,
) -> Any:
    """Read the CSIRO Capricorn regolith geochemistry (see the module docstring).

    Parameters
    ----------
    size_fraction : str, default "<75µm"
        One of :data:`SIZE_FRACTIONS` or ``"all"``.

    Returns
    -------
    GeoDataFrame
        Points in GDA94 / MGA zone 50 (EPSG:28350).
    """
    import geopandas as gpd

    reject_unknown_options("capricorn-geochem", options, ["size_fraction"])
    if layer not in (None, "samples"):
        raise UnknownNameError(f"dataset {dataset.id!r} has no layer {layer!r}; use 'samples'")
    wanted = _normalize_fraction(size_fraction) if size_fraction != "all" else "all"
    if wanted != "all" and wanted not in SIZE_FRACTIONS:
        raise UnknownNameError(
            f"size_fraction {size_fraction!r} is unknown; choose one of "
            f"{list(SIZE_FRACTIONS)} or 'all'"
        )
    relpath, path = local_file(dataset, paths, "CapricornSoilGeochem.shp")
    report = IngestReport(dataset.id)
    frame = read_vector_path(
        path,
        file_format="shapefile",
        declared_crs=dataset.file(relpath).crs,
        report=report,
        drop_nodata_points=False,
        sidecars=shapefile_sidecars(dataset, paths, relpath),
    )
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            if column == frame.geometry.name:
                continue
            frame[column], count = repair_mojibake(frame[column])
            report.repair(f"mis-encoded text (UTF-8 read as Latin-1) repaired in {column}", count)
    xy = np.column_stack([frame.geometry.x, frame.geometry.y])
    dummy = ((frame["Easting"] == 0) & (frame["Northing"] == 0)).to_numpy() | (xy < -1e38).any(
        axis=1
    )
    report.drop(
        "dummy record at x = y = 0 (geometry is the shapefile no-data point)", int(dummy.sum())
    )
    frame = frame.loc[~dummy]
    elements = element_columns(list(frame.columns))
    if not elements:
        raise DataError(f"{path} has no element columns (<El>_ppm); check the file")
    raw = {c: frame[c].to_numpy(dtype="float64") for c in elements}
    analysed = np.zeros(len(frame), dtype=bool)
    for column in elements:
        analysed |= np.isfinite(raw[column]) & (raw[column] != 0)
    report.drop("no analyses (every element 0 = not analysed: site record)", int((~analysed).sum()))
    frame = frame.loc[analysed]
    values, censored, limits = {}, {}, {}
    n_censored = n_missing = 0
    for column, (_, factor) in elements.items():
        v = frame[column].to_numpy(dtype="float64")
        below = v < 0
        missing = (v == 0) | ~np.isfinite(v)
        values[column] = np.where(below | missing, np.nan, v * factor)
        censored[column] = below
        limits[column] = np.where(below, -v * factor, np.nan)
        n_censored += int(below.sum())
        n_missing += int(missing.sum())
    report.normalize("values below detection (negative = -limit) kept as censored", n_censored)
    report.normalize("zero values (element not analysed) set to NaN, not censored", n_missing)
    fractions = frame["Size_fract"].map(_normalize_fraction)
    report.normalize("size-fraction labels normalized", int(fractions.notna().sum()))
    frame = frame.assign(size_fraction=fractions.astype("string"))
    if wanted != "all":
        for fraction, count in frame["size_fraction"].value_counts(dropna=False).items():
            if fraction != wanted:
                report.drop(
                    f"size fraction {fraction} not selected (size_fraction={wanted!r})", int(count)
                )
        selected = (frame["size_fraction"] == wanted).fillna(False).to_numpy(dtype=bool)
        frame = frame.loc[selected]
        values = {k: v[selected] for k, v in values.items()}
        censored = {k: v[selected] for k, v in censored.items()}
        limits = {k: v[selected] for k, v in limits.items()}
    duplicated = frame.duplicated(subset=["Sample_num", "size_fraction"], keep=False)
    if duplicated.any():
        report.notes.append(
            f"{int(duplicated.sum())} rows share a sample number and size fraction "
            f"({sorted(frame.loc[duplicated, 'Sample_num'].astype(str).unique())[:5]}); kept"
        )
    table = _censored_frame(
        frame.rename(
            columns={"Sample_num": "sample_id", "Observatio": "site_id", "Type": "sample_type"}
        ),
        elements,
        values,
        censored,
        limits,
        keep=[
            "sample_id",
            "site_id",
            "sample_type",
            "size_fraction",
            "regolith",
            "Landform",
            "Elevation",
        ],
    )
    out = gpd.GeoDataFrame(table, geometry=frame.geometry.to_numpy(), crs=frame.crs)
    report.records_out = len(out)
    return attach_report(
        out,
        report,
        geomap_source=dataset.id,
        geomap_elements=[e for e, _ in elements.values()],
        geomap_size_fraction=wanted,
    )


@reader("lapland-till-geochem")
def read_lapland_till_geochem(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    **options: Any,
) -> Any:
    """Read the GTK Central Lapland till geochemistry (see the module docstring).

    Returns
    -------
    GeoDataFrame
        Points in ETRS89 / TM35FIN (EPSG:3067).
    """
    import geopandas as gpd

    reject_unknown_options("lapland-till-geochem", options, [])
    entry = next(f for f in dataset.files if f.format == "geopackage")
    report = IngestReport(dataset.id)
    frame = read_vector_path(
        paths[entry.path],
        file_format="geopackage",
        declared_crs=entry.crs,
        report=report,
        layer=layer,
    )
    elements = element_columns(list(frame.columns))
    if not elements:
        raise DataError(f"{paths[entry.path]} has no element columns; check the file")
    values: dict[str, np.ndarray] = {}
    censored: dict[str, np.ndarray] = {}
    limits: dict[str, np.ndarray] = {}
    flags: dict[str, list[str | None]] = {}
    flagged_lt = zero_unflagged = kept_bang = 0
    for column, (element, factor) in elements.items():
        flag_column = f"{element}_511P_T"
        flag = (
            frame[flag_column].astype("string").fillna("").str.strip().to_numpy(dtype=object)
            if flag_column in frame.columns
            else np.full(len(frame), "", dtype=object)
        )
        v = frame[column].to_numpy(dtype="float64")
        below = (flag == "<") | (v <= 0)
        flagged_lt += int((flag == "<").sum())
        zero_unflagged += int(((v <= 0) & (flag != "<")).sum())
        kept_bang += int(((flag == "!") & ~below).sum())
        values[column] = np.where(below | ~np.isfinite(v), np.nan, v * factor)
        censored[column] = below
        limits[column] = np.full(len(frame), np.nan)
        flags[element] = [None if f == "" else str(f) for f in flag]
    report.normalize("values flagged '<' kept as censored (below detection)", flagged_lt)
    report.normalize("zero values without a '<' flag treated as below detection", zero_unflagged)
    report.notes.append(
        f"{kept_bang} values flagged '!' kept as measured; the flag is in <El>_flag "
        "(its exact meaning is not documented in the mirror)"
    )
    keep = [
        c
        for c in ("OBJECTID", "Observatio", "Year", "Material", "Fraction", "Analysis_d")
        if c in frame.columns
    ]
    table = _censored_frame(frame, elements, values, censored, limits, keep=keep)
    for element, flag in flags.items():
        table[f"{element}_flag"] = pd.array(flag, dtype="string")
    table = table.rename(columns={"Observatio": "sample_id", "Fraction": "size_fraction"})
    out = gpd.GeoDataFrame(table, geometry=frame.geometry.to_numpy(), crs=frame.crs)
    report.records_out = len(out)
    return attach_report(
        out,
        report,
        geomap_source=dataset.id,
        geomap_elements=[e for e, _ in elements.values()],
    )
