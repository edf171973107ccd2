"""Atomic file and folder writes: nothing half-written ever sits under a final name."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from geomap.errors import ExportError

__all__ = ["atomic_dir", "atomic_path"]

# What writers raise when the file system refuses a write (full disk, quota, read-only,
# file-size limit): OSError from Python and rasterio, sqlite3 errors from GeoPackage
# writes.  Other exceptions (bugs, bad values) pass through unchanged.
_WRITE_ERRORS = (OSError, sqlite3.Error)


def _causes(exc: BaseException) -> str:
    """Join the messages along an exception's chain (innermost cause included)."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 5:
        text = str(current).strip()
        if text and "previous exception" not in text and text not in seen:
            seen.append(text)
        current = current.__cause__ or current.__context__
    return "; ".join(seen) or type(exc).__name__


def _write_failed(final: Path, exc: BaseException) -> ExportError:
    return ExportError(
        f"writing {final} failed ({_causes(exc)}); free disk space, or choose another "
        "(writable) folder; nothing was left under that name"
    )


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create output folder {folder} ({exc.strerror}); choose a writable folder"
        ) from exc
    if not os.access(folder, os.W_OK):
        raise ExportError(f"output folder {folder} is not writable; choose a writable folder")


@contextlib.contextmanager
def _removed_on_failure(tmp: Path, final: Path) -> Iterator[None]:
    """Remove ``tmp`` if the body fails; file-system errors become an ExportError on ``final``."""
    try:
        yield
    except ExportError as exc:
        _remove(tmp)
        if str(final) in str(exc):
            raise
        raise ExportError(f"writing {final} failed: {exc}") from exc
    except _WRITE_ERRORS as exc:
        _remove(tmp)
        raise _write_failed(final, exc) from exc
    except RuntimeError as exc:
        _remove(tmp)
        # GDAL's Python bindings report a full disk or a refused write as their own
        # RuntimeError subclasses (pyogrio's DataSourceError, ...): the same one-line error
        if type(exc).__module__.split(".")[0] in ("pyogrio", "rasterio", "fiona", "osgeo"):
            raise _write_failed(final, exc) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success.

    The temporary file lives in the same folder (same file system) so the
    closing rename is atomic.  On any exception the temporary file is removed
    and ``final`` is left untouched.

    Parameters
    ----------
    final : path-like
        The path the finished file must end up at.

    Yields
    ------
    Path
        Where to write.  It does not exist yet; writers may create it.

    Raises
    ------
    ExportError
        When the folder cannot be created or written (full disk, read-only).
    """
    final = Path(final)
    _check_writable(final.parent)
    # keep the extension last: GDAL picks its driver from it
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=final.parent
        )
    except OSError as exc:
        raise _write_failed(final, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    with _removed_on_failure(tmp, final):
        yield tmp
        if not tmp.exists():
            raise ExportError(f"nothing was written for {final}; the writer produced no file")
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_dir(
    final: str | os.PathLike[str], *, overwrite: bool = False, geomap_owned: bool = False
) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; move it to ``final`` on success.

    Parameters
    ----------
    final : path-like
        The folder that must appear complete or not at all.
    overwrite : bool, default False
        Replace an existing ``final`` folder (only after the new one is complete), and only
        if geomap wrote it (:func:`geomap.core.output_guard.check_replaceable`): it carries
        geomap's ``manifest.json`` and no file the manifest does not list.  Checked before
        the body runs and again, under the output's lock, just before the final rename.
    geomap_owned : bool, default False
        ``final`` lies in a folder only geomap writes (the product cache): no manifest is
        required or written, and no output lock is taken.

    Yields
    ------
    Path
        An empty temporary folder to fill.  Unless the body writes a ``manifest.json``, a
        minimal one listing every file is added, so ``overwrite`` can later replace it.

    Raises
    ------
    OutputExistsError
        ``final`` exists and may not be replaced (see ``overwrite``), or appeared while the
        body ran and ``overwrite`` is false.
    """
    from geomap.core.output_guard import check_output_path, check_replaceable, output_lock

    final = check_output_path(final, option="output folder")
    if not geomap_owned:
        check_replaceable(final, overwrite=overwrite)
    _check_writable(final.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    except OSError as exc:
        raise _write_failed(final, exc) from exc
    with _removed_on_failure(tmp, final):
        yield tmp
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it owner-only; finished folders follow umask
        if geomap_owned:
            _move_into_place(tmp, final, overwrite=overwrite)
            return
        if not (tmp / "manifest.json").exists():
            _write_marker(tmp)
        with output_lock(final):
            check_replaceable(final, overwrite=overwrite)  # it may have appeared meanwhile
            _move_into_place(tmp, final, overwrite=overwrite)


def _write_marker(folder: Path) -> None:
    """Write the minimal geomap manifest: what geomap wrote into ``folder``."""
    import datetime as dt
    import hashlib
    import json

    outputs = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for piece in iter(lambda: handle.read(2**22), b""):
                digest.update(piece)
        outputs[path.relative_to(folder).as_posix()] = digest.hexdigest()
    document = {
        "geomap_manifest": 1,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "outputs": outputs,
    }
    (folder / "manifest.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _move_into_place(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Rename ``tmp`` to ``final``; with ``overwrite``, swap out an existing ``final`` first.

    The old folder is moved to a fresh, unique name of geomap's own (never a fixed name a
    user folder could have) and removed only once the new one is in place.
    """
    from geomap.core.output_guard import rename_no_replace
    from geomap.errors import OutputExistsError

    old: Path | None = None
    if overwrite and (final.exists() or final.is_symlink()):
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.replace(final, old)  # onto the empty folder just made: only geomap's own name
    try:
        rename_no_replace(tmp, final)
    except FileExistsError:
        if old is not None:
            _restore(old, final)
        raise OutputExistsError(
            f"{final} appeared while geomap was writing it; nothing was replaced: pass "
            "--overwrite to replace it, or choose another output folder"
        ) from None
    except BaseException:
        if old is not None:
            _restore(old, final)
        raise
    if old is not None:
        _remove(old)


def _restore(old: Path, final: Path) -> None:
    """Put the previous output back where it was (it is never deleted on failure)."""
    with contextlib.suppress(OSError):
        if not (final.exists() or final.is_symlink()):
            os.replace(old, final)


def _umask() -> int:
    """Read the process umask without changing it (Linux), else swap it for a moment."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: a brief swap to a common, safe value
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
