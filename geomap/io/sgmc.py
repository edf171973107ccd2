"""Reader ``usgs-sgmc``: the USGS State Geologic Map Compilation (SGMC, Data Series 1052).

Source
    Horton, San Juan and Stoeser (2017), doi:10.3133/ds1052, data doi:10.5066/F7WH2N65.
    U.S. Government work, public domain; credit "USGS State Geologic Map Compilation
    (Horton et al. 2017)" (the catalog attribution, carried into every product).

Layouts read
    * the file geodatabase (``USGS_SGMC_Geodatabase.zip`` -> ``*.gdb``) with the feature
      class ``SGMC_Geology`` and the tables ``SGMC_Units``, ``SGMC_Lithology``,
      ``SGMC_Age``; opened with GDAL's OpenFileGDB driver only;
    * the shapefile + CSV form (``SGMC_Geology.shp`` and ``SGMC_Units.csv``,
      ``SGMC_Lithology.csv``, ``SGMC_Age.csv``).

    Polygons are in USA Contiguous Albers Equal Area Conic (USGS version), ESRI:102039,
    and carry ``STATE, ORIG_LABEL, SGMC_LABEL, UNIT_LINK, UNIT_NAME, AGE_MIN, AGE_MAX,
    GENERALIZED_LITH, MAJOR1–3, MINOR1–5``; the tables are joined on ``UNIT_LINK``
    (table values win over the copies on the polygons).  Only polygons intersecting
    ``bbox`` are read (GDAL spatial filter, the bbox transformed to the layer CRS).

Lithology
    :func:`geomap.harmonize.official_lithology.sgmc_lithology`: ``carbonatite_alkaline``
    where the unit name or MAJOR1–3 names a carbonatite or alkaline rock (syenite,
    nepheline, ijolite, phonolite, lamprophyre, ...); a carbonatite or alkaline MINOR
    lithology sets ``alkaline_minor``.  Ages: ``age_older_ma`` from ``AGE_MAX``,
    ``age_younger_ma`` from ``AGE_MIN``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError, ParameterError
from geomap.harmonize.ages import age_range_ma
from geomap.harmonize.geometry import clean_geometries
from geomap.harmonize.lithology import lithology_code
from geomap.harmonize.official_lithology import is_alkaline, sgmc_lithology
from geomap.io._gdal import read_ogr
from geomap.io._reader_entry import attach_report, only_file, reject_unknown_options
from geomap.io._windows import BBox, check_bbox, check_shapefile, read_vector_window
from geomap.io.archives import find_member, layout_error, list_files, unpack_zip
from geomap.io.registry import reader

__all__ = ["GEOLOGY_FIELDS", "read_sgmc", "read_sgmc_path"]

GEOLOGY_FIELDS = (
    "STATE", "ORIG_LABEL", "SGMC_LABEL", "UNIT_LINK", "UNIT_NAME", "AGE_MIN", "AGE_MAX",
    "GENERALIZED_LITH", "MAJOR1", "MAJOR2", "MAJOR3", "MINOR1", "MINOR2", "MINOR3", "MINOR4",
    "MINOR5",
)  # fmt: skip
"""Fields of ``SGMC_Geology`` the reader uses (``UNIT_LINK`` is required)."""

SGMC_CRS = "ESRI:102039"
_TABLES = ("SGMC_Units", "SGMC_Lithology", "SGMC_Age")
_LAYOUT = (
    "a file geodatabase (*.gdb) with SGMC_Geology, SGMC_Units, SGMC_Lithology, SGMC_Age; or "
    "SGMC_Geology.shp with SGMC_Units.csv, SGMC_Lithology.csv, SGMC_Age.csv"
)


def _locate(source: Path) -> tuple[str, Path, Path]:
    """Return (mode, path, origin): mode ``gdb`` (path = .gdb) or ``shp`` (path = folder)."""
    source = Path(source)
    origin = source
    if source.is_dir() and source.suffix.lower() == ".gdb":
        return "gdb", source, origin
    folder = source if source.is_dir() else unpack_zip(source)
    gdbs = [p for p in list_files(folder) if p.lower().endswith(".gdb")]
    if len(gdbs) > 1:
        raise DataError(f"{origin}: several geodatabases ({gdbs}); keep the SGMC one")
    if gdbs:
        return "gdb", folder / gdbs[0], origin
    shp = find_member(folder, ("SGMC_Geology.shp",), archive=origin, expected=_LAYOUT)
    if shp is None:
        raise layout_error(folder, origin, ["SGMC_Geology (.gdb or .shp)"], _LAYOUT)
    return "shp", shp.parent, origin


def _check_gdb(gdb: Path) -> None:
    if not (gdb / "a00000001.gdbtable").is_file():
        raise DataError(
            f"{gdb} is not a complete file geodatabase (no a00000001.gdbtable system table); "
            "unpack the whole USGS_SGMC_Geodatabase.zip again"
        )


def _read_csv_table(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 (byte {data[exc.start : exc.end]!r} at offset {exc.start}); "
            "re-save it as UTF-8 (e.g. from cp1252) or use the geodatabase"
        ) from None
    header = next(iter(text.splitlines()), "").split(",")
    names = [h.strip().strip('"') for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: the header repeats column(s) {repeated}; remove the duplicate")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _tables(mode: str, path: Path, origin: Path) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for name in _TABLES:
        if mode == "gdb":
            try:
                frame = read_ogr(
                    path,
                    driver="OpenFileGDB",
                    name=f"{path} layer {name}",
                    layer=name,
                    read_geometry=False,
                    allow_empty=True,
                )
            except DataError:
                frame = None
        else:
            csv_path = path / f"{name}.csv"
            frame = _read_csv_table(csv_path) if csv_path.is_file() else None
        if frame is None:
            if name == "SGMC_Age":
                continue  # ages are also on the polygons (AGE_MIN / AGE_MAX)
            raise DataError(f"{origin}: table {name} not found; the documented layout is {_LAYOUT}")
        frame = pd.DataFrame(frame)
        if "UNIT_LINK" not in frame.columns:
            raise DataError(
                f"{origin}: table {name} has no UNIT_LINK column (columns: "
                f"{list(frame.columns)[:12]}); it cannot be joined: use the official SGMC tables"
            )
        frame = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
        out[name] = frame.astype({"UNIT_LINK": "string"})
    return out


def _state_filter(states: Any) -> str | None:
    """Return an OGR SQL filter on STATE from two-letter codes (checked: nothing else gets in)."""
    if states is None:
        return None
    codes = [states] if isinstance(states, str) else list(states)
    bad = [c for c in codes if not (isinstance(c, str) and len(c) == 2 and c.isalpha())]
    if bad or not codes:
        raise ParameterError(
            f"states={states!r}: give two-letter state codes, e.g. states=['CA', 'NV']"
        )
    return "STATE IN (" + ", ".join(f"'{c.upper()}'" for c in codes) + ")"


def read_sgmc_path(
    source: Path,
    *,
    bbox: BBox | None = None,
    states: Any = None,
    dataset_id: str = "usgs-sgmc",
) -> Any:
    """Read SGMC polygons inside ``bbox`` joined to the unit, lithology and age tables.

    Parameters
    ----------
    source : Path
        ``USGS_SGMC_Geodatabase.zip``, the ``.gdb`` folder, or a folder/zip with
        ``SGMC_Geology.shp`` and the ``SGMC_*.csv`` tables.
    bbox : (west, south, east, north), optional
        Degrees; only polygons intersecting it are read.
    states : str or list of str, optional
        Two-letter state codes; only those states' polygons are read (GDAL attribute filter).

    Returns
    -------
    GeoDataFrame
        In ESRI:102039 with ``lithology``, ``lithology_code``, ``alkaline_minor``,
        ``age_older_ma``, ``age_younger_ma``; ``attrs["geomap_report"]``.
    """
    bbox = check_bbox(bbox)
    where = _state_filter(states)
    mode, path, origin = _locate(source)
    report = IngestReport(dataset_id)
    if mode == "gdb":
        _check_gdb(path)
        geology = read_vector_window(
            path,
            driver="OpenFileGDB",
            report=report,
            bbox=bbox,
            declared_crs=SGMC_CRS,
            layer="SGMC_Geology",
            where=where,
        )
    else:
        shp = path / "SGMC_Geology.shp"
        check_shapefile(shp)
        geology = read_vector_window(
            shp,
            driver="ESRI Shapefile",
            report=report,
            bbox=bbox,
            declared_crs=SGMC_CRS,
            where=where,
        )
    truncated = {f[:10]: f for f in GEOLOGY_FIELDS if len(f) > 10 and f not in geology.columns}
    renamed = {c: truncated[c] for c in geology.columns if c in truncated}
    if renamed:  # shapefile field names are cut at 10 characters (GENERALIZE -> GENERALIZED_LITH)
        geology = geology.rename(columns=renamed)
        report.normalize(f"shapefile field names restored ({sorted(renamed)})", len(renamed))
    if "UNIT_LINK" not in geology.columns:
        raise DataError(
            f"{origin}: SGMC_Geology has no UNIT_LINK field (fields: "
            f"{[c for c in geology.columns if c != 'geometry'][:12]}); "
            f"expected {list(GEOLOGY_FIELDS)}"
        )
    tables = _tables(mode, path, origin)
    geometry = geology.geometry.name
    geology = geology[[c for c in GEOLOGY_FIELDS if c in geology.columns] + [geometry]].copy()
    geology["UNIT_LINK"] = geology["UNIT_LINK"].astype("string")
    links = set(geology["UNIT_LINK"].dropna())
    for name, table in tables.items():
        table = table.loc[table["UNIT_LINK"].isin(links)]
        repeated = table["UNIT_LINK"].duplicated()
        report.normalize(
            f"{name}: extra rows per UNIT_LINK ignored (first kept)", int(repeated.sum())
        )
        table = table.loc[~repeated]
        columns = [
            c for c in table.columns if c in GEOLOGY_FIELDS and c not in ("UNIT_LINK", "STATE")
        ]
        if not columns:
            continue
        joined = geology[["UNIT_LINK"]].merge(
            table[["UNIT_LINK", *columns]], on="UNIT_LINK", how="left"
        )
        for column in columns:
            values = joined[column].replace("", pd.NA).to_numpy()
            have = pd.notna(values)
            if column in geology.columns:
                geology[column] = np.where(have, values, geology[column].to_numpy())
            else:
                geology[column] = values
        absent = ~geology["UNIT_LINK"].isin(table["UNIT_LINK"]).to_numpy(dtype=bool)
        report.normalize(
            f"polygons whose UNIT_LINK is not in {name} (polygon fields kept)", int(absent.sum())
        )
    for column in GEOLOGY_FIELDS:
        if column not in geology.columns:
            geology[column] = pd.NA
    majors = geology[["MAJOR1", "MAJOR2", "MAJOR3"]].astype(object).to_numpy()
    minors = geology[["MINOR1", "MINOR2", "MINOR3", "MINOR4", "MINOR5"]].astype(object).to_numpy()
    classes = [
        sgmc_lithology(name, list(m), gen)
        for name, m, gen in zip(
            geology["UNIT_NAME"], majors, geology["GENERALIZED_LITH"], strict=True
        )
    ]
    geology["lithology"] = classes
    geology["lithology_code"] = np.array([lithology_code(c) for c in classes], dtype="uint8")
    geology["alkaline_minor"] = [is_alkaline(list(m)) for m in minors]
    geology["age_older_ma"] = [age_range_ma(a)[0] for a in geology["AGE_MAX"]]
    geology["age_younger_ma"] = [age_range_ma(a)[1] for a in geology["AGE_MIN"]]
    for column in GEOLOGY_FIELDS:
        geology[column] = geology[column].astype("string")
    unknown = geology.loc[geology["lithology"] == "unknown", "GENERALIZED_LITH"].fillna("<none>")
    for term, count in unknown.value_counts().items():
        report.unmapped[str(term)] += int(count)
    report.normalize(
        "polygons given a lithology class", int((geology["lithology"] != "unknown").sum())
    )
    report.normalize(
        "polygons recognised as carbonatite/alkaline",
        int((geology["lithology"] == "carbonatite_alkaline").sum()),
    )
    if len(geology):
        geology = clean_geometries(geology, report, what=f"{origin} SGMC_Geology")
    report.records_out = len(geology)
    return attach_report(geology, report, geomap_source=dataset_id, geomap_window=bbox)


@reader("usgs-sgmc")
def read_sgmc(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    states: Any = None,
    **options: Any,
) -> Any:
    """Read the SGMC catalog dataset (see :func:`read_sgmc_path`)."""
    reject_unknown_options("usgs-sgmc", options, ["bbox", "states"])
    _, path = only_file(dataset, paths, layer, "geology")
    return read_sgmc_path(path, bbox=bbox, states=states, dataset_id=dataset.id)


read_sgmc.geomap_windowed = True  # type: ignore[attr-defined]
