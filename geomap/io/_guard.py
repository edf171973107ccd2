"""Guarded access to untrusted data files, shared by the readers.

GDAL picks a driver from a file's *content*, not its name, and some drivers
(VRT, OGR VRT, GTI, ...) make GDAL open other local files or the network
(see GDAL's "Security considerations" page).  Every reader therefore

1. checks the file before any library opens it (:func:`require_format`): it
   exists, is not empty, and its first bytes are the format the reader expects
   (a VRT renamed ``.tif`` or ``.shp`` is refused here); for formats with a
   length in their header (shapefile, dBASE, GeoPackage) truncation is caught
   too;
2. opens it with GDAL under restrictive configuration options
   (:func:`gdal_options`): no VRT raw-file or Python bands, no ``.aux.xml``
   side files, no directory listing, and ``/vsicurl/`` limited to an extension
   no file has; rasters are opened with an explicit list of allowed drivers
   (:func:`open_raster`) and vectors are checked afterwards for the driver that
   read them (:func:`read_ogr`).  The options are defence in depth, not the
   barrier: rasterio and pyogrio each bundle their own GDAL (3.10 and 3.12 at
   the time of writing) and GDAL before 3.12 ignores
   ``GDAL_VRT_ENABLE_RAWRASTERBAND``; what keeps VRTs out is step 1 plus the
   single allowed raster driver (GTiff cannot reference other files);
3. reads archive members into memory with a bound on the uncompressed size and
   refuses absolute or ``..`` member names (:func:`read_zip_member`,
   :func:`read_7z_member`).

Errors are :class:`~geomap.errors.DataError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import io
import struct
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pyproj

from geomap.errors import CRSError, DataError, ParameterError

__all__ = [
    "DEFAULT_MAX_UNCOMPRESSED",
    "attach_report",
    "declared",
    "decode_text",
    "gdal_options",
    "local_file",
    "open_raster",
    "pick_layer",
    "read_7z_member",
    "read_ogr",
    "read_zip_member",
    "refuse_duplicate_columns",
    "reject_unknown_options",
    "require_format",
    "resolve_crs",
]

DEFAULT_MAX_UNCOMPRESSED = 512 * 1024**2
"""Largest archive member (bytes, uncompressed) a reader accepts unless told otherwise."""

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

# The first bytes of each format a reader may expect.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "shapefile": (b"\x00\x00\x27\x0a",),
    "geopackage": (b"SQLite format 3\x00",),
    "netcdf": (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"),
    "geotiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "7z": (b"7z\xbc\xaf\x27\x1c",),
    "xz": (b"\xfd7zXZ\x00",),
}
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xF5}


def _describe_content(head: bytes) -> str:
    """Name what a file's first bytes look like, for error messages."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        tag = stripped[:40].split(b">")[0].decode("ascii", "replace")
        if b"VRT" in stripped[:200]:
            return f"an XML/VRT document ({tag}...>)"
        return f"an XML document ({tag}...>)"
    for kind, signatures in _MAGIC.items():
        if any(head.startswith(sig) for sig in signatures):
            return f"a {kind} file"
    if stripped[:1] in (b"{", b"["):
        return "a JSON document"
    return f"unrecognised bytes {head[:8]!r}"


def require_format(path: Path, kind: str, *, what: str | None = None) -> None:
    """Check that ``path`` exists, is not empty and holds the expected format.

    Parameters
    ----------
    path : Path
        The local file.
    kind : str
        One of ``"shapefile"`` (``.shp``/``.shx``), ``"dbf"``, ``"geopackage"``,
        ``"netcdf"``, ``"geotiff"``, ``"zip"``, ``"7z"``, ``"xz"``, ``"json"``,
        ``"text"``.
    what : str, optional
        Words for the message, e.g. ``"the GEM fault archive"``.

    Raises
    ------
    DataError
        Missing, zero-byte, truncated, or another format than ``kind``.
    """
    label = what or f"{kind} file"
    if not path.is_file():
        raise DataError(f"{label} {path} does not exist; run `geomap fetch` or check the path")
    size = path.stat().st_size
    if size == 0:
        raise DataError(
            f"{label} {path} is empty (0 bytes); delete it and fetch it again "
            "(`geomap catalog verify` checks every file)"
        )
    with path.open("rb") as handle:
        head = handle.read(512)
    if kind in _MAGIC:
        if not any(head.startswith(sig) for sig in _MAGIC[kind]):
            raise DataError(
                f"{label} {path} is not a {kind} file: its content is {_describe_content(head)}; "
                "a renamed or corrupted file is refused (GDAL would pick a driver from the "
                "content); replace it with the genuine file"
            )
    elif kind == "json":
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] not in (b"{", b"["):
            raise DataError(
                f"{label} {path} is not JSON: its content is {_describe_content(head)}; "
                "replace it with the genuine file"
            )
    elif kind == "dbf":
        if head[:1] and head[0] not in _DBF_VERSIONS:
            raise DataError(
                f"{label} {path} is not a dBASE table (first byte {head[:1]!r}); "
                "replace it with the genuine file"
            )
    elif kind == "text":
        if b"\x00" in head:
            raise DataError(
                f"{label} {path} holds binary data (NUL bytes) where text was expected; "
                "replace it with the genuine file"
            )
    else:
        raise ValueError(f"unknown file kind {kind!r}")
    _check_declared_length(path, kind, head, size, label)


def _check_declared_length(path: Path, kind: str, head: bytes, size: int, label: str) -> None:
    """Catch truncation for formats whose header records the file length."""
    expected: int | None = None
    if kind == "shapefile" and len(head) >= 28:
        expected = struct.unpack(">i", head[24:28])[0] * 2  # length in 16-bit words
    elif kind == "dbf" and len(head) >= 12:
        records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        expected = header_len + records * record_len
    elif kind == "geopackage" and len(head) >= 32:
        page_size = struct.unpack(">H", head[16:18])[0]
        page_size = 65536 if page_size == 1 else page_size
        pages = struct.unpack(">I", head[28:32])[0]
        expected = page_size * pages if pages else None
    elif kind == "netcdf" and head[:3] == b"CDF":
        expected = _netcdf_classic_length(path)
    if expected is not None and size < expected:
        raise DataError(
            f"{label} {path} is truncated: {size} bytes where its header declares {expected}; "
            "delete it and fetch it again"
        )


# netCDF classic/64-bit offset/CDF-5 external types: nc_type -> bytes per value
_NC_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_NC_HEADER_LIMIT = 64 * 1024**2


def _netcdf_classic_length(path: Path) -> int | None:
    """Return the file length a netCDF classic header declares (``None`` if unparseable).

    The header lists every variable's offset (``begin``) and size (``vsize``), and
    the number of records; a file shorter than the end of its last variable is
    truncated.  netCDF-C itself reads such a file without complaint (the missing
    cells come back as fill values), so the check is made here.
    """
    with path.open("rb") as handle:
        data = handle.read(_NC_HEADER_LIMIT)
    version = data[3]
    wide = version == 5  # CDF-5: 64-bit counts
    offset_size = 4 if version == 1 else 8
    pos = 4

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise IndexError
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    def count() -> int:
        return int.from_bytes(take(8 if wide else 4), "big")

    def skip_name() -> None:
        n = count()
        take(n + (-n % 4))

    def skip_attributes() -> None:
        tag, n = int.from_bytes(take(4), "big"), count()
        if tag not in (0, 0x0C):
            raise ValueError
        for _ in range(n):
            skip_name()
            nc_type = int.from_bytes(take(4), "big")
            nbytes = count() * _NC_TYPE_SIZES[nc_type]
            take(nbytes + (-nbytes % 4))

    try:
        numrecs = count()
        if numrecs in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):  # streaming: length not recorded
            return None
        tag, n_dims = int.from_bytes(take(4), "big"), count()
        if tag not in (0, 0x0A):
            return None
        dim_lengths = []
        for _ in range(n_dims):
            skip_name()
            dim_lengths.append(count())
        skip_attributes()
        tag, n_vars = int.from_bytes(take(4), "big"), count()
        if tag not in (0, 0x0B):
            return None
        end = pos
        records: list[tuple[int, int, int]] = []  # (begin, vsize, unpadded bytes per record)
        for _ in range(n_vars):
            skip_name()
            dim_ids = [count() for _ in range(count())]
            skip_attributes()
            nc_type = int.from_bytes(take(4), "big")
            vsize = count()
            begin = int.from_bytes(take(offset_size), "big")
            is_record = bool(dim_ids) and dim_lengths[dim_ids[0]] == 0
            cells = 1
            for dim in dim_ids[1:] if is_record else dim_ids:
                cells *= dim_lengths[dim]
            nbytes = cells * _NC_TYPE_SIZES[nc_type]
            if is_record:
                records.append((begin, vsize, nbytes))
            else:
                end = max(end, begin + nbytes)
        if records and numrecs:
            # one record variable is stored unpadded; several are padded to 4 bytes each
            stride = records[0][2] if len(records) == 1 else sum(r[1] for r in records)
            end = max(end, *(b + (numrecs - 1) * stride + n for b, _, n in records))
        return end
    except (IndexError, KeyError, ValueError):
        return None


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


class _BoundedWriter(io.RawIOBase):
    """A writable buffer that raises once more than ``limit`` bytes arrive."""

    def __init__(self, limit: int, name: str, archive: Path) -> None:
        self.buffer = io.BytesIO()
        self.limit = limit
        self.name = name
        self.archive = archive

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if self.buffer.tell() + view.nbytes > self.limit:
            raise DataError(_too_big(self.archive, self.name, self.limit))
        return self.buffer.write(view)


def _too_big(archive: Path, member: str, limit: int) -> str:
    return (
        f"{archive}: member {member!r} expands beyond {limit:,} bytes (a zip bomb or an "
        "unexpectedly large file); refused. Raise the reader option "
        "'max_uncompressed_bytes' only for a trusted archive"
    )


def _safe_member_name(archive: Path, name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
        raise DataError(
            f"{archive}: member name {name!r} points outside the archive (absolute path or "
            "'..'); the archive is refused. Re-create it with relative member names"
        )


def _pick_member(archive: Path, names: list[str], suffixes: tuple[str, ...]) -> str:
    for name in names:
        _safe_member_name(archive, name)
    wanted = [n for n in names if n.lower().endswith(suffixes) and not n.endswith("/")]
    if len(wanted) != 1:
        raise DataError(
            f"{archive}: expected exactly one member ending in {' or '.join(suffixes)}, "
            f"found {len(wanted)} ({', '.join(wanted[:5]) or 'none'}); "
            "check that this is the catalogued archive"
        )
    return wanted[0]


def decompression_bound(max_bytes: Any, path: Path, default: int = 0) -> int:
    """Check a decompression bound (``max_uncompressed_bytes``); warn when it is raised.

    A recipe or a caller may raise the bound for a trusted, large archive, but never
    silently: a bound above the default (512 MiB) gives a :class:`UserWarning` naming the
    file and the new bound.

    Raises
    ------
    DataError
        The bound is not a positive whole number of bytes.
    """
    import warnings

    default = default or DEFAULT_MAX_UNCOMPRESSED
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | float) or max_bytes <= 0:
        raise DataError(
            f"max_uncompressed_bytes={max_bytes!r} for {path.name} is not a positive number of "
            "bytes; remove the option to use the default bound"
        )
    bound = int(max_bytes)
    if bound > default:
        warnings.warn(
            f"the decompression bound for {path.name} is raised to {bound:,} bytes "
            f"(default {default:,}) by the reader option max_uncompressed_bytes: an archive "
            "expanding that far is accepted; remove the option unless the file is trusted",
            UserWarning,
            stacklevel=3,
        )
    return bound


def read_zip_member(
    path: Path, *, suffixes: tuple[str, ...], max_bytes: int = DEFAULT_MAX_UNCOMPRESSED
) -> tuple[str, bytes]:
    """Return the name and bytes of the one member ending in ``suffixes``.

    Member names are checked (no absolute paths, no ``..``) and the member is
    decompressed in memory with a hard bound, whatever its header claims.

    Raises
    ------
    DataError
        Not a zip, truncated, unsafe names, several or no matching members,
        or more than ``max_bytes`` uncompressed.
    """
    max_bytes = decompression_bound(max_bytes, path)
    require_format(path, "zip")
    try:
        with zipfile.ZipFile(path) as archive:
            name = _pick_member(path, archive.namelist(), suffixes)
            info = archive.getinfo(name)
            if info.file_size > max_bytes:
                raise DataError(_too_big(path, name, max_bytes))
            out = _BoundedWriter(max_bytes, name, path)
            with archive.open(info) as member:
                for block in iter(lambda: member.read(1 << 20), b""):
                    out.write(block)
            return name, out.buffer.getvalue()
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise DataError(
            f"{path} is not a readable zip archive ({exc}); it is truncated or corrupted: "
            "delete it and fetch it again"
        ) from None


def read_7z_member(
    path: Path, *, suffixes: tuple[str, ...], max_bytes: int = DEFAULT_MAX_UNCOMPRESSED
) -> tuple[str, bytes]:
    """Return the name and bytes of the one 7-Zip member ending in ``suffixes``.

    Same guarantees as :func:`read_zip_member`: names checked, size bounded,
    nothing written to disk.
    """
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory

    max_bytes = decompression_bound(max_bytes, path)
    require_format(path, "7z")

    class _Member(Py7zIO):
        def __init__(self, name: str) -> None:
            self.writer = _BoundedWriter(max_bytes, name, path)

        def write(self, s: bytes | bytearray) -> int:
            return self.writer.write(s)

        def read(self, size: int | None = None) -> bytes:
            return self.writer.buffer.read(size)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.writer.buffer.seek(offset, whence)

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return len(self.writer.buffer.getbuffer())

    class _Factory(WriterFactory):
        def __init__(self) -> None:
            self.products: dict[str, _Member] = {}

        def create(self, filename: str) -> Py7zIO:
            _safe_member_name(path, filename)
            self.products[filename] = _Member(filename)
            return self.products[filename]

    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            entries = archive.list()
            name = _pick_member(path, [e.filename for e in entries], suffixes)
            declared = next(e.uncompressed for e in entries if e.filename == name)
            if declared is not None and declared > max_bytes:
                raise DataError(_too_big(path, name, max_bytes))
            factory = _Factory()
            archive.extract(targets=[name], factory=factory)
    except DataError:
        raise
    except (py7zr.exceptions.ArchiveError, EOFError, OSError, ValueError) as exc:
        raise DataError(
            f"{path} is not a readable 7-Zip archive ({exc}); it is truncated or corrupted: "
            "delete it and fetch it again"
        ) from None
    if name not in factory.products:
        raise DataError(f"{path}: member {name!r} could not be extracted; fetch the file again")
    return name, factory.products[name].writer.buffer.getvalue()


def decode_text(data: bytes, encoding: str, *, source: str) -> str:
    """Decode text, raising a clear error when the declared encoding is wrong.

    Raises
    ------
    DataError
        The bytes are not valid ``encoding``; the message shows the position and
        suggests declaring the right ``encoding`` in the catalog.
    """
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # a codec may decode less than the whole input (utf-8-sig strips its 3-byte BOM
        # first): positions are then relative to what it decoded, not to the file
        decoded = exc.object if isinstance(exc.object, bytes) else data
        shift = len(data) - len(decoded) if data.endswith(decoded) else 0
        start, end = exc.start + shift, exc.end + shift
        snippet = data[max(0, start - 20) : end + 20]
        raise DataError(
            f"{source} is not valid {encoding} text: byte {data[start:end]!r} at "
            f"offset {start} (near {snippet!r}); declare the file's real encoding "
            "(e.g. cp1252) in the catalog entry's 'encoding'"
        ) from None


def refuse_duplicate_columns(text: str, *, source: str) -> None:
    """Refuse a CSV whose header names a column twice.

    pandas silently renames the second one (``RMF`` -> ``RMF.1``), so a reader
    would pick one of the two without saying which.

    Raises
    ------
    DataError
        Naming the column, how often it appears, and the fix.
    """
    import csv

    header = next(csv.reader(io.StringIO(text)), [])
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        counts = ", ".join(f"{name!r} ({names.count(name)} times)" for name in repeated)
        raise DataError(
            f"{source}: the header repeats column(s) {counts}; a repeated column is ambiguous "
            "(pandas would silently rename one): remove or rename the duplicate in the file"
        )


def check_extent_plausible(bounds: Any, crs: Any, *, source: str) -> None:
    """Refuse coordinates that cannot be in ``crs`` (degrees in a projected CRS, or metres).

    Parameters
    ----------
    bounds : (minx, miny, maxx, maxy)
        The data's extent (NaN for an empty layer: nothing to check).
    crs : CRS-like
        The CRS the data declares (file or catalog).
    source : str
        The file name for messages.

    Raises
    ------
    CRSError
        A projected CRS (metres or feet) whose coordinates all fit in ±180 x ±90, i.e.
        degrees (e.g. a ``.prj`` saying EPSG:3857 beside longitude/latitude data); or a
        geographic CRS with coordinates beyond ±360 / ±90.
    """
    import math

    values = [float(v) for v in bounds]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return
    minx, miny, maxx, maxy = values
    crs = pyproj.CRS.from_user_input(crs)
    name = crs.to_string()
    if crs.is_geographic:
        if min(miny, -maxy) < -90 or minx < -360 or maxx > 360:
            raise CRSError(
                f"{source}: coordinates span x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}, which "
                f"cannot be degrees, but the CRS is geographic ({name}); declare the data's "
                "real (projected) CRS in the catalog or the .prj"
            )
        return
    if crs.is_projected and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        raise CRSError(
            f"{source}: every coordinate lies within x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}, "
            f"i.e. longitude/latitude degrees, but the declared CRS {name} is projected (in "
            f"{crs.axis_info[0].unit_name}s); declare the data's real CRS (e.g. EPSG:4326) "
            "in the catalog or the .prj"
        )


def resolve_crs(found: Any, declared: str | None, *, source: str) -> pyproj.CRS:
    """Choose a dataset's CRS: the file's own, else the catalog's declaration.

    Parameters
    ----------
    found : CRS-like or None
        The CRS the file carries (``None`` if it carries none).
    declared : str or None
        The catalog's ``crs`` for the file.
    source : str
        The file name for messages.

    Raises
    ------
    CRSError
        Neither is given (no CRS is ever assumed), or both are given and differ.
    """
    file_crs = pyproj.CRS.from_user_input(found) if found is not None else None
    declared_crs = pyproj.CRS.from_user_input(declared) if declared is not None else None
    if file_crs is None and declared_crs is None:
        raise CRSError(
            f"{source} carries no CRS and the catalog declares none; no CRS is assumed: "
            "add 'crs: EPSG:xxxx' to the file's catalog entry"
        )
    if file_crs is not None and declared_crs is not None and not _same_crs(file_crs, declared_crs):
        raise CRSError(
            f"{source} declares CRS {file_crs.to_string()!r} but the catalog says "
            f"{declared!r}; fix the catalog entry's 'crs' (or the file's .prj)"
        )
    return file_crs if file_crs is not None else declared_crs  # type: ignore[return-value]


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    """Whether two CRSs are the same up to axis order (CRS84 vs EPSG:4326) and naming (ESRI WKT)."""
    if a == b or a.equals(b, ignore_axis_order=True):
        return True
    code_a, code_b = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return code_a is not None and code_a == code_b


def attach_report(obj: Any, report: Any, **attrs: Any) -> Any:
    """Attach ``report`` (a :class:`~geomap.core.report.IngestReport`) and attrs to ``obj``."""
    obj.attrs["geomap_report"] = report.to_dict()
    for key, value in attrs.items():
        obj.attrs[key] = value
    return obj


def declared(dataset: Any, relpath: str) -> Mapping[str, Any]:
    """Return the catalog's ``crs`` and ``encoding`` for one file of ``dataset``."""
    entry = dataset.file(relpath)
    return {"crs": entry.crs, "encoding": entry.encoding}


def reject_unknown_options(
    reader_name: str, options: Mapping[str, Any], accepted: list[str]
) -> None:
    """Raise a clear error for reader options the reader does not understand."""
    if options:
        from geomap.errors import UnknownNameError

        raise UnknownNameError(
            f"reader {reader_name!r} got unknown option(s) {sorted(options)}; "
            f"it accepts {sorted(accepted)}"
        )


def pick_layer(dataset_id: str, layer: str | None, layers: Mapping[str, Any]) -> str:
    """Resolve a layer name (``None`` = the first) against a dataset's layers."""
    if not layers:
        raise DataError(f"dataset {dataset_id!r} has no layers; check its catalog entry")
    if layer is None:
        return next(iter(layers))
    if layer not in layers:
        from geomap.errors import UnknownNameError

        raise UnknownNameError(
            f"dataset {dataset_id!r} has no layer {layer!r}; choose one of {list(layers)}"
        )
    return layer


def only_file(
    dataset: Any, paths: Mapping[str, Path], layer: str | None, only_layer: str
) -> tuple[str, Path]:
    """Check ``layer`` names a one-layer, one-file dataset's layer; return (relpath, path)."""
    if layer not in (None, only_layer):
        raise ParameterError(
            f"dataset {dataset.id!r} has one layer, {only_layer!r} (got {layer!r})"
        )
    ((relpath, path),) = paths.items()
    return relpath, path


def local_file(dataset: Any, paths: Mapping[str, Path], name: str) -> tuple[str, Path]:
    """Find the catalog entry of ``dataset`` whose file name is ``name``; return (relpath, path)."""
    for relpath, path in paths.items():
        if PurePosixPath(relpath).name == name or relpath == name or relpath.endswith("/" + name):
            return relpath, path
    raise DataError(
        f"dataset {dataset.id!r} lists no file {name!r}; files: "
        + ", ".join(PurePosixPath(p).name for p in paths)
    )
