"""Offline-first fetching: local mirror, then the download cache, then the public URL.

Every file listed in the catalog is looked up, in order, in

1. the mirror directories (``$GEOMAP_DATA_DIR``, then ``../shared/data`` beside the checkout),
2. the download cache (``$GEOMAP_CACHE_DIR`` or the per-user cache),

and its sha256 is checked before its path is returned.  Only when no local copy
exists is it downloaded (within bounds: :mod:`geomap.core.download`) into a temporary file beside
its final place in the cache, hashed, and moved into place only if the hash
matches: a failed, truncated or wrong download never leaves a file in the cache.
Downloads of the same file by two processes are serialised with a file lock.

Examples
--------
>>> from geomap.fetching import fetch
>>> paths = fetch("emag2-v2-1deg")
>>> paths[0].name
'EMAG2_V2_1x1.grd'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from filelock import FileLock

from geomap import _paths
from geomap.catalog import Catalog, DataFile, Dataset, load_catalog
from geomap.errors import FetchError, HashMismatchError

__all__ = ["FileStatus", "fetch", "fetch_file", "file_sha256", "verify"]

_RECORDED_HASHES = "recorded_hashes.json"
_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file (memoised on path, size and modification time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _HASH_MEMO.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        digest = _HASH_MEMO[key] = hasher.hexdigest()
    return digest


def _search_roots() -> list[Path]:
    return [*_paths.data_roots(), _paths.cache_dir()]


def _recorded_hashes(cache: Path) -> dict[str, str]:
    registry = cache / _RECORDED_HASHES
    if not registry.exists():
        return {}
    try:
        data = json.loads(registry.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FetchError(
            f"{registry} is unreadable ({exc}); delete it to record hashes afresh on next download"
        ) from None
    return {str(k): str(v) for k, v in data.items()}


def _record_hash(cache: Path, path: str, digest: str) -> None:
    with FileLock(str(cache / f"{_RECORDED_HASHES}.lock")):
        data = _recorded_hashes(cache)
        data[path] = digest
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".recorded.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, cache / _RECORDED_HASHES)


def _expected_hash(entry: DataFile) -> str | None:
    if entry.sha256 is not None:
        return entry.sha256
    return _recorded_hashes(_paths.cache_dir()).get(entry.path)


def _check(path: Path, entry: DataFile, expected: str | None) -> None:
    if expected is None:
        return
    actual = file_sha256(path)
    if actual != expected:
        raise HashMismatchError(
            f"{path}: sha256 mismatch for catalog file {entry.path!r}: expected {expected}, "
            f"got {actual}. The local copy is corrupt or a different version; delete it so it "
            "is downloaded again, or restore the original bytes"
        )


def _download(entry: DataFile, target: Path, *, progress: bool, timeout: float) -> None:
    import requests
    import urllib3

    from geomap.core.download import DownloadLimits, download

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # bounded: same-host redirects, the catalogued size, a deadline and a minimum rate
        limits = DownloadLimits.from_environment(read_timeout_s=timeout)
        try:
            download(
                entry.url,
                tmp,
                what=repr(entry.path),
                expected_size=entry.size,
                limits=limits,
                progress=progress,
            )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise FetchError(
                f"download of {entry.path!r} failed: HTTP {status} from {entry.url}. The file may "
                f"have moved; download it by hand and place it at <data dir>/{entry.path} "
                "(a folder named in GEOMAP_DATA_DIR)"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FetchError(
                f"cannot download {entry.path!r}: no connection to {entry.url} "
                f"({type(exc).__name__}). Fetch it on a machine with network access and put it "
                f"at <data dir>/{entry.path}, with the data dir named in GEOMAP_DATA_DIR"
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise FetchError(
                f"download of {entry.path!r} from {entry.url} was interrupted ({exc}); "
                "nothing was kept in the cache, run the fetch again"
            ) from None
        actual = file_sha256(tmp)
        expected = _expected_hash(entry)
        if expected is not None and actual != expected:
            raise HashMismatchError(
                f"downloaded {entry.path!r} from {entry.url}: sha256 mismatch: "
                f"expected {expected}, got {actual}. The transfer was truncated or the server "
                "holds other bytes; nothing was kept in the cache: run the fetch again, and if "
                "the publisher changed the file, check it and update the catalog's sha256"
            )
        os.replace(tmp, target)
        if expected is None:
            _record_hash(_paths.cache_dir(), entry.path, actual)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fetch_file(
    entry: DataFile, *, download: bool = True, progress: bool = False, timeout: float = 60.0
) -> Path:
    """Return a verified local path for one catalog file, downloading it if needed.

    Parameters
    ----------
    entry : DataFile
        The catalog file entry.
    download : bool, default True
        Download from ``entry.url`` when no local copy exists.  With ``False``
        a missing file is an error.
    progress : bool, default False
        Show a download progress bar.
    timeout : float, default 60
        Seconds to wait for the server.

    Returns
    -------
    Path
        The local file, whose sha256 matches the catalog (or the hash recorded
        at its first download, for online-only entries).

    Raises
    ------
    HashMismatchError
        A local copy or the download has other bytes than the catalog records.
    FetchError
        The file is not available locally and cannot be downloaded.
    """
    expected = _expected_hash(entry)
    for root in _search_roots():
        candidate = root / entry.path
        if candidate.is_file():
            _check(candidate, entry, expected)
            return candidate
    if not download:
        roots = ", ".join(str(r) for r in _search_roots())
        raise FetchError(
            f"{entry.path!r} is not available locally (searched {roots}); fetch it with "
            f"`geomap fetch` or download {entry.url} to <data dir>/{entry.path}"
        )
    cache = _paths.cache_dir()
    target = cache / entry.path
    lock_dir = cache / ".locks"
    lock_name = hashlib.sha256(entry.path.encode()).hexdigest()[:32] + ".lock"
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / lock_name)):
            if target.is_file():  # another process finished the download while we waited
                _check(target, entry, _expected_hash(entry))
                return target
            _download(entry, target, progress=progress, timeout=timeout)
    except FetchError:
        raise
    except OSError as exc:  # read-only or full cache folder
        raise FetchError(
            f"cannot write {entry.path!r} into the download cache {cache} "
            f"({exc.strerror or exc}); free disk space there, or set GEOMAP_CACHE_DIR to a "
            "writable folder; nothing was kept in the cache"
        ) from exc
    return target


def fetch(
    dataset_id: str,
    *,
    catalog: Catalog | None = None,
    download: bool = True,
    progress: bool = False,
) -> list[Path]:
    """Return verified local paths for every file of a dataset.

    Parameters
    ----------
    dataset_id : str
        The catalog id, e.g. ``"gem-global-active-faults-2017"``.
    catalog : Catalog, optional
        Defaults to :func:`geomap.catalog.load_catalog`.
    download : bool, default True
        Download files that are not available locally.
    progress : bool, default False
        Show download progress bars.

    Returns
    -------
    list of Path
        One path per catalog file, in catalog order.
    """
    dataset = (catalog or load_catalog()).dataset(dataset_id)
    return [fetch_file(entry, download=download, progress=progress) for entry in dataset.files]


Status = Literal["ok", "missing", "mismatch", "online-only"]


@dataclass(frozen=True)
class FileStatus:
    """The verification result for one catalog file."""

    dataset_id: str
    path: str
    size: int | None
    status: Status
    detail: str = ""

    @property
    def failed(self) -> bool:
        """Whether this file makes verification fail."""
        return self.status in ("missing", "mismatch")


def _verify_entry(dataset: Dataset, entry: DataFile) -> FileStatus:
    try:
        path = fetch_file(entry, download=False)
    except HashMismatchError as exc:
        return FileStatus(dataset.id, entry.path, entry.size, "mismatch", str(exc))
    except FetchError:
        if dataset.online_only:
            return FileStatus(
                dataset.id, entry.path, entry.size, "online-only", "online-only, not mirrored"
            )
        return FileStatus(dataset.id, entry.path, entry.size, "missing", "no local copy")
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        return FileStatus(
            dataset.id, entry.path, size, "mismatch", f"size {size} != catalog {entry.size}"
        )
    return FileStatus(dataset.id, entry.path, size, "ok", str(path))


def verify(dataset_ids: Iterable[str] = (), *, catalog: Catalog | None = None) -> list[FileStatus]:
    """Check every file of the given datasets (all when none are given) without downloading.

    Returns
    -------
    list of FileStatus
        One row per file: ``ok``, ``missing``, ``mismatch`` or ``online-only``.
    """
    catalog = catalog or load_catalog()
    ids = list(dataset_ids) or [d.id for d in catalog.datasets]
    rows: list[FileStatus] = []
    for dataset_id in ids:
        dataset = catalog.dataset(dataset_id)
        rows.extend(_verify_entry(dataset, entry) for entry in dataset.files)
    return rows
