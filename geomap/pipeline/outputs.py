"""Writing one build's output folder: rasters, tables, figures, GeoPackage, map, report."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from geomap.core.atomic import atomic_path
from geomap.core.safe_text import write_csv

__all__ = [
    "BuildLayers",
    "file_hashes",
    "with_centroids",
    "write_json",
    "write_model_outputs",
    "write_rasters",
    "write_tables",
]


@dataclass
class BuildLayers:
    """Everything a build shows and exports."""

    stack: xr.Dataset
    prediction: xr.Dataset
    targets: gpd.GeoDataFrame
    occurrences: gpd.GeoDataFrame
    training: gpd.GeoDataFrame
    faults: gpd.GeoDataFrame | None
    geology: gpd.GeoDataFrame | None
    boundaries: dict[str, gpd.GeoDataFrame]
    audit: gpd.GeoDataFrame | None = None
    stability: dict[str, Any] | None = None

    def evidence(self) -> dict[str, xr.DataArray]:
        """Return the evidence layers (without the coverage variable)."""
        return {
            str(name): layer
            for name, layer in self.stack.data_vars.items()
            if layer.attrs.get("geomap_role", "evidence") == "evidence"
        }


def write_rasters(folder: Path, layers: BuildLayers, *, progress: bool = False) -> dict[str, Path]:
    """Write prospectivity, uncertainty, coverage and every evidence layer as COGs.

    Dask-backed layers are written block by block (``progress`` shows a bar per file).
    """
    from geomap.export.cog import write_cog

    written: dict[str, Path] = {}
    for name in ("prospectivity", "uncertainty", "coverage"):
        if name in layers.prediction:
            path = folder / f"{name}.tif"
            write_cog(layers.prediction[name], path, progress=f"{name}.tif" if progress else None)
            written[name] = path
    if "prospectivity" in layers.prediction:
        path = folder / "prospectivity_classes.tif"
        classes, colormap = prospectivity_classes(layers.prediction["prospectivity"])
        write_cog(
            classes,
            path,
            overview_resampling="nearest",
            colormap=colormap,
            progress="prospectivity_classes.tif" if progress else None,
        )
        written["prospectivity_classes"] = path
    (folder / "evidence").mkdir(exist_ok=True)
    for name, layer in layers.evidence().items():
        path = folder / "evidence" / f"{name}.tif"
        write_cog(layer, path, progress=f"evidence/{name}.tif" if progress else None)
        written[f"evidence/{name}"] = path
    return written


def prospectivity_classes(
    prospectivity: Any,
) -> tuple[Any, dict[int, tuple[int, int, int, int]]]:
    """Return the prospectivity classes (uint8, 0 = no data) and their colour table.

    The classes of :func:`geomap.classes.area_share_classes` (top 1, 5, 10, 20, 50 %, rest:
    codes 1 to 6), in the map's colours; ``attrs["geomap_classes"]`` holds the breaks and
    labels as JSON.  NumPy or Dask (classified block by block).
    """
    import json

    import xarray as xr

    from geomap import styles
    from geomap.classes import NO_CLASS, area_share_classes

    breaks = area_share_classes(prospectivity)
    classes = xr.DataArray(
        breaks.classify(prospectivity), dims=prospectivity.dims, coords=prospectivity.coords
    )
    classes = classes.rio.write_crs(prospectivity.rio.crs).rio.write_nodata(NO_CLASS)
    classes.attrs = {
        "long_name": "Prospectivity class (share of the study area)",
        "geomap_kind": "categorical",
        "geomap_classes": json.dumps(
            {str(code): label for code, label in zip(breaks.codes, breaks.labels, strict=True)}
        ),
        "geomap_source": prospectivity.attrs.get("geomap_source", ""),
    }
    if breaks.tie_note:
        classes.attrs["geomap_class_ties"] = breaks.tie_note
    colormap = {NO_CLASS: (0, 0, 0, 0)}
    for code, color in zip(breaks.codes, styles.PROSPECTIVITY_CLASS_COLORS, strict=True):
        colormap[code] = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16), 255)
    return classes, colormap


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        write_csv(frame, tmp, float_format="%.6g", lineterminator="\n")
    return path


def with_centroids(targets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``centroid_lon`` and ``centroid_lat`` (WGS84, 6 decimals) to target polygons.

    The centroid is taken in the targets' (equal-area analysis) CRS, then transformed; the same
    columns then reach the CSV, the GeoJSON, the GeoPackage, the map's popups, the packet and
    the GPX/KML exports.  Idempotent.
    """
    if "centroid_lon" in targets.columns and "centroid_lat" in targets.columns:
        return targets
    out = targets.copy()
    if len(out):
        centroids = out.geometry.centroid.to_crs("EPSG:4326")
        out["centroid_lon"] = centroids.x.round(6).to_numpy()
        out["centroid_lat"] = centroids.y.round(6).to_numpy()
    else:
        out["centroid_lon"] = pd.Series(dtype="float64")
        out["centroid_lat"] = pd.Series(dtype="float64")
    out.attrs.update(targets.attrs)
    return out


def write_tables(
    folder: Path,
    *,
    targets: gpd.GeoDataFrame,
    model_table: pd.DataFrame,
    model_name: str,
    validation: Mapping[str, Any],
    layer_table: pd.DataFrame,
) -> dict[str, Path]:
    """Write targets (CSV, GeoJSON in WGS84), the weights/importance table and validation JSON."""
    written: dict[str, Path] = {}
    targets = with_centroids(targets)
    plain = pd.DataFrame(targets.drop(columns="geometry"))
    written["targets.csv"] = _csv(plain, folder / "targets.csv")
    geojson = folder / "targets.geojson"
    with atomic_path(geojson) as tmp:
        tmp.write_text(targets.to_crs("EPSG:4326").to_json(drop_id=True), encoding="utf-8")
    written["targets.geojson"] = geojson
    table_name = "weights.csv" if model_name == "wofe" else "importance.csv"
    written[table_name] = _csv(model_table, folder / table_name)
    written["evidence_layers.csv"] = _csv(layer_table, folder / "evidence_layers.csv")
    path = folder / "validation.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(validation, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    written["validation.json"] = path
    return written


def write_json(path: Path, payload: Any) -> Path:
    """Write indented, key-sorted JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return path


def file_hashes(folder: Path) -> dict[str, str]:
    """Return the sha256 of every file under ``folder`` (relative POSIX paths)."""
    hashes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as handle:  # streamed: outputs of large grids exceed memory
            for piece in iter(lambda: handle.read(2**22), b""):
                digest.update(piece)
        hashes[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return hashes


def write_model_outputs(result: Any, folder: Path) -> list[str]:
    """Write a :class:`~geomap.pipeline.ModelResult` into ``folder``; return the file names.

    ``prospectivity.tif``, ``uncertainty.tif``, ``coverage.tif`` (COGs), ``weights.csv``
    (weights of evidence) or ``importance.csv``, ``validation_curves.png`` (and
    ``transfer_<train>_to_<test>.png`` per region hold-out), ``metrics.json`` (AUCs, capture
    table, diagnostics) and ``validation.json`` (every curve): the files of ``geomap model``.
    """
    from geomap.core.provenance import source_ids
    from geomap.export.cog import write_cog
    from geomap.render.figures import plot_validation_curves

    written = []
    tags = {"geomap_recipe": result.recipe, "geomap_region": result.region}
    for name in ("prospectivity", "uncertainty", "coverage"):
        write_cog(result.prediction[name], folder / f"{name}.tif", tags=tags)
        written.append(f"{name}.tif")
    table_name = "weights.csv" if result.model_name == "wofe" else "importance.csv"
    with atomic_path(folder / table_name) as tmp:
        write_csv(result.model_table(), tmp)
    written.append(table_name)
    title = f"{result.recipe} · {result.region} · {result.model_name} (spatial block CV)"
    datasets = source_ids(result.prediction["prospectivity"])  # evidence and training data
    plot_validation_curves(
        result.validation, folder / "validation_curves.png", title=title, datasets=datasets
    )
    written.append("validation_curves.png")
    for report in result.transfer:
        png = f"transfer_{report.train_region}_to_{report.test_region}.png"
        plot_validation_curves(
            report,
            folder / png,
            title=f"{result.recipe} · trained on {report.train_region}, "
            f"tested on {report.test_region}",
            datasets=datasets,
        )
        written.append(png)
    payload = {
        "spatial_cv": result.validation.to_dict(),
        "region_held_out": [r.to_dict() for r in result.transfer],
    }
    for name, content in (
        ("metrics.json", result.metrics()),
        ("validation.json", payload),
    ):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(json.dumps(content, indent=1, allow_nan=False) + "\n", "utf-8")
        written.append(name)
    return written
