"""Reader ``vector-file``: shapefiles, GeoPackages and GeoJSON files, one layer at a time.

The catalog entry's ``reader_options`` may name layers (``layers: {name:
file}``); ``layer=None`` reads the first.  Each file is checked before GDAL
opens it (a shapefile's ``.shp``/``.shx`` magic numbers and declared lengths,
the ``.dbf`` header; a GeoPackage's SQLite header), read with exactly the
expected GDAL driver, its CRS reconciled with the catalog's declaration, and
its geometries cleaned (null/empty dropped, invalid repaired, all counted).

With ``lithology: hasterok`` (Hasterok et al. province polygons) the reader adds
``lithology``/``lithology_code`` from the province type where the type implies
a dominant lithology (see :func:`geomap.harmonize.lithology.hasterok_lithology`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.harmonize.geometry import clean_geometries
from geomap.harmonize.lithology import hasterok_lithology, lithology_code
from geomap.io._crs_checks import check_extent_plausible, resolve_crs
from geomap.io._formats import require_format
from geomap.io._gdal import read_ogr
from geomap.io._reader_entry import attach_report, pick_layer, reject_unknown_options
from geomap.io.registry import reader

__all__ = ["read_vector_file", "read_vector_path", "shapefile_sidecars"]

_DRIVERS = {"shapefile": "ESRI Shapefile", "geopackage": "GPKG", "geojson": "GeoJSON"}


def read_vector_path(
    path: Path,
    *,
    file_format: str,
    declared_crs: str | None,
    report: IngestReport,
    encoding: str | None = None,
    layer: str | None = None,
    mixed: str = "error",
    drop_nodata_points: bool = True,
    sidecars: Mapping[str, Path] | None = None,
) -> Any:
    """Read one vector file safely: format check, fixed driver, CRS, geometry cleaning.

    Parameters
    ----------
    path : Path
        The ``.shp``, ``.gpkg`` or ``.geojson``/``.json`` file.
    file_format : {"shapefile", "geopackage", "geojson"}
        The catalog format; decides the checks and the only GDAL driver allowed.
    declared_crs : str or None
        The catalog's CRS for the file (used when the file carries none).
    report : IngestReport
        Receives counts; ``records_in`` is increased by the features read.
    encoding : str, optional
        Attribute encoding (shapefiles without a ``.cpg``).
    layer : str, optional
        Layer inside a GeoPackage.
    mixed : str
        Policy for mixed geometry families (see :func:`clean_geometries`).
    drop_nodata_points : bool, default True
        Drop (and count) shapefile points whose coordinates are the format's
        "no data" (< -1e38); callers that identify such records themselves
        pass False.
    sidecars : mapping, optional
        For a shapefile: suffix (``".dbf"``, ``".shx"``, ``".prj"``, ``".cpg"``) -> the
        verified local copy (:func:`shapefile_sidecars`).  The shapefile is then read from a
        private folder holding the ``.shp`` and exactly these files, so a file lying next to
        the ``.shp`` that is not the verified copy (an edited ``.prj``, a stray ``.cpg``)
        is never read.  Without it (a user's own file) the files beside the ``.shp`` are used.
    """
    if file_format not in _DRIVERS:
        raise DataError(f"{path}: format {file_format!r} is not a vector file format")
    with contextlib.ExitStack() as stack:
        source = path
        if file_format == "shapefile":
            require_format(path, "shapefile", what="shapefile")
            if sidecars is not None:
                source = stack.enter_context(_verified_view(path, sidecars))
            for suffix, kind in ((".shx", "shapefile"), (".dbf", "dbf")):
                sidecar = _sidecar(source, suffix)
                if sidecar is None:
                    raise DataError(
                        f"{path}: the {suffix} file is missing; fetch the whole shapefile"
                    )
                require_format(sidecar, kind, what=f"shapefile {suffix}")
        elif file_format == "geopackage":
            require_format(path, "geopackage", what="GeoPackage")
        else:
            require_format(path, "json", what="GeoJSON")
        frame = read_ogr(
            source, driver=_DRIVERS[file_format], name=str(path), layer=layer, encoding=encoding
        )
    crs = resolve_crs(frame.crs, declared_crs, source=str(path))
    frame = frame.set_crs(crs, allow_override=True)
    check_extent_plausible(frame.total_bounds, crs, source=str(path))
    report.records_in += len(frame)
    if drop_nodata_points:
        nodata = _nodata_points(frame)
        report.drop("point at the shapefile no-data coordinates (< -1e38)", int(nodata.sum()))
        frame = frame.loc[~nodata]
    return clean_geometries(frame, report, what=str(path), mixed=mixed)  # type: ignore[arg-type]


def _nodata_points(frame: Any) -> Any:
    """Points whose coordinates are the shapefile "no data" value (below -1e38)."""
    import numpy as np
    import shapely

    geoms = np.asarray(frame.geometry.array, dtype=object)
    points = shapely.get_type_id(geoms) == 0
    out = np.zeros(len(geoms), dtype=bool)
    if points.any():
        out[points] = (shapely.get_coordinates(geoms[points]) < -1e38).any(axis=1)
    return out


SIDECAR_SUFFIXES = (".shx", ".dbf", ".prj", ".cpg")
"""The shapefile companions read; each comes from its verified catalog copy."""


def shapefile_sidecars(dataset: Dataset, paths: Mapping[str, Path], shp: str) -> dict[str, Path]:
    """Return suffix -> verified local path of the catalogued companions of ``shp``.

    Parameters
    ----------
    dataset : Dataset
    paths : mapping
        Catalog path -> verified local path (as readers receive it).
    shp : str
        The catalog path of the ``.shp``.
    """
    main = PurePosixPath(shp)
    out = {}
    for entry in dataset.files:
        other = PurePosixPath(entry.path)
        suffix = other.suffix.lower()
        companion = other.parent == main.parent and other.stem == main.stem
        if companion and suffix in SIDECAR_SUFFIXES and entry.path in paths:
            out[suffix] = paths[entry.path]
    return out


@contextlib.contextmanager
def _verified_view(shp: Path, sidecars: Mapping[str, Path]) -> Iterator[Path]:
    """Yield a private folder holding links to the ``.shp`` and exactly ``sidecars``."""
    with tempfile.TemporaryDirectory(prefix="geomap-shapefile-") as folder:
        view = Path(folder) / f"{shp.stem}.shp"
        view.symlink_to(shp.resolve())
        for suffix, verified in sidecars.items():
            if suffix.lower() in SIDECAR_SUFFIXES:
                (Path(folder) / f"{shp.stem}{suffix.lower()}").symlink_to(verified.resolve())
        yield view


def _sidecar(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _layers(dataset: Dataset, declared: dict[str, str] | None) -> dict[str, str]:
    """Layer name -> catalog path of the main file."""
    main = [f for f in dataset.files if f.format in _DRIVERS]
    if declared:
        out = {}
        for name, filename in declared.items():
            match = [f.path for f in main if PurePosixPath(f.path).name == filename]
            if not match:
                raise DataError(
                    f"dataset {dataset.id!r}: layer {name!r} names {filename!r}, which is not "
                    "one of its files; fix reader_options.layers in the catalog"
                )
            out[name] = match[0]
        return out
    return {PurePosixPath(f.path).stem: f.path for f in main}


@reader("vector-file")
def read_vector_file(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    layers: dict[str, str] | None = None,
    lithology: str | None = None,
    mixed: str = "error",
    **options: Any,
) -> Any:
    """Read one layer of a vector dataset.

    Parameters
    ----------
    layer : str, optional
        Layer name (default the first of ``layers``).
    layers : dict, optional
        Layer name -> file name (from the catalog's ``reader_options``); by
        default each vector file is a layer named by its stem.
    lithology : {"hasterok"}, optional
        Add a lithology class from Hasterok province types.
    mixed : {"error", "keep", "dominant"}
        Policy for layers mixing geometry families.

    Returns
    -------
    GeoDataFrame
    """
    reject_unknown_options("vector-file", options, ["layers", "lithology", "mixed"])
    available = _layers(dataset, layers)
    chosen = pick_layer(dataset.id, layer, available)
    entry = dataset.file(available[chosen])
    report = IngestReport(dataset.id)
    frame = read_vector_path(
        paths[entry.path],
        file_format=entry.format,
        declared_crs=entry.crs,
        report=report,
        encoding=entry.encoding,
        mixed=mixed,
        sidecars=shapefile_sidecars(dataset, paths, entry.path)
        if entry.format == "shapefile"
        else None,
    )
    if lithology is not None:
        if lithology != "hasterok":
            raise DataError(f"lithology={lithology!r} is unknown; use 'hasterok' or leave it unset")
        if "prov_type" not in frame.columns:
            raise DataError(f"layer {chosen!r} has no prov_type column to classify")
        classes = hasterok_lithology(frame["prov_type"])
        frame["lithology"] = classes
        frame["lithology_code"] = [lithology_code(c) for c in classes]
        report.normalize(
            "province types given a lithology class", sum(c != "unknown" for c in classes)
        )
    report.records_out = len(frame)
    return attach_report(frame, report, geomap_source=dataset.id, geomap_layer=chosen)
