"""Format checks made before any library opens an untrusted file.

GDAL picks a driver from a file's *content*, not its name, and some drivers
(VRT, OGR VRT, GTI, ...) make GDAL open other local files or the network
(see GDAL's "Security considerations" page).  Every reader therefore

1. checks the file before any library opens it (:func:`require_format`, this
   module): it exists, is not empty, and its first bytes are the format the
   reader expects (a VRT renamed ``.tif`` or ``.shp`` is refused here); for
   formats with a length in their header (shapefile, dBASE, GeoPackage, netCDF
   classic) truncation is caught too;
2. opens it with GDAL under restrictive configuration options
   (:mod:`geomap.io._gdal`): no VRT raw-file or Python bands, no ``.aux.xml``
   side files, no directory listing, and ``/vsicurl/`` limited to an extension
   no file has; rasters are opened with an explicit list of allowed drivers
   (:func:`~geomap.io._gdal.open_raster`) and vectors are checked afterwards for
   the driver that read them (:func:`~geomap.io._gdal.read_ogr`).  The options
   are defence in depth, not the barrier: rasterio and pyogrio each bundle their
   own GDAL (3.10 and 3.12 at the time of writing) and GDAL before 3.12 ignores
   ``GDAL_VRT_ENABLE_RAWRASTERBAND``; what keeps VRTs out is step 1 plus the
   single allowed raster driver (GTiff cannot reference other files);
3. reads archive members into memory with a bound on the uncompressed size and
   refuses absolute or ``..`` member names
   (:mod:`geomap.io._archive_members`; whole archives unpacked to the cache go
   through the same name check in :mod:`geomap.io.archives`).

Text and CSV headers are checked in :mod:`geomap.io._text`, CRSs in
:mod:`geomap.io._crs_checks`.  Errors are :class:`~geomap.errors.DataError`
naming the file and the fix.
"""

from __future__ import annotations

import struct
from pathlib import Path

from geomap.errors import DataError

__all__ = ["require_format"]

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
