"""Real inputs for the evidence tests, read once per session (small, from the verified mirror)."""

from __future__ import annotations

import functools
import warnings

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401
import xarray as xr

import geomap
from geomap.fetching import fetch


def _fatiando(name: str) -> xr.DataArray:
    path = next(p for p in fetch("fatiando-earth-grids-10arcmin") if name in p.name)
    da = xr.open_dataset(path)[name].rename(latitude="y", longitude="x").load()
    da = da.rio.write_crs("EPSG:4326").rio.write_nodata(np.nan)
    da.attrs["geomap_source"] = "fatiando-earth-grids-10arcmin"
    return da


@functools.cache
def topography() -> xr.DataArray:
    """ETOPO1 10' topography in metres (EPSG:4326)."""
    return _fatiando("topography")


@functools.cache
def total_gravity() -> xr.DataArray:
    """EIGEN-6C4 10' total gravity in mGal at 10 km above the ellipsoid (``height`` coord)."""
    return _fatiando("gravity")


@functools.cache
def magnetics() -> xr.DataArray:
    """EMAG2 v2 at 1° in nT: old GMT layout, flat ``z``; gaps (-99999 and below -10000) NaN."""
    path = fetch("emag2-v2-1deg")[0]
    ds = xr.open_dataset(path, decode_cf=False)
    nx, ny = (int(v) for v in ds["dimension"].values)
    z = ds["z"].values.reshape(ny, nx).astype("float32")
    # -99999 marks gaps; GMT's resampling left -99722.15 where gaps were averaged: also gaps
    z[z < -10_000] = np.nan
    x = np.linspace(-180, 180, nx)
    y = np.linspace(90, -90, ny)
    da = xr.DataArray(z, dims=("y", "x"), coords={"y": y, "x": x}, name="magnetic_anomaly")
    da = da.rio.write_crs("EPSG:4326").rio.write_nodata(np.nan)
    da.attrs.update(units="nT", geomap_source="emag2-v2-1deg")
    return da


@functools.cache
def glim() -> xr.DataArray:
    """GLiM 0.5° dominant lithology codes (int32, -9999 = no data), with class labels."""
    path = fetch("glim-lithology-0.5deg")[0]
    da = xr.open_dataset(path, mask_and_scale=False)["Band1"].rename(lat="y", lon="x")
    da = da.astype("int32").load().rio.write_crs("EPSG:4326").rio.write_nodata(-9999)
    labels = "su vb ss pb sm sc va mt pa vi wb py pi ev nd ig".split()  # noqa: SIM905
    da.attrs["geomap_classes"] = {i + 1: label for i, label in enumerate(labels)}
    da.attrs["geomap_source"] = "glim-lithology-0.5deg"
    return da


@functools.cache
def faults(region: str) -> gpd.GeoDataFrame:
    """GEM active faults in a region's CRS."""
    return geomap.read("gem-global-active-faults-2017", region=region)


@functools.cache
def provinces(region: str) -> gpd.GeoDataFrame:
    """Hasterok geological provinces in a region's CRS."""
    return geomap.read("hasterok-global-geologic-provinces", region=region, layer="provinces")


@functools.cache
def carbonatites() -> gpd.GeoDataFrame:
    """Woolley & Kjarsgaard carbonatite locations (EPSG:4326)."""
    return geomap.read("carbonatites-kimberlites-global", layer="carbonatites")


@functools.cache
def capricorn_samples() -> gpd.GeoDataFrame:
    """CSIRO Capricorn regolith geochemistry, <75 µm fraction, dummy row dropped."""
    path = next(p for p in fetch("csiro-capricorn-regolith-geochem-wa") if p.suffix == ".shp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = gpd.read_file(path)
    frame = frame[(frame["Sample_ID"].astype(str) != "0") & (frame.geometry.x != 0)]
    fine = frame["Size_fract"].astype(str).str.startswith("<75")
    return frame[fine].reset_index(drop=True)
