"""GDAL under restrictive options: the one way readers open vector and raster files.

GDAL configuration is applied around every open (:func:`gdal_options`, after GDAL's
"Security considerations" page); rasters are opened with an explicit list of allowed
drivers (:func:`open_raster`) and vectors are checked afterwards for the driver that read
them (:func:`read_ogr`).  The file itself is checked first with
:func:`geomap.io._formats.require_format` (see that module for the whole model).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from geomap.errors import DataError

__all__ = ["gdal_options", "open_raster", "read_ogr"]

# GDAL configuration applied around every GDAL open (GDAL "Security considerations").
_GDAL_SAFE_OPTIONS: dict[str, str] = {
    "GDAL_VRT_ENABLE_PYTHON": "NO",  # no Python pixel functions embedded in VRTs
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",  # a VRT may not read arbitrary raw files
    "GDAL_PAM_ENABLED": "NO",  # never read or write .aux.xml side files
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing, no sibling probing
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".geomap-no-network",  # /vsicurl/ matches nothing
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_NETRC": "NO",  # never read ~/.netrc credentials
    "CPL_VSIL_CURL_HEADER_FILE_KVP_ENABLED": "NO",  # no local header files (GDAL >= 3.12)
    "PROJ_NETWORK": "OFF",  # PROJ never downloads grids behind the user's back
}


@contextlib.contextmanager
def gdal_options(**extra: str) -> Iterator[dict[str, str]]:
    """Apply the restrictive GDAL options to pyogrio's GDAL for the duration of a read.

    The previous values are restored afterwards, so nothing leaks into the
    rest of the process.  Rasterio reads use ``rasterio.Env(**options)`` with
    the same dictionary (see :func:`open_raster`).
    """
    import pyogrio

    options = {**_GDAL_SAFE_OPTIONS, **extra}
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield options
    finally:
        pyogrio.set_gdal_config_options(
            {key: (None if value is None else str(value)) for key, value in previous.items()}
        )


_SAFE_JSON: set[bytes] = set()
"""Digests of the (Geo/Topo)JSON documents :func:`_refuse_remote_crs` found safe."""


def _refuse_remote_crs(data: bytes, name: str) -> None:
    """Refuse (Geo/Topo)JSON whose ``crs`` member links to a URL or file (GDAL would fetch it).

    Parsing the document here also catches truncated JSON before GDAL sees it.  A document
    already found safe in this process (same bytes, by digest) is not parsed again: a build
    reads the same large GeoJSON several times.
    """
    import hashlib
    import json

    digest = hashlib.blake2b(data, digest_size=16).digest()
    if digest in _SAFE_JSON:
        return
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{name} is not valid JSON ({exc}); it is truncated or corrupted: fetch it again"
        ) from None
    if not isinstance(doc, dict):
        raise DataError(f"{name} is JSON but not a GeoJSON/TopoJSON object; check the file")
    members = [doc.get("crs")]
    objects = doc.get("objects")
    if isinstance(objects, dict):
        members += [o.get("crs") for o in objects.values() if isinstance(o, dict)]
    for crs in members:
        if crs is None:
            continue
        kind = crs.get("type") if isinstance(crs, dict) else None
        props = crs.get("properties") if isinstance(crs, dict) else None
        text = json.dumps(props or {}).lower()
        if kind != "name" or any(s in text for s in ("://", "href", "file:")):
            raise DataError(
                f"{name} declares its CRS as {json.dumps(crs)[:120]}; only named CRSs are read "
                "(a link to a URL or file would make GDAL fetch it): replace the 'crs' member "
                "with a name such as EPSG:4326, or remove it"
            )
    _SAFE_JSON.add(digest)


def read_ogr(
    source: Path | bytes,
    *,
    driver: str,
    name: str,
    layer: str | int | None = None,
    encoding: str | None = None,
    allow_empty: bool = False,
    **kwargs: Any,
) -> Any:
    """Read a vector source with pyogrio, checking the driver GDAL chose.

    Parameters
    ----------
    source : Path or bytes
        A local file already checked with :func:`require_format`, or the bytes
        of an archive member.
    driver : str
        The only GDAL driver accepted (e.g. ``"ESRI Shapefile"``, ``"GeoJSON"``).
    name : str
        The file name for messages.
    layer, encoding, **kwargs
        Passed to :func:`pyogrio.read_dataframe`.
    allow_empty : bool, default False
        Return an empty frame instead of raising (a ``bbox`` read may select nothing).

    Returns
    -------
    GeoDataFrame
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    def _io(src: Path | bytes) -> Any:
        return io.BytesIO(src) if isinstance(src, bytes) else src

    if driver in ("GeoJSON", "TopoJSON"):
        _refuse_remote_crs(source if isinstance(source, bytes) else source.read_bytes(), name)

    try:
        with gdal_options():
            info = pyogrio.read_info(_io(source), layer=layer, encoding=encoding)
            if info.get("driver") != driver:
                raise DataError(
                    f"{name} was recognised by GDAL as {info.get('driver')!r}, not {driver!r}; "
                    "refusing to read it with another driver; replace it with the genuine file"
                )
            fields = [str(f) for f in info.get("fields", [])]
            repeated = sorted({f for f in fields if fields.count(f) > 1})
            if repeated:
                raise DataError(
                    f"{name}: the attribute table repeats field(s) {repeated}; GDAL would "
                    "return one value under both names: remove or rename the duplicate field "
                    "in the file"
                )
            frame = pyogrio.read_dataframe(
                _io(source), layer=layer, encoding=encoding, on_invalid="ignore", **kwargs
            )
    except (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError) as exc:
        raise DataError(
            f"{name} could not be read ({exc}); the file is corrupted or truncated: "
            "delete it and fetch it again"
        ) from None
    if len(frame) == 0 and not allow_empty:
        raise DataError(
            f"{name} holds no features (an empty layer); nothing can be ingested from it: "
            "check that this is the catalogued file and layer"
        )
    frame.attrs["geomap_driver"] = driver
    return frame


@contextlib.contextmanager
def open_raster(path: Path, *, drivers: tuple[str, ...] = ("GTiff",)) -> Iterator[Any]:
    """Open a raster with rasterio, allowing only ``drivers`` and the safe GDAL options.

    Parameters
    ----------
    path : Path
        A local file (checked with :func:`require_format` by the caller).
    drivers : tuple of str
        GDAL drivers allowed to open it; GDAL refuses the file if none of them
        recognises it, so a VRT renamed ``.tif`` is never opened as a VRT.

    Yields
    ------
    rasterio.io.DatasetReader
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    with rasterio.Env(**_GDAL_SAFE_OPTIONS):
        dataset = None
        errors = []
        for driver in drivers:  # rasterio passes one driver as GDAL's allowed-driver list
            try:
                dataset = rasterio.open(path, driver=driver)
                break
            except RasterioIOError as exc:
                errors.append(f"{driver}: {exc}")
        if dataset is None:
            raise DataError(
                f"{path} cannot be opened as {' or '.join(drivers)} ({'; '.join(errors)}); "
                "the file is corrupted, truncated or another format: replace it"
            )
        try:
            if dataset.driver not in drivers:
                raise DataError(
                    f"{path} was opened by GDAL driver {dataset.driver!r}, not one of {drivers}; "
                    "refusing it"
                )
            yield dataset
        finally:
            dataset.close()
