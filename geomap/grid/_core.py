"""Grid objects, chunk options, georeferenced arrays and same-grid checks."""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox

from geomap.errors import CRSError, DataError, GridMismatchError, ParameterError

if TYPE_CHECKING:
    from geomap.catalog import Catalog, Region

__all__ = [
    "AUTO_CHUNK",
    "Chunks",
    "block_slices",
    "check_same_grid",
    "grid_crs",
    "grid_of",
    "grid_to_dataarray",
    "positive_length",
    "region_grid",
    "resolve_chunks",
    "sub_grid",
    "transform_of",
    "transformer",
]

Chunks = int | tuple[int, int] | Literal["auto"] | None
"""``None`` (NumPy), ``"auto"`` (:data:`AUTO_CHUNK`-cell square blocks), ``N`` or ``(ny, nx)``."""

AUTO_CHUNK = 2048
"""Side of the square blocks used for ``chunks="auto"`` (16 MiB per float32 block)."""

_MAX_SIDE = 2**31 - 1


# --------------------------------------------------------------------------- validation


def positive_length(name: str, value: Any, *, allow_none: bool = False) -> float:
    """Return ``value`` as a finite, strictly positive float or raise :class:`ParameterError`.

    Parameters
    ----------
    name : str
        The option's name, quoted in the message.
    value : float
        The value (metres, for resolutions, caps and bandwidths).
    allow_none : bool, default False
        Let ``None`` through (returned as NaN).
    """
    if value is None and allow_none:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name}={value!r} is not a number; give a positive length in metres"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise ParameterError(
            f"{name}={value!r} must be a finite length greater than zero (metres); e.g. {name}=1000"
        )
    return number


@functools.lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def transformer(src: Any, dst: Any) -> pyproj.Transformer:
    """Return an ``always_xy`` transformer between two CRSs, cached.

    Building a transformer costs tens of milliseconds for a WKT CRS (more than
    transforming a small block); pyproj transformers are thread-safe (pyproj >= 3.1),
    so one cached instance serves every Dask thread.
    """
    return _transformer(_crs(src).to_wkt(), _crs(dst).to_wkt())


def _crs(value: Any) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(value)


def grid_crs(grid: GeoBox) -> pyproj.CRS:
    """Return the grid's CRS as a :class:`pyproj.CRS` (error if it has none)."""
    if grid.crs is None:
        raise CRSError("the grid has no CRS; build it with geomap.grid.region_grid()")
    return _crs(grid.crs.to_wkt())


# --------------------------------------------------------------------------- grids


def region_grid(
    region: str | Region, resolution_m: float, *, catalog: Catalog | None = None
) -> GeoBox:
    """Return the analysis grid of a catalog region at a resolution in metres.

    The region's bounding box (west, south, east, north in degrees; west > east
    crosses the antimeridian) is sampled densely (edges and interior) and
    projected into the region's analysis CRS; the grid is the smallest one that
    covers all the projected samples, with cell edges on multiples of the
    resolution so grids of overlapping regions (e.g. ``conus`` and
    ``us-southwest``) align cell for cell.

    Parameters
    ----------
    region : str or Region
        A catalog region id (e.g. ``"japan"``) or a :class:`~geomap.catalog.Region`.
    resolution_m : float
        Cell size in metres; must be greater than zero.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    odc.geo.geobox.GeoBox
        Shape, affine transform (north-up, square cells) and CRS.

    Raises
    ------
    ParameterError
        ``resolution_m`` is zero, negative, not finite, or so small that the grid
        would exceed 2**31 cells along a side.
    UnknownNameError
        The region id is not in the catalog.

    Examples
    --------
    >>> g = region_grid("alaska", 50_000)   # crosses the antimeridian
    >>> bool(g.extent.boundingbox.left < -1_000_000 < 1_000_000 < g.extent.boundingbox.right)
    True
    """
    resolution = positive_length("resolution_m", resolution_m)
    if isinstance(region, str):
        from geomap.catalog import load_catalog

        region = (catalog or load_catalog()).region(region)
    west, south, east, north = region.bbox
    if west > east:  # crosses the antimeridian: unwrap the east edge past 180°
        east += 360.0
    lon, lat = np.meshgrid(np.linspace(west, east, 181), np.linspace(south, north, 181))
    to_grid = transformer("EPSG:4326", region.pyproj_crs)
    x, y = to_grid.transform(lon.ravel(), lat.ravel())
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise CRSError(
            f"region {region.id!r}: its bbox {region.bbox} cannot be projected into "
            f"{region.crs!r}; fix the region's crs in the catalog"
        )
    x, y = np.asarray(x)[ok], np.asarray(y)[ok]
    left = math.floor(x.min() / resolution) * resolution
    right = math.ceil(x.max() / resolution) * resolution
    bottom = math.floor(y.min() / resolution) * resolution
    top = math.ceil(y.max() / resolution) * resolution
    nx = round((right - left) / resolution)
    ny = round((top - bottom) / resolution)
    if nx > _MAX_SIDE or ny > _MAX_SIDE:
        raise ParameterError(
            f"resolution_m={resolution_m!r} gives a {ny} x {nx} grid for region "
            f"{region.id!r}; choose a coarser resolution"
        )
    affine = Affine(resolution, 0.0, left, 0.0, -resolution, top)
    return GeoBox((ny, nx), affine, region.pyproj_crs.to_wkt())


def grid_of(data: xr.DataArray | xr.Dataset) -> GeoBox:
    """Return the grid (shape, transform, CRS) a raster lies on.

    Raises
    ------
    CRSError
        The raster has no CRS.
    """
    crs = data.rio.crs
    if crs is None:
        name = getattr(data, "name", None)
        raise CRSError(
            f"raster {name!r} has no CRS; set one with .rio.write_crs() "
            "(geomap never assumes EPSG:4326)"
        )
    ny, nx = data.rio.height, data.rio.width
    return GeoBox((ny, nx), transform_of(data), crs.to_wkt())


def transform_of(data: xr.DataArray | xr.Dataset) -> Affine:
    """Return the affine transform of a raster from its cell-centre coordinates.

    Falls back on rioxarray (the stored GeoTransform) for rasters one cell wide.
    """
    xdim, ydim = data.rio.x_dim, data.rio.y_dim
    x = np.asarray(data[xdim].values, dtype="float64")
    y = np.asarray(data[ydim].values, dtype="float64")
    if len(x) < 2 or len(y) < 2:
        return data.rio.transform(recalc=True)
    dx = (x[-1] - x[0]) / (len(x) - 1)
    dy = (y[-1] - y[0]) / (len(y) - 1)
    return Affine(dx, 0.0, x[0] - dx / 2, 0.0, dy, y[0] - dy / 2)


def resolve_chunks(chunks: Chunks, shape: Sequence[int]) -> tuple[int, int] | None:
    """Turn a ``chunks`` option into a block shape ``(ny, nx)`` or ``None`` (NumPy).

    Raises
    ------
    ParameterError
        A block side that is zero or negative, or an unknown keyword.
    """
    if chunks is None:
        return None
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ParameterError(f"chunks={chunks!r}: use None, 'auto', N or (ny, nx)")
        return (min(AUTO_CHUNK, shape[0]), min(AUTO_CHUNK, shape[1]))
    sides = (chunks, chunks) if isinstance(chunks, int | np.integer) else tuple(chunks)
    if len(sides) != 2 or not all(isinstance(s, int | np.integer) and s > 0 for s in sides):
        raise ParameterError(
            f"chunks={chunks!r}: block sides must be positive integers, e.g. chunks=1024"
        )
    return (min(int(sides[0]), shape[0]), min(int(sides[1]), shape[1]))


def _cell_centres(grid: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    a = grid.affine
    ny, nx = grid.shape
    ys = a.f + (np.arange(ny) + 0.5) * a.e
    xs = a.c + (np.arange(nx) + 0.5) * a.a
    return ys, xs


def grid_to_dataarray(
    values: Any,
    grid: GeoBox,
    *,
    name: Hashable | None = None,
    nodata: float | int | None = math.nan,
    attrs: dict[str, Any] | None = None,
) -> xr.DataArray:
    """Wrap a 2-D NumPy or Dask array of the grid's shape as a georeferenced DataArray.

    Parameters
    ----------
    values : numpy.ndarray or dask.array.Array
        Shape ``grid.shape`` (rows north to south).
    grid : GeoBox
        The grid the values lie on.
    name : str, optional
        The layer name.
    nodata : float or int, optional
        Declared nodata (NaN for float layers); ``None`` declares none.
    attrs : dict, optional
        Provenance attributes.
    """
    if tuple(values.shape) != tuple(grid.shape):
        raise GridMismatchError(
            f"array of shape {tuple(values.shape)} does not fit a grid of shape "
            f"{tuple(grid.shape)}; build the array on this grid"
        )
    if grid.affine.b != 0 or grid.affine.d != 0 or grid.affine.e >= 0:
        raise DataError(
            f"grid transform {tuple(grid.affine)[:6]} is rotated or not north-up; "
            "build the grid with region_grid()"
        )
    ys, xs = _cell_centres(grid)
    ref = _spatial_ref(grid_crs(grid).to_wkt(), tuple(grid.affine)[:6])
    coords = {"y": ys, "x": xs, "spatial_ref": xr.Variable((), 0, attrs=dict(ref))}
    all_attrs = dict(attrs or {})
    if nodata is not None:  # as rio.write_nodata(encoded=False) would, in the array's dtype
        numeric = np.issubdtype(values.dtype, np.number)
        all_attrs["_FillValue"] = values.dtype.type(nodata) if numeric else nodata
    da = xr.DataArray(values, dims=("y", "x"), coords=coords, name=name, attrs=all_attrs)
    da.encoding["grid_mapping"] = "spatial_ref"
    return da


@functools.lru_cache(maxsize=32)
def _spatial_ref(crs_wkt: str, affine: tuple[float, ...]) -> tuple[tuple[str, Any], ...]:
    """Return the attributes rioxarray writes on ``spatial_ref`` (CRS and transform).

    Computed once per grid: ``rio.write_crs`` realigns every coordinate of the array,
    which costs more than the evidence computation itself on small grids.
    """
    template = xr.DataArray(np.zeros((1, 1), dtype="uint8"), dims=("y", "x"))
    template = template.rio.write_crs(crs_wkt).rio.write_transform(Affine(*affine))
    return tuple(template.coords["spatial_ref"].attrs.items())


def _describe(grid: GeoBox) -> str:
    a = grid.affine
    crs = grid_crs(grid)
    crs_name = crs.to_string() if crs.to_epsg() else crs.name
    return (
        f"{grid.shape.y} x {grid.shape.x} cells of {a.a:g} x {-a.e:g} m, "
        f"origin ({a.c:.3f}, {a.f:.3f}), CRS {crs_name}"
    )


def _grid_difference(a: GeoBox, b: GeoBox) -> str | None:
    reasons = []
    if not grid_crs(a).equals(grid_crs(b)):
        reasons.append("CRS differs")
    if tuple(a.shape) != tuple(b.shape):
        reasons.append(f"shape {tuple(a.shape)} vs {tuple(b.shape)}")
    ta, tb = a.affine, b.affine
    tol = 1e-6 * max(abs(ta.a), abs(ta.e), 1e-12)
    if not all(
        math.isclose(u, v, rel_tol=0, abs_tol=tol) for u, v in zip(ta[:2], tb[:2], strict=True)
    ) or (not math.isclose(ta.e, tb.e, abs_tol=tol) or not math.isclose(ta.d, tb.d, abs_tol=tol)):
        reasons.append(f"cell size {ta.a:g} x {-ta.e:g} m vs {tb.a:g} x {-tb.e:g} m")
    elif not (math.isclose(ta.c, tb.c, abs_tol=tol) and math.isclose(ta.f, tb.f, abs_tol=tol)):
        reasons.append(
            f"origin ({ta.c:.3f}, {ta.f:.3f}) vs ({tb.c:.3f}, {tb.f:.3f}), "
            f"a shift of ({tb.c - ta.c:.3f}, {tb.f - ta.f:.3f}) m"
        )
    return "; ".join(reasons) or None


def check_same_grid(*layers: xr.DataArray | GeoBox, names: Sequence[str] | None = None) -> GeoBox:
    """Check that every layer lies on the same grid and return that grid.

    Parameters
    ----------
    *layers : DataArray or GeoBox
        Rasters (or grids) to compare; the first is the reference.
    names : sequence of str, optional
        Names used in the message (default: each DataArray's ``name``).

    Returns
    -------
    GeoBox
        The common grid.

    Raises
    ------
    GridMismatchError
        Naming each layer that differs from the first and how (CRS, shape, cell
        size or origin), and how to fix it.
    CRSError
        A layer has no CRS.
    """
    if not layers:
        raise ParameterError("check_same_grid() needs at least one layer")
    labels = list(names) if names is not None else []
    for i, layer in enumerate(layers[len(labels) :], start=len(labels)):
        label = getattr(layer, "name", None) if isinstance(layer, xr.DataArray) else None
        labels.append(str(label) if label is not None else f"layer {i}")
    grids = [g if isinstance(g, GeoBox) else grid_of(g) for g in layers]
    problems = []
    for label, grid in zip(labels[1:], grids[1:], strict=True):
        diff = _grid_difference(grids[0], grid)
        if diff:
            problems.append(f"{label!r} differs from {labels[0]!r}: {diff}")
    if problems:
        raise GridMismatchError(
            "layers are on different grids: "
            + " | ".join(problems)
            + f". Reference grid: {_describe(grids[0])}. Bring every layer onto one grid "
            "with geomap.grid.reproject_to(layer, grid) or build them all with the same grid."
        )
    return grids[0]


def block_slices(shape: Sequence[int], block: tuple[int, int]) -> list[list[tuple[slice, slice]]]:
    """Return the (row, column) slices of each block, row by row, like Dask's blocks."""
    rows = [slice(r, min(r + block[0], shape[0])) for r in range(0, shape[0], block[0])]
    cols = [slice(c, min(c + block[1], shape[1])) for c in range(0, shape[1], block[1])]
    return [[(r, c) for c in cols] for r in rows]


def sub_grid(grid: GeoBox, rows: slice, cols: slice) -> GeoBox:
    """Return the part of ``grid`` covering ``rows`` x ``cols`` (slices with start and stop)."""
    a = grid.affine
    r0, c0 = rows.start or 0, cols.start or 0
    affine = Affine(a.a, a.b, a.c + c0 * a.a + r0 * a.b, a.d, a.e, a.f + c0 * a.d + r0 * a.e)
    return GeoBox((rows.stop - r0, cols.stop - c0), affine, grid.crs)
