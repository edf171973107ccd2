"""Rasters for web maps: reprojection to Web Mercator, colouring, PNG encoding, XYZ tiles.

Web Mercator (EPSG:3857) appears only here, for display.  Rasters that cross the antimeridian
are projected with PROJ's ``+over`` so their longitudes stay continuous (east > 180).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geomap.errors import CRSError, DataError

__all__ = ["DisplayRaster", "Palette", "encode_png", "prepare_display_raster", "write_tiles"]

WEB_MERCATOR = "EPSG:3857"
# Web Mercator that keeps longitudes continuous across the antimeridian
WEB_MERCATOR_OVER = (
    "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m "
    "+nadgrids=@null +over +no_defs +type=crs"
)
_HALF_WORLD = 20037508.342789244
_TILE = 256
TRANSPARENT = 255  # palette index of "no data"


@dataclass(frozen=True)
class Palette:
    """How values become palette indices 0..254 (255 is transparent).

    Parameters
    ----------
    colors : sequence of (r, g, b)
        Up to 255 colours.
    vmin, vmax : float
        Continuous range mapped linearly onto the colours (values outside are clipped).
    classes : sequence of float, optional
        For categorical rasters: the class values, one colour each (same order as ``colors``).
    """

    colors: Sequence[tuple[int, int, int]]
    vmin: float = 0.0
    vmax: float = 1.0
    classes: Sequence[float] | None = None

    def indices(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Palette index of every cell (``TRANSPARENT`` where not valid)."""
        out = np.full(values.shape, TRANSPARENT, dtype=np.uint8)
        if self.classes is not None:
            for i, value in enumerate(self.classes):
                out[valid & (values == value)] = i
            return out
        n = len(self.colors)
        span = self.vmax - self.vmin
        scaled = (values - self.vmin) / span if span > 0 else np.zeros_like(values, dtype=float)
        idx = np.clip(np.floor(scaled * n), 0, n - 1)
        out[valid] = idx[valid].astype(np.uint8)
        return out


def encode_png(indices: np.ndarray, palette: Palette) -> bytes:
    """Encode palette indices as an 8-bit palette PNG with a transparent index 255."""
    from PIL import Image

    image = Image.fromarray(indices, mode="P")
    flat: list[int] = []
    for rgb in list(palette.colors)[:255]:
        flat.extend(rgb)
    flat.extend([0, 0, 0] * (256 - len(flat) // 3))
    image.putpalette(flat)
    alpha = bytes([255] * 255 + [0])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, transparency=alpha)
    return buffer.getvalue()


@dataclass(frozen=True)
class DisplayRaster:
    """A raster prepared for a web map: Web Mercator cells and their lon/lat bounds."""

    values: np.ndarray  # float32, NaN = no data
    transform: Any  # affine.Affine in (over-)Web Mercator metres
    crs: str
    bounds_lonlat: tuple[float, float, float, float]  # west, south, east, north (east may > 180)
    decimation: int  # source cells skipped per kept cell (1 = native resolution)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (int(self.values.shape[0]), int(self.values.shape[1]))


def _check(data: Any, what: str) -> Any:
    if getattr(data, "dims", None) != ("y", "x"):
        raise DataError(
            f"the {what} raster has dims {getattr(data, 'dims', None)}; give a DataArray with "
            "dims ('y', 'x')"
        )
    if data.rio.crs is None:
        raise CRSError(f"the {what} raster has no CRS; set one with .rio.write_crs()")
    if data.sizes["y"] < 1 or data.sizes["x"] < 1:
        raise DataError(f"the {what} raster is empty ({dict(data.sizes)}); nothing to draw")
    return data


def _valid_mask(values: np.ndarray, nodata: Any) -> np.ndarray:
    valid = np.isfinite(values)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= values != nodata
    return valid


def source_lonlat_bounds(data: Any) -> tuple[float, float, float, float]:
    """Lon/lat bounds of a raster; ``west > east`` when it crosses the antimeridian."""
    from rasterio.warp import transform_bounds

    return tuple(  # type: ignore[return-value]
        float(v) for v in transform_bounds(data.rio.crs, "OGC:CRS84", *data.rio.bounds())
    )


def prepare_display_raster(data: Any, *, max_pixels: int, what: str) -> DisplayRaster:
    """Reproject a raster to Web Mercator with at most ``max_pixels`` cells (nearest neighbour).

    Large (e.g. Dask-backed) rasters are decimated before being read, so only about
    ``4 * max_pixels`` source cells are ever loaded.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    data = _check(data, what)
    step = max(1, math.ceil(math.sqrt(data.size / (4 * max_pixels))))
    source = data.isel(y=slice(None, None, step), x=slice(None, None, step)) if step > 1 else data
    src_values = np.asarray(source.values, dtype="float32")
    nodata = data.rio.nodata
    src_values = np.where(_valid_mask(src_values, nodata), src_values, np.nan)
    src_transform = source.rio.transform(recalc=True)
    west, _south, east, _north = source_lonlat_bounds(source)
    crosses = west > east
    dst_crs = WEB_MERCATOR_OVER if crosses else WEB_MERCATOR
    height, width = src_values.shape
    if crosses:
        transform, dst_width, dst_height = _continuous_mercator_grid(source)
    else:
        transform, dst_width, dst_height = calculate_default_transform(
            source.rio.crs, dst_crs, width, height, *source.rio.bounds()
        )
    scale = max(1.0, math.sqrt(dst_width * dst_height / max_pixels))
    if scale > 1.0:
        from affine import Affine

        dst_width = max(1, math.ceil(dst_width / scale))
        dst_height = max(1, math.ceil(dst_height / scale))
        transform = Affine(transform.a * scale, 0, transform.c, 0, transform.e * scale, transform.f)
    destination = np.full((dst_height, dst_width), np.nan, dtype="float32")
    reproject(
        src_values,
        destination,
        src_transform=src_transform,
        src_crs=source.rio.crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=dst_crs,
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    bounds = _mercator_to_lonlat_bounds(transform, dst_width, dst_height)
    return DisplayRaster(destination, transform, dst_crs, bounds, step)


def _native_resolution_m(data: Any) -> float:
    import pyproj

    crs = pyproj.CRS.from_user_input(data.rio.crs)
    res = abs(float(data.rio.transform(recalc=True).a))
    if crs.is_geographic:
        return res * 111_320.0
    return res * float(crs.axis_info[0].unit_conversion_factor or 1.0)


def _continuous_mercator_grid(data: Any) -> tuple[Any, int, int]:
    """Return a Web Mercator (``+over``) grid for a raster across the antimeridian."""
    from affine import Affine

    west, south, east, north = source_lonlat_bounds(data)
    if east < west:
        east += 360.0
    lat = math.radians((south + north) / 2)
    res = _native_resolution_m(data) / max(math.cos(lat), 0.05)
    x0, y1 = _lonlat_to_mercator(west, north)
    x1, y0 = _lonlat_to_mercator(east, south)
    width = max(1, math.ceil((x1 - x0) / res))
    height = max(1, math.ceil((y1 - y0) / res))
    return Affine(res, 0, x0, 0, -res, y1), width, height


def display_size(data: Any) -> int:
    """Return how many Web Mercator cells the raster needs at native resolution (reads no data)."""
    from rasterio.warp import calculate_default_transform

    west, _south, east, _north = source_lonlat_bounds(data)
    if west > east:
        _transform, width, height = _continuous_mercator_grid(data)
    else:
        _transform, width, height = calculate_default_transform(
            data.rio.crs, WEB_MERCATOR, data.sizes["x"], data.sizes["y"], *data.rio.bounds()
        )
    return int(width) * int(height)


def shift_east(raster: DisplayRaster) -> DisplayRaster:
    """Move a raster lying west of 0° by +360° (for maps centred across the antimeridian)."""
    from affine import Affine

    west, south, east, north = raster.bounds_lonlat
    if east > 0:
        return raster
    t = raster.transform
    moved = Affine(t.a, t.b, t.c + 2 * _HALF_WORLD, t.d, t.e, t.f)
    return DisplayRaster(
        raster.values,
        moved,
        WEB_MERCATOR_OVER,
        (west + 360, south, east + 360, north),
        raster.decimation,
    )


def _mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    lon = math.degrees(x / 6378137.0)
    lat = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
    return lon, lat


def _lonlat_to_mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = math.radians(lon) * 6378137.0
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * 6378137.0
    return x, y


def _mercator_to_lonlat_bounds(
    transform: Any, width: int, height: int
) -> tuple[float, float, float, float]:
    left, top = transform.c, transform.f
    right = left + transform.a * width
    bottom = top + transform.e * height
    west, south = _mercator_to_lonlat(left, bottom)
    east, north = _mercator_to_lonlat(right, top)
    return west, south, east, north


def tile_zoom_range(raster: DisplayRaster, *, levels: int = 6) -> tuple[int, int]:
    """Zoom levels whose resolution brackets the raster's (finest = native resolution)."""
    resolution = abs(float(raster.transform.a))
    zmax = max(0, min(18, math.ceil(math.log2(2 * _HALF_WORLD / _TILE / resolution))))
    return max(0, zmax - levels), zmax


def _tile_range(bounds: tuple[float, float, float, float], zoom: int) -> tuple[range, range]:
    west, south, east, north = bounds
    n = 2**zoom
    x0, y0 = _lonlat_to_mercator(west, north)
    x1, y1 = _lonlat_to_mercator(east, south)
    size = 2 * _HALF_WORLD / n
    col0 = math.floor((x0 + _HALF_WORLD) / size)
    col1 = math.floor((x1 + _HALF_WORLD) / size)
    row0 = max(0, math.floor((_HALF_WORLD - y0) / size))
    row1 = min(n - 1, math.floor((_HALF_WORLD - y1) / size))
    return range(col0, col1 + 1), range(row0, row1 + 1)


def write_tiles(
    raster: DisplayRaster, folder: Path, palette: Palette, *, zoom_range: tuple[int, int]
) -> dict[int, tuple[int, int, int, int]]:
    """Write XYZ PNG tiles (``folder/{z}/{x}/{y}.png``) covering the raster; return the count.

    Every tile inside the raster's bounds is written (transparent where there is no data), so
    a map limited to those bounds never requests a missing file.  Columns east of 180° are
    stored wrapped (``x mod 2**z``).

    Returns
    -------
    dict
        Zoom -> ``(first column, last column, first row, last row)``, columns unwrapped
        (they may exceed ``2**z`` east of 180°): exactly the tiles written.
    """
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    empty: bytes | None = None
    ranges: dict[int, tuple[int, int, int, int]] = {}
    for zoom in range(zoom_range[0], zoom_range[1] + 1):
        size = 2 * _HALF_WORLD / 2**zoom
        cols, rows = _tile_range(raster.bounds_lonlat, zoom)
        ranges[zoom] = (cols.start, cols.stop - 1, rows.start, rows.stop - 1)
        for col in cols:
            for row in rows:
                left = -_HALF_WORLD + col * size
                top = _HALF_WORLD - row * size
                dst_transform = Affine(size / _TILE, 0, left, 0, -size / _TILE, top)
                tile = np.full((_TILE, _TILE), np.nan, dtype="float32")
                reproject(
                    raster.values,
                    tile,
                    src_transform=raster.transform,
                    src_crs=raster.crs,
                    src_nodata=np.nan,
                    dst_transform=dst_transform,
                    dst_crs=raster.crs,
                    dst_nodata=np.nan,
                    resampling=Resampling.nearest,
                )
                valid = np.isfinite(tile)
                if valid.any():
                    png = encode_png(palette.indices(tile, valid), palette)
                else:
                    if empty is None:
                        empty = encode_png(
                            np.full((_TILE, _TILE), TRANSPARENT, dtype=np.uint8), palette
                        )
                    png = empty
                path = folder / str(zoom) / str(col % 2**zoom) / f"{row}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
    return ranges
