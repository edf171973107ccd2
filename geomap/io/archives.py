"""Safe unpacking of the official bulk downloads (zip archives of shapefiles, CSVs, grids).

The official sources come as large zip archives (GSJ Seamless V2, SGMC, MRDS, NGS,
EMAG2v3: hundreds of MB to GB).  Readers must not hold them in memory, so an archive
is unpacked once onto disk, into the download cache, and read from there with
windowed/bbox reads.  Unpacking is guarded like every other archive access
(:mod:`geomap.io._formats`, :mod:`geomap.io._archive_members`):

* member names are checked before anything is written (no absolute paths, no
  ``..``, no drive letters, no symbolic links);
* the declared sizes are bounded (per member and in total) *and* every member is
  copied through a counter that stops at the bound whatever its header claims
  (zip bombs);
* the archive is unpacked into a temporary folder beside the final one and renamed
  into place only when complete, so an interrupted unpack never leaves a partial
  folder under the final name;
* the folder is keyed by the archive's sha256, so a changed archive is unpacked
  afresh and a stale folder is never read.

:func:`find_member` then locates the files a reader expects and, when the layout is
not the documented one, raises a :class:`~geomap.errors.DataError` that names the
archive, the missing files and what the archive holds instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from geomap.errors import DataError
from geomap.io._archive_members import _safe_member_name
from geomap.io._formats import require_format

__all__ = [
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_TOTAL_BYTES",
    "find_member",
    "list_files",
    "unpack_zip",
]

DEFAULT_MAX_TOTAL_BYTES = 16 * 1024**3
"""Largest total uncompressed size accepted for an official archive (EMAG2v3 is ~3 GB)."""

DEFAULT_MAX_MEMBERS = 20_000
"""Most members accepted in one archive (a file geodatabase has a few hundred)."""

_MARKER = ".geomap-unpacked"


def _unpack_root() -> Path:
    from geomap import _paths

    return _paths.cache_dir() / "unpacked"


def _archive_digest(path: Path) -> str:
    from geomap.fetching import file_sha256

    return file_sha256(path)


def _check_members(
    archive: Path, infos: list[zipfile.ZipInfo], max_total: int, max_members: int
) -> None:
    if len(infos) > max_members:
        raise DataError(
            f"{archive}: {len(infos):,} members (more than {max_members:,}); refused as a "
            "likely zip bomb. Pass max_members=... only for a trusted archive"
        )
    total = 0
    for info in infos:
        _safe_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            raise DataError(
                f"{archive}: member {info.filename!r} is a symbolic link; links could point "
                "outside the unpack folder, so the archive is refused: re-create it without links"
            )
        total += info.file_size
    if total > max_total:
        raise DataError(
            f"{archive}: members expand to {total:,} bytes, beyond {max_total:,}; refused. "
            "Pass max_total_bytes=... only for a trusted archive"
        )


def _copy_bounded(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int], name: Path
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        for block in iter(lambda: source.read(1 << 20), b""):
            written += len(block)
            budget[0] -= len(block)
            if written > info.file_size or budget[0] < 0:
                raise DataError(
                    f"{name}: member {info.filename!r} expands beyond its declared size "
                    f"{info.file_size:,} bytes (or past the archive's limit); refused as a zip bomb"
                )
            sink.write(block)


def unpack_zip(
    path: Path,
    *,
    dest_root: Path | None = None,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> Path:
    """Unpack a zip archive once, safely, and return the folder holding its members.

    Parameters
    ----------
    path : Path
        The local archive (a verified download or mirror copy).
    dest_root : Path, optional
        Where unpacked folders live (default ``<cache>/unpacked``).  The archive
        goes to ``<dest_root>/<archive stem>-<first 12 hex of its sha256>``.
    max_total_bytes, max_members : int
        Bounds on the total uncompressed size and member count.

    Returns
    -------
    Path
        The folder (already present when the same bytes were unpacked before).

    Raises
    ------
    DataError
        Not a zip, truncated, unsafe member names or links, too large.
    """
    path = Path(path)
    require_format(path, "zip", what="zip archive")
    digest = _archive_digest(path)
    root = Path(dest_root) if dest_root is not None else _unpack_root()
    final = root / f"{path.stem}-{digest[:12]}"
    if (final / _MARKER).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{path.stem}.", suffix=".part"))
    try:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                _check_members(path, infos, max_total_bytes, max_members)
                budget = [max_total_bytes]
                for info in infos:
                    if info.is_dir():
                        continue
                    relative = PurePosixPath(info.filename.replace("\\", "/"))
                    _copy_bounded(archive, info, tmp.joinpath(*relative.parts), budget, path)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            raise DataError(
                f"{path} is not a readable zip archive ({exc}); it is truncated or corrupted: "
                "delete it and fetch it again"
            ) from None
        (tmp / _MARKER).write_text(f"{digest}\n", encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / _MARKER).is_file():  # another process did not finish it first
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return final


def list_files(folder: Path) -> list[str]:
    """Return the relative POSIX paths of the files under ``folder`` (a ``.gdb`` counts as one)."""
    out: list[str] = []
    for current, dirs, files in os.walk(folder):
        base = Path(current)
        for name in list(dirs):
            if name.lower().endswith(".gdb"):
                out.append((base / name).relative_to(folder).as_posix())
                dirs.remove(name)
        out.extend((base / f).relative_to(folder).as_posix() for f in files if f != _MARKER)
    return sorted(out)


def find_member(
    folder: Path, names: tuple[str, ...], *, archive: Path | str, expected: str
) -> Path | None:
    """Find the one file (or ``.gdb`` folder) named one of ``names`` (case-insensitive).

    Parameters
    ----------
    folder : Path
        An unpacked archive.
    names : tuple of str
        Acceptable base names, e.g. ``("seamlessV2_poly.shp",)``.
    archive : Path or str
        The archive, for messages.
    expected : str
        The documented layout, for messages (e.g. ``"seamlessV2_poly.shp, legend.tsv"``).

    Returns
    -------
    Path or None
        ``None`` when no member matches (the caller decides whether that is an error).

    Raises
    ------
    DataError
        Several members match (ambiguous layout).
    """
    wanted = {n.lower() for n in names}
    found = [p for p in list_files(folder) if PurePosixPath(p).name.lower() in wanted]
    if len(found) > 1:
        raise DataError(
            f"{archive}: several members named {names[0]!r} ({', '.join(found[:4])}); the "
            f"archive is not the documented layout ({expected}): keep one copy"
        )
    return folder / found[0] if found else None


def layout_error(folder: Path, archive: Path | str, missing: list[str], expected: str) -> DataError:
    """Return a :class:`DataError` naming the archive, the missing members and its content."""
    held = list_files(folder)
    shown = ", ".join(held[:8]) + (f", ... ({len(held)} files)" if len(held) > 8 else "")
    return DataError(
        f"{archive}: wrong archive layout: {', '.join(missing)} not found (it holds "
        f"{shown or 'no files'}); the documented layout is {expected}. Download the official "
        "archive again, or point the reader at the unpacked folder"
    )
