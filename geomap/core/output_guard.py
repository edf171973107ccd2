"""What ``--overwrite`` may replace, and one writer per output folder at a time.

Ground floor: imported by any layer, importing none of them.

geomap replaces an existing output folder only when it can tell that geomap wrote it: the
folder carries geomap's ``manifest.json`` (a JSON object with a ``geomap_manifest`` key) and
holds no file that the manifest does not list.  Plain files, symbolic links, ``/``, the home
folder, the working folder (and any folder above them) are never replaced.  The check runs
before any work and again, under a lock, just before the final rename, so a folder that
appears (or changes) at the output path while a build runs is never silently replaced.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "new"
>>> check_replaceable(folder, overwrite=False)  # nothing there: fine
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from geomap.errors import ExportError, OutputExistsError, ParameterError

__all__ = [
    "MANIFEST",
    "check_output_path",
    "check_replaceable",
    "output_lock",
    "rename_no_replace",
]

MANIFEST = "manifest.json"
"""The file that marks a folder as geomap's own output."""

_MAX_NAMED = 5


def check_output_path(path: str | os.PathLike[str], *, option: str = "--out") -> Path:
    """Return ``path`` as a :class:`Path`, refusing names no output should have.

    An empty name and names with control characters (a newline, a tab, NUL...) are refused:
    GDAL and SQLite writers choke on them and a listing would show a different name.

    Raises
    ------
    ParameterError
        The name is empty or holds a control character.
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise ParameterError(f"{option} {text!r} is empty; pass a folder name, e.g. {option} out")
    bad = sorted({c for c in str(text) if ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ParameterError(
            f"{option} {text!r} holds the control character(s) {shown}; "
            "choose a name without line breaks or other control characters"
        )
    return Path(text)


def _protected(resolved: Path) -> str | None:
    """Say why ``resolved`` may never be replaced (``None`` when it may)."""
    if resolved == Path(resolved.anchor):
        return "the root folder"
    home = Path.home().resolve()
    cwd = Path.cwd().resolve()
    if resolved == home:
        return "your home folder"
    if resolved == cwd:
        return "the working folder"
    if resolved in home.parents:
        return f"a folder above your home folder {home}"
    if resolved in cwd.parents:
        return f"a folder above the working folder {cwd}"
    return None


def _manifest_outputs(folder: Path) -> set[str] | None:
    """Return the files a geomap manifest in ``folder`` lists (``None``: no manifest)."""
    path = folder / MANIFEST
    try:
        if not path.is_file() or path.is_symlink():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or "geomap_manifest" not in document:
        return None
    outputs = document.get("outputs", {})
    listed = set(outputs) if isinstance(outputs, dict | list) else set()
    return {str(name) for name in listed} | {MANIFEST}


DERIVED_SUFFIXES = (".aux.xml", ".ovr", ".msk", "-wal", "-shm", "-journal")
"""Files GDAL and SQLite make beside an output when it is opened (e.g. in QGIS)."""

SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""Files file browsers leave in any folder they show."""


def _derived(relative: str, listed: set[str]) -> bool:
    """Tell whether ``relative`` was made by a reader of a listed output (or a file browser)."""
    if relative.rsplit("/", 1)[-1] in SYSTEM_FILES:
        return True
    return any(
        relative.endswith(suffix) and relative[: -len(suffix)] in listed
        for suffix in DERIVED_SUFFIXES
    )


def _foreign_files(folder: Path, listed: set[str]) -> list[str]:
    """Files (and links, and other non-folders) under ``folder`` the manifest does not list.

    Files that GDAL or SQLite derive from a listed output when it is opened (``x.gpkg-wal``,
    ``x.tif.aux.xml``, ...) and file-browser litter (``.DS_Store``) are not foreign.
    """
    foreign = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            relative = (base / name).relative_to(folder).as_posix()
            if relative not in listed and not _derived(relative, listed):
                foreign.append(relative)
    return sorted(foreign)


def check_replaceable(
    path: str | os.PathLike[str], *, overwrite: bool, option: str = "--out"
) -> None:
    """Refuse to go on unless ``path`` is free, or is a geomap output ``overwrite`` may replace.

    Parameters
    ----------
    path : path-like
        The output folder.
    overwrite : bool
        Whether the caller asked to replace an existing output.
    option : str
        The option to quote in messages.

    Raises
    ------
    OutputExistsError
        Something exists at ``path`` and ``overwrite`` is false, or it is not a folder that
        geomap wrote (a plain file, a link, ``/``, the home or working folder, a folder
        without geomap's manifest, or one holding files the manifest does not list; those
        files are named).
    """
    target = Path(path)
    if not (target.exists() or target.is_symlink()):
        return
    if not overwrite:
        raise OutputExistsError(
            f"output folder {target} already exists; pass --overwrite to replace it, or "
            f"choose another {option}"
        )
    refuse = "; --overwrite replaces only a folder that geomap wrote: choose another "
    if target.is_symlink():
        raise OutputExistsError(
            f"{target} is a symbolic link, not a geomap output folder{refuse}{option}"
        )
    if not target.is_dir():
        raise OutputExistsError(
            f"{target} is a file, not a geomap output folder{refuse}{option} "
            "(or delete the file yourself)"
        )
    resolved = target.resolve()
    reason = _protected(resolved)
    if reason:
        raise OutputExistsError(
            f"{option} {target} is {reason}, which geomap never replaces{refuse}{option}, "
            "e.g. a new subfolder"
        )
    listed = _manifest_outputs(resolved)
    if listed is None:
        raise OutputExistsError(
            f"{target} holds no geomap {MANIFEST}, so geomap did not write it{refuse}{option} "
            "(or delete the folder yourself)"
        )
    foreign = _foreign_files(resolved, listed)
    if foreign:
        named = ", ".join(foreign[:_MAX_NAMED])
        more = f" and {len(foreign) - _MAX_NAMED} more" if len(foreign) > _MAX_NAMED else ""
        raise OutputExistsError(
            f"{target} holds files geomap did not write ({named}{more}){refuse}{option}, "
            "or move those files out first"
        )


# ---- one writer per output folder ---------------------------------------------------------

_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_file(target: Path) -> Path:
    resolved = target.resolve() if target.exists() else target.parent.resolve() / target.name
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = Path(tempfile.gettempdir()) / f"geomap-locks-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{digest}.lock"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], *, option: str = "--out") -> Iterator[None]:
    """Hold the lock of one output path; fail at once if another process holds it.

    The lock is re-entrant within a process (a build holds it from its first check to its
    final rename, and the rename takes it again).  Lock files live in a private folder of
    the temporary directory, never beside the output.

    Raises
    ------
    ExportError
        Another geomap process is writing the same output now.
    """
    target = Path(path)
    try:
        lock_path = str(_lock_file(target))
    except OSError as exc:
        raise ExportError(
            f"cannot create the lock of {target} in {tempfile.gettempdir()} ({exc.strerror}); "
            "set TMPDIR to a writable folder"
        ) from exc
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(lock_path, FileLock(lock_path, thread_local=False))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ExportError(
            f"another geomap process is writing {target} right now; wait for it to finish, "
            f"or choose another {option}"
        ) from None
    try:
        yield
    finally:
        lock.release()


# ---- a rename that never replaces -----------------------------------------------------------

_RENAME_NOREPLACE = 1


def _libc_renameat2() -> object | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        function = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_renameat2 = _libc_renameat2()


def rename_no_replace(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; fail with :class:`FileExistsError` if ``target`` exists.

    Uses Linux's ``renameat2(RENAME_NOREPLACE)`` (atomic); elsewhere a check followed by the
    rename, where a non-empty folder still makes the rename fail.
    """
    if _renameat2 is not None:
        at_fdcwd = -100
        result = _renameat2(  # type: ignore[operator]
            at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(code, os.strerror(code), str(target))
    if target.exists() or target.is_symlink():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)
