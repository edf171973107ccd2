"""Reading a recipe's sources once per build and applying its selectors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomap.errors import RecipeError

if TYPE_CHECKING:
    from geomap.catalog import Catalog

from geomap.recipes.loading import _unknown, _user_path
from geomap.recipes.schema import LayerSpec, Recipe, SourceSpec, TrainingSpec

# --------------------------------------------------------------------------- building


class _Reader:
    """Reads each (dataset, layer, region) once per build."""

    def __init__(self, recipe: Recipe, region: str, catalog: Catalog) -> None:
        self.recipe, self.region, self.catalog = recipe, region, catalog
        self.cache: dict[Any, Any] = {}

    def kind(self, source: SourceSpec) -> str:
        if source.path is not None:
            from geomap.io.user_data import sniff_format

            return (
                "raster"
                if sniff_format(_user_path(self.recipe, source.path)) == "geotiff"
                else "vector"
            )
        kinds = {self.catalog.dataset(d).kind for d in source.datasets}
        if kinds == {"occurrences"}:
            return "occurrences"
        if len(kinds) > 1:
            raise RecipeError(f"datasets {source.datasets} mix kinds {sorted(kinds)}")
        return kinds.pop()

    def read(self, source: SourceSpec) -> Any:
        from geomap.io import read

        kind = self.kind(source)
        key = (
            tuple(source.datasets),
            source.path,
            source.layer,
            json.dumps(source.options, sort_keys=True),
        )
        if key not in self.cache:
            if source.path is not None:
                from geomap.harmonize import to_region
                from geomap.io.user_data import read_user_evidence

                region = self.catalog.region(self.region)
                data, _ = read_user_evidence(
                    _user_path(self.recipe, source.path), name=Path(source.path).stem, region=region
                )
                if kind != "raster":
                    data = to_region(data, region)
            elif kind == "occurrences":
                from geomap.io.occurrences import read_occurrences

                if source.layer is not None:
                    raise RecipeError("occurrence datasets have no 'layer'; select with 'where'")
                data = read_occurrences(source.datasets, region=self.region, catalog=self.catalog)
            elif len(source.datasets) > 1:
                raise RecipeError("only occurrence datasets can be combined in one source")
            elif kind == "raster":
                data = read(
                    source.datasets[0],
                    layer=source.layer,
                    catalog=self.catalog,
                    bbox=_raster_window(self.catalog.region(self.region)),
                    **source.options,
                )
            else:
                data = read(
                    source.datasets[0],
                    region=self.region,
                    layer=source.layer,
                    catalog=self.catalog,
                    **source.options,
                )
            self.cache[key] = data
        return self.cache[key]


def _raster_window(region: Any) -> tuple[float, float, float, float]:
    """Return the lon/lat window a windowed raster reader reads for a region's analysis grid.

    The region's equal-area grid is a projected rectangle around its lon/lat box, so it
    reaches beyond the box (at the corners by several degrees); the window is that
    rectangle's lon/lat extent, plus one degree.
    """
    import pyproj

    from geomap.io._windows import expand_bbox

    west, south, east, north = region.bbox
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", region.pyproj_crs, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(region.pyproj_crs, "EPSG:4326", always_xy=True)
    xmin, ymin, xmax, ymax = to_grid.transform_bounds(west, south, east, north, densify_pts=51)
    box = to_lonlat.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=51)
    return expand_bbox(tuple(float(v) for v in box), 1.0)  # type: ignore[arg-type]


def _text(series: Any) -> Any:
    return series.astype("string").str.strip().str.lower()


def _apply_where(frame: Any, where: Mapping[str, Any], key: str) -> Any:
    import numpy as np
    import pandas as pd

    mask = pd.Series(True, index=frame.index)
    for column, condition in where.items():
        if column not in frame.columns:
            known = [c for c in frame.columns if c != "geometry"]
            raise RecipeError(f"{key}.where.{column}: {_unknown('column', column, known)}")
        values = frame[column]
        if isinstance(condition, dict):
            if "contains" in condition:
                mask &= (
                    _text(values)
                    .str.contains(str(condition["contains"]).lower(), regex=False)
                    .fillna(False)
                )
            numbers = pd.to_numeric(values, errors="coerce")
            if "min" in condition:
                mask &= (numbers >= float(condition["min"])).fillna(False)
            if "max" in condition:
                mask &= (numbers <= float(condition["max"])).fillna(False)
            continue
        wanted = condition if isinstance(condition, list) else [condition]
        if all(isinstance(w, str) for w in wanted):
            mask &= _text(values).isin([w.lower() for w in wanted]).fillna(False)
        else:
            mask &= values.isin(wanted).fillna(False)
    return frame.loc[np.asarray(mask, dtype=bool)]


def _select_occurrences(frame: Any, spec: SourceSpec | TrainingSpec, key: str) -> Any:
    import numpy as np

    from geomap.harmonize.occurrences import select_commodities

    if spec.commodities:
        frame = frame.loc[np.asarray(select_commodities(frame, spec.commodities), dtype=bool)]
    if spec.exclude_commodities:
        drop = np.asarray(select_commodities(frame, spec.exclude_commodities), dtype=bool)
        frame = frame.loc[~drop]
    if spec.deposit_classes:
        frame = frame.loc[_text(frame["deposit_class"]).isin(spec.deposit_classes).to_numpy()]
    if spec.exclude_deposit_classes:
        frame = frame.loc[
            ~_text(frame["deposit_class"]).isin(spec.exclude_deposit_classes).to_numpy()
        ]
    return _apply_where(frame, spec.where, key)


def _prepare(data: Any, source: SourceSpec, kind: str, key: str) -> Any:
    import xarray as xr

    if isinstance(data, xr.DataArray):
        if source.where or source.commodities or source.deposit_classes:
            raise RecipeError(f"{key}: a raster source takes no 'where'/'commodities' selection")
        if source.vocabulary == "lithology":
            from geomap.harmonize.lithology import glim_to_lithology

            data = glim_to_lithology(data)
        return data
    if source.vocabulary is not None:
        raise RecipeError(f"{key}.vocabulary: only applies to a GLiM raster")
    if kind == "occurrences":
        data = _select_occurrences(data, source, key)
    else:
        if source.commodities or source.deposit_classes:
            raise RecipeError(f"{key}: 'commodities'/'deposit_classes' select occurrence datasets")
        data = _apply_where(data, source.where, key)
    if source.geometry == "boundary":
        data = data.set_geometry(data.geometry.boundary)
    elif source.geometry == "centroid":
        data = data.set_geometry(data.geometry.centroid)
    data.attrs["geomap_source"] = ",".join(source.datasets) or data.attrs.get(
        "geomap_source", "user"
    )
    return data


_CLASS_FUNCTIONS = ("classes", "one_hot", "class_scores", "distance_to_class")


def _vocabulary_polygons(data: Any, spec: LayerSpec) -> bool:
    """Whether a class layer reads polygons classified in the shared lithology vocabulary."""
    import xarray as xr

    return (
        spec.function in _CLASS_FUNCTIONS
        and spec.params.get("column") == "lithology"
        and not isinstance(data, xr.DataArray)
        and "lithology_code" in data.columns
    )


def _vocabulary_raster(data: Any, grid: Any, chunks: Any) -> Any:
    """Rasterize vocabulary-classified polygons into the uint8 code raster GLiM gives.

    Class layers built from official geology (SGMC, Seamless V2) and from GLiM then share
    codes and labels (every vocabulary class, not only those present in the window), so
    a recipe's class scores and one-hot classes mean the same whichever source is used.
    """
    from geomap.grid import rasterize
    from geomap.harmonize.lithology import LITHOLOGY_NODATA, load_lithology_vocabulary

    vocab = load_lithology_vocabulary()
    codes = rasterize(
        data,
        grid,
        values="lithology_code",
        fill=LITHOLOGY_NODATA,
        dtype="uint8",
        chunks=chunks,
        name="lithology",
    )
    codes = codes.rio.write_nodata(LITHOLOGY_NODATA, encoded=False)
    codes.attrs.update(
        long_name="lithology class (geomap shared vocabulary)",
        units="1",
        flag_values=[c.code for c in vocab.classes],
        flag_meanings=" ".join(c.id for c in vocab.classes),
        geomap_source=data.attrs.get("geomap_source", ""),
    )
    return codes


def _input_kind(data: Any) -> str:
    import xarray as xr

    if isinstance(data, xr.DataArray):
        return "raster"
    import numpy as np
    import shapely

    types = set(np.unique(shapely.get_type_id(data.geometry.values)).tolist()) - {-1}
    return "points" if types and types <= {0, 4} else "vector"
