"""A complete model pipeline on a synthetic grid of any size, in memory or on Dask chunks.

Used by ``tests/test_scale.py``: evidence layers from geomap's own evidence functions
(distance to points, point density, a rasterized class layer) and one analytic field, the
product cache (stored and read back lazily), the cell table with a seeded sample, a
weights-of-evidence model, prediction, targets, a COG and the report's layer summary —
the same calls ``geomap build`` makes, on a grid that can be made larger than memory.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely.geometry import Point, box

CRS = "EPSG:5070"
RES = 100.0
X0, Y0 = -1_500_000.0, 2_000_000.0


def grid(n_rows: int, n_cols: int) -> GeoBox:
    """A north-up grid of ``RES`` m cells in Conus Albers."""
    from affine import Affine

    return GeoBox((n_rows, n_cols), Affine(RES, 0, X0, 0, -RES, Y0), CRS)


def _features(g: GeoBox, seed: int = 0) -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    ny, nx = g.shape
    width, height = nx * RES, ny * RES
    centres = rng.random((12, 2)) * [width, height] + [X0, Y0 - height]
    complexes = gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in centres], crs=CRS)
    near = centres[rng.integers(0, 12, 60)] + rng.normal(0, 0.04 * width, (60, 2))
    scattered = rng.random((40, 2)) * [width, height] + [X0, Y0 - height]
    sites = np.vstack([near, scattered])
    training = gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in sites], crs=CRS)
    pathfinders = gpd.GeoDataFrame(
        geometry=[Point(x, y) for x, y in near + rng.normal(0, 0.02 * width, near.shape)],
        crs=CRS,
    )
    belts = gpd.GeoDataFrame(
        geometry=[
            box(X0 + f * width, Y0 - height, X0 + (f + 0.12) * width, Y0) for f in (0.1, 0.45, 0.8)
        ],
        crs=CRS,
    )
    return {
        "complexes": complexes,
        "training": training,
        "pathfinders": pathfinders,
        "belts": belts,
    }


def _field_block(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    y, x = np.meshgrid(rows.astype("float64"), cols.astype("float64"), indexing="ij")
    values = np.sin(x / 410.0) * np.cos(y / 530.0) + 0.5 * np.sin((x + y) / 170.0)
    values[(x + 2 * y) % 997 < 40] = np.nan  # survey gaps
    return values.astype("float32")


def _field_task(block: np.ndarray, block_info: Any = None) -> np.ndarray:
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    return _field_block(np.arange(r0, r1), np.arange(c0, c1))


def _anomaly(g: GeoBox, block: tuple[int, int] | None) -> xr.DataArray:
    from geomap.grid import grid_to_dataarray

    ny, nx = g.shape
    if block is None:
        values: Any = _field_block(np.arange(ny), np.arange(nx))
    else:
        import dask.array as dsa

        values = dsa.empty((ny, nx), dtype="float32", chunks=block).map_blocks(
            _field_task, dtype="float32"
        )
    attrs = {"geomap_role": "evidence", "geomap_kind": "continuous", "units": "1"}
    return grid_to_dataarray(values, g, name="anomaly", attrs=attrs)


def evidence(g: GeoBox, chunks: Any) -> xr.Dataset:
    """The evidence stack (four layers and coverage), NumPy- or Dask-backed."""
    from geomap import evidence as ev
    from geomap.grid import rasterize, resolve_chunks

    block = resolve_chunks(chunks, tuple(g.shape))
    found = _features(g)
    layers = [
        ev.distance_to(found["complexes"], g, cap_m=60_000, chunks=chunks, name="distance"),
        ev.point_density(
            found["pathfinders"],
            g,
            bandwidth_m=3_000,
            kernel="quartic",
            chunks=chunks,
            name="density",
        ),
        _anomaly(g, block),
    ]
    belt = rasterize(found["belts"], g, chunks=chunks, name="belt").astype("float32")
    belt.attrs.update(geomap_role="evidence", geomap_kind="binary", units="1")
    layers.append(belt.rio.write_nodata(np.nan, encoded=False))
    stack = xr.Dataset({str(layer.name): layer for layer in layers})
    stack["coverage"] = ev.coverage(layers)
    return stack.rio.write_crs(CRS)


def stack_nbytes(g: GeoBox) -> int:
    """Bytes of the stack: four float32 layers and the int16 coverage."""
    ny, nx = g.shape
    return ny * nx * (4 * 4 + 2)


def run(
    n_rows: int,
    n_cols: int,
    *,
    chunks: Any,
    folder: Path,
    max_cells: int | None = 200_000,
) -> dict[str, Any]:
    """Run the pipeline; return its products (table, model, prediction, targets, COG)."""
    import warnings

    from geomap.export.cog import write_cog
    from geomap.models import WeightsOfEvidence, cell_table, predict_raster
    from geomap.pipeline.cache import ProductCache, load_dataset, save_dataset
    from geomap.pipeline.report import layer_summary
    from geomap.targets import select_targets

    g = grid(n_rows, n_cols)
    cache = ProductCache(folder / "products")
    load = functools.partial(load_dataset, chunks=chunks)
    key = {"rows": n_rows, "cols": n_cols}
    stack, _ = cache.get_or_compute(
        "evidence", key, lambda: evidence(g, chunks), save=save_dataset, load=load
    )
    training = _features(g)["training"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = cell_table(stack, training, max_cells=max_cells, random_state=7)
        model = WeightsOfEvidence(kinds=table.kinds, n_thresholds=8).fit(
            table.X, table.y, sample_weight=table.sample_weight
        )
    prediction, _ = cache.get_or_compute(
        "model",
        key,
        lambda: predict_raster(model, stack),
        save=save_dataset,
        load=load,
    )
    targets = select_targets(
        prediction["prospectivity"],
        top_percent=2.0,
        min_area_km2=0.05,
        uncertainty=prediction["uncertainty"],
        coverage=prediction["coverage"],
        n_layers=4,
    )
    cog = write_cog(prediction["prospectivity"], folder / "prospectivity.tif")
    return {
        "grid": g,
        "stack": stack,
        "table": table,
        "model": model,
        "prediction": prediction,
        "targets": targets,
        "cog": cog,
        "summary": layer_summary(stack),
    }
