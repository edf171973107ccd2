"""Real inputs for the evidence tests, read once per session through geomap's readers."""

from __future__ import annotations

import functools
import warnings

import geopandas as gpd
import rioxarray  # noqa: F401
import xarray as xr

import geomap


def _read(dataset_id: str, **options) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return geomap.read(dataset_id, **options)


@functools.cache
def topography() -> xr.DataArray:
    """ETOPO1 10' topography in metres (EPSG:4326)."""
    return _read("fatiando-earth-grids-10arcmin", layer="topography")


@functools.cache
def total_gravity() -> xr.DataArray:
    """EIGEN-6C4 10' total gravity in mGal at 10 km above the ellipsoid."""
    return _read("fatiando-earth-grids-10arcmin", layer="gravity")


@functools.cache
def magnetics() -> xr.DataArray:
    """EMAG2 v2 at 1 degree in nT (gaps NaN)."""
    return _read("emag2-v2-1deg")


@functools.cache
def glim() -> xr.DataArray:
    """GLiM 0.5 degree lithology recoded into geomap's shared vocabulary (uint8, 255 = none)."""
    from geomap.harmonize.lithology import glim_to_lithology

    return glim_to_lithology(_read("glim-lithology-0.5deg"))


@functools.cache
def faults(region: str) -> gpd.GeoDataFrame:
    """GEM active faults in a region's CRS."""
    return _read("gem-global-active-faults-2017", region=region)


@functools.cache
def provinces(region: str) -> gpd.GeoDataFrame:
    """Hasterok geological provinces in a region's CRS."""
    return _read("hasterok-global-geologic-provinces", region=region, layer="provinces")


@functools.cache
def carbonatites() -> gpd.GeoDataFrame:
    """Woolley & Kjarsgaard carbonatite locations (EPSG:4326)."""
    return _read("carbonatites-kimberlites-global", layer="carbonatites")


@functools.cache
def capricorn_samples() -> gpd.GeoDataFrame:
    """CSIRO Capricorn regolith geochemistry (the reader keeps the <75 um fraction)."""
    return _read("csiro-capricorn-regolith-geochem-wa")
