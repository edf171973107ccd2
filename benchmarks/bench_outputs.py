"""Output benchmarks: COG, GeoPackage and HTML map writing against the bare library calls.

Operations (``n`` = raster cells or points):

``write_cog``
    :func:`geomap.export.cog.write_cog` of a NumPy float32 raster (tiled GeoTIFF streamed, then
    GDAL's COG copy with overviews, validation with rio-cogeo, provenance tags) against
    rioxarray's ``to_raster(driver="COG")`` of the same array.
``write_cog_dask``
    The same from a lazily generated Dask array (256-row chunks): the peak traced memory
    against the NumPy baseline shows that the raster is never held whole.
``write_geopackage``
    :func:`geomap.export.gpkg.write_geopackage` of ``n`` points and a 1M-cell raster (float
    coverage, RGBA rendering, styles, provenance) against ``pyogrio.write_dataframe`` of the
    points plus a rasterio GPKG float table.
``map_save``
    :class:`geomap.render.MapBuilder` saving ``n`` clustered occurrences offline (assets
    inlined, dictionary-encoded columns, safe popups) against folium's ``FastMarkerCluster``
    of the same points saved with CDN links.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Case

_RASTER = {"1M": 1_000, "16M": 4_000}  # side of a square raster
_POINTS = {"10k": 10_000, "50k": 50_000}


def _raster(side: int, *, lazy: bool = False) -> Any:
    import rioxarray  # noqa: F401
    import xarray as xr

    y = 3.0e6 - 1000.0 * (np.arange(side) + 0.5)
    x = -2.0e6 + 1000.0 * (np.arange(side) + 0.5)
    if lazy:
        import dask.array as dsa

        values = (
            dsa.random.default_rng(0).random((side, side), chunks=(256, side)).astype("float32")
        )
    else:
        values = np.random.default_rng(0).random((side, side), dtype="float32")
    data = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})
    data = data.rio.write_crs("EPSG:5070").rio.write_nodata(np.nan)
    data.attrs["long_name"] = "benchmark surface"
    return data


def _points(n: int) -> Any:
    import geopandas as gpd

    rng = np.random.default_rng(1)
    codes = np.array(["Nd;La;Ce", "Cu;Au", "Li", "Zn;Pb", "W;Sn", "Au;Ag", ""])
    return gpd.GeoDataFrame(
        {
            "name": [f"site {i}" for i in range(n)],
            "commodities": codes[rng.integers(0, len(codes), n)],
            "deposit_type": np.array(["vein", "placer", "carbonatite"])[rng.integers(0, 3, n)],
            "dataset_id": "minmod-usgs-mrdata",
            "record_id": [str(i) for i in range(n)],
        },
        geometry=gpd.points_from_xy(rng.uniform(-120, -70, n), rng.uniform(25, 48, n)),
        crs="EPSG:4326",
    )


def _cog_case(size: str, *, lazy: bool) -> Case:
    def setup():
        from geomap.export.cog import write_cog

        folder = Path(tempfile.mkdtemp(prefix="bench-cog-"))
        data = _raster(_RASTER[size], lazy=lazy)
        baseline_data = _raster(_RASTER[size])

        def geomap_call():
            write_cog(data, folder / "geomap.tif")

        def baseline_call():
            baseline_data.rio.to_raster(folder / "bare.tif", driver="COG", compress="DEFLATE")

        return geomap_call, baseline_call

    operation = "write_cog_dask" if lazy else "write_cog"
    return Case(operation, size, _RASTER[size] ** 2, "cells", setup, repeat=2)


def _gpkg_case(size: str) -> Case:
    def setup():
        import pyogrio
        import rasterio

        from geomap.export.gpkg import write_geopackage

        folder = Path(tempfile.mkdtemp(prefix="bench-gpkg-"))
        points = _points(_POINTS[size]).to_crs("EPSG:5070")
        raster = _raster(1_000)

        def geomap_call():
            write_geopackage(
                folder / "geomap.gpkg", vectors={"occurrences": points}, rasters={"p": raster}
            )

        def baseline_call():
            path = folder / "bare.gpkg"
            path.unlink(missing_ok=True)
            pyogrio.write_dataframe(points, path, layer="occurrences", driver="GPKG")
            with rasterio.open(
                path,
                "w",
                driver="GPKG",
                width=1_000,
                height=1_000,
                count=1,
                dtype="float32",
                crs="EPSG:5070",
                transform=raster.rio.transform(),
                RASTER_TABLE="p",
                APPEND_SUBDATASET="YES",
            ) as dst:
                dst.write(raster.values, 1)

        return geomap_call, baseline_call

    return Case("write_geopackage", size, _POINTS[size], "points", setup, repeat=2)


def _map_case(size: str) -> Case:
    def setup():
        import folium
        from folium.plugins import FastMarkerCluster

        from geomap.render.maps import MapBuilder

        folder = Path(tempfile.mkdtemp(prefix="bench-map-"))
        points = _points(_POINTS[size])
        xy = np.column_stack([points.geometry.y, points.geometry.x]).tolist()

        def geomap_call():
            builder = MapBuilder(title="benchmark", basemap=False, online_basemaps=False)
            builder.add_occurrences(points).save(folder / "geomap.html")

        def baseline_call():
            m = folium.Map(tiles=None)
            FastMarkerCluster(xy).add_to(m)
            m.save(str(folder / "bare.html"))

        return geomap_call, baseline_call

    return Case("map_save", size, _POINTS[size], "points", setup, repeat=2)


def cases(quick: bool) -> list[Case]:
    """Benchmark cases: the smallest sizes in quick mode."""
    rasters = ["1M"] if quick else ["1M", "16M"]
    points = ["10k"] if quick else ["10k", "50k"]
    out: list[Case] = []
    for size in rasters:
        out += [_cog_case(size, lazy=False), _cog_case(size, lazy=True)]
    for size in points:
        out += [_gpkg_case(size), _map_case(size)]
    return out
