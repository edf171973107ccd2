"""Reading one member of a zip or 7-Zip archive into memory, bounded and name-checked.

Member names are checked before anything is read (no absolute paths, no ``..``, no drive
letters) and every member is decompressed through a counter that stops at a bound
(:data:`DEFAULT_MAX_UNCOMPRESSED` unless a reader option raises it) whatever its header
claims; nothing is written to disk.  Whole archives too large for memory are unpacked to the
cache by :mod:`geomap.io.archives`, which shares the member-name check.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from geomap.errors import DataError
from geomap.io._formats import require_format

__all__ = ["DEFAULT_MAX_UNCOMPRESSED", "read_7z_member", "read_zip_member"]

DEFAULT_MAX_UNCOMPRESSED = 512 * 1024**2
"""Largest archive member (bytes, uncompressed) a reader accepts unless told otherwise."""


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
