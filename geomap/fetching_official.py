"""Fetching the official full-resolution sources: resumable downloads, trust on first use.

The online-only catalog entries (GSJ Seamless V2, SGMC, MRDS, NGS, EMAG2v3) are large
(hundreds of MB to GB) and carry no sha256 in the catalog.  :func:`fetch_official`

1. looks for a local copy first (mirror folders, then the download cache), exactly
   like :func:`geomap.fetching.fetch_file`;
2. otherwise downloads into ``<cache>/<path>.part`` **with resume**: an interrupted
   download keeps its partial file and the next run asks the server for the rest
   (HTTP ``Range: bytes=N-``); a server that ignores ranges sends the whole file
   again and the partial file is replaced;
3. hashes the complete file: against the catalog's sha256 when it has one, else
   against the hash **recorded at the first download** (``recorded_hashes.json`` in
   the cache, the same registry :mod:`geomap.fetching` checks on every later use).
   A file that differs from the recorded hash is refused (the publisher changed it, or
   the transfer was tampered with) unless ``accept_new_hash=True``
   (``geomap fetch ID --accept-new-hash``), which records the new hash;
4. moves it into place only when accepted, and hands each zip archive to ``unpack`` (the CLI
   passes :func:`geomap.io.archives.unpack_zip`: checked names, bounded sizes, atomic; readers
   unpack on first read otherwise).

:func:`local_official_files` is what readers use: it never downloads (a multi-GB
download only ever starts from an explicit ``geomap fetch``), and its error says
which command fetches the data.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from geomap import _paths
from geomap.catalog import Catalog, DataFile, Dataset, load_catalog
from geomap.errors import FetchError, HashMismatchError

__all__ = [
    "DownloadResult",
    "download_resumable",
    "fetch_official",
    "is_available",
    "local_official_files",
]

_BLOCK = 1 << 20


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_resumable` did."""

    path: Path
    resumed_from: int
    bytes_received: int


def _blocks(response: Any) -> Iterator[bytes]:
    """Yield the body as it arrives (``read1``), so bytes before a dropped connection are kept."""
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # pragma: no cover  (urllib3 < 2)
        yield from response.iter_content(_BLOCK)
        return
    while True:
        block = read1(_BLOCK)
        if not block:
            return
        yield block


def download_resumable(
    url: str,
    part: Path,
    *,
    timeout: float = 60.0,
    max_bytes: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> DownloadResult:
    """Download ``url`` into ``part``, continuing from its current size when the server allows.

    Parameters
    ----------
    url : str
        The file's URL.
    part : Path
        The partial file (created or extended).
    timeout : float
        Seconds to wait for the server between bytes.
    max_bytes : int, optional
        Refuse a file larger than this (the partial file is kept).
    progress : callable, optional
        Called with (bytes so far, total or None).

    Raises
    ------
    FetchError
        HTTP errors, a lost connection (the partial file is kept for the next run), or
        a file beyond ``max_bytes``.
    """
    import contextlib
    import time

    import requests
    import urllib3

    from geomap.core.download import DownloadLimits, _check_pace, _follow

    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    received = 0
    # the same bounds as every download: same-host redirects, a deadline, a minimum rate
    limits = DownloadLimits.from_environment(read_timeout_s=timeout)
    if max_bytes is None:
        max_bytes = limits.max_bytes_unknown_size
    began = time.monotonic()
    try:
        with (
            requests.Session() as session,
            contextlib.closing(_follow(session, url, limits, url, headers)) as response,
        ):
            if response.status_code == 416 and have:  # nothing left to send: already complete
                return DownloadResult(part, have, 0)
            response.raise_for_status()
            if response.status_code == 206:
                mode, start = "ab", have
            else:  # the server ignored the range: start again
                mode, start = "wb", 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length and length.isdigit() else None
            if max_bytes is not None and total is not None and total > max_bytes:
                raise FetchError(
                    f"{url} announces {total:,} bytes, more than the limit {max_bytes:,}; "
                    "refused (raise the limit only for a file you expect to be that large)"
                )
            with part.open(mode) as sink:
                for block in _blocks(response):
                    sink.write(block)
                    received += len(block)
                    if max_bytes is not None and start + received > max_bytes:
                        raise FetchError(f"{url} sent more than {max_bytes:,} bytes; refused")
                    if progress is not None:
                        progress(start + received, total)
                    _check_pace(received, time.monotonic() - began, limits, url, url)
            if total is not None and start + received < total:
                raise FetchError(
                    f"download of {url} stopped at {start + received:,} of {total:,} bytes; the "
                    f"partial file {part} is kept: run the fetch again to resume"
                )
    except FetchError:
        raise
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise FetchError(
            f"download failed: HTTP {status} from {url}; the file may have moved: check the "
            "dataset's landing page (geomap catalog show ID)"
        ) from None
    except (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
        OSError,
    ) as exc:
        size = part.stat().st_size if part.exists() else 0
        raise FetchError(
            f"download of {url} was interrupted after {size:,} bytes ({type(exc).__name__}); "
            f"the partial file {part} is kept: run `geomap fetch` again to resume"
        ) from None
    return DownloadResult(part, start, received)


def _recorded(entry: DataFile) -> str | None:
    from geomap import fetching

    return fetching._recorded_hashes(_paths.cache_dir()).get(entry.path)


def _record(entry: DataFile, digest: str) -> None:
    from geomap import fetching

    fetching._record_hash(_paths.cache_dir(), entry.path, digest)


def _local(entry: DataFile, *, accept_new_hash: bool) -> Path | None:
    """Return a verified local copy, ``None`` when there is none."""
    from geomap.fetching import fetch_file, file_sha256

    try:
        return fetch_file(entry, download=False)
    except HashMismatchError:
        if not accept_new_hash or entry.sha256 is not None:
            raise
        for root in [*_paths.data_roots(), _paths.cache_dir()]:
            candidate = root / entry.path
            if candidate.is_file():
                _record(entry, file_sha256(candidate))
                return candidate
        raise
    except FetchError:
        return None


def _download_entry(
    dataset: Dataset, entry: DataFile, *, accept_new_hash: bool, timeout: float, progress: bool
) -> Path:
    from geomap.fetching import file_sha256

    cache = _paths.cache_dir()
    target = cache / entry.path
    part = target.with_name(target.name + ".part")
    lock_dir = cache / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_dir / (hashlib.sha256(entry.path.encode()).hexdigest()[:32] + ".lock")
    report = None
    if progress:
        import sys

        def report(done: int, total: int | None) -> None:
            share = f" of {total:,}" if total else ""
            sys.stderr.write(f"\r{entry.path}: {done:,}{share} bytes")

    with FileLock(str(lock)):
        if target.is_file():
            found = _local(entry, accept_new_hash=accept_new_hash)
            if found is not None:
                return found
        try:
            result = download_resumable(entry.url, part, timeout=timeout, progress=report)
        finally:
            if report is not None:
                import sys

                sys.stderr.write("\n")
        if entry.format in ("zip", "gdb-zip"):
            _require_complete_zip(entry, part)
        actual = file_sha256(part)
        if entry.sha256 is not None and actual != entry.sha256:
            part.unlink()
            raise HashMismatchError(
                f"downloaded {entry.path!r} from {entry.url}: sha256 {actual} differs from the "
                f"catalog's {entry.sha256}; nothing was kept: run the fetch again, and if the "
                "publisher changed the file, update the catalog entry"
            )
        recorded = _recorded(entry) if entry.sha256 is None else None
        if recorded is not None and actual != recorded and not accept_new_hash:
            part.unlink()
            raise HashMismatchError(
                f"downloaded {entry.path!r} from {entry.url}: sha256 {actual} differs from the "
                f"hash recorded at its first download ({recorded}); the publisher changed the "
                "file or the transfer was altered. Nothing was kept. Check the publisher's "
                f"release notes, then run `geomap fetch {dataset.id} --accept-new-hash` to "
                "accept the new file"
            )
        os.replace(part, target)
        if entry.sha256 is None and actual != recorded:
            _record(entry, actual)
        if result.resumed_from:
            import warnings

            warnings.warn(
                f"{entry.path}: resumed at byte {result.resumed_from:,} ({result.bytes_received:,} "
                "bytes more); the whole file was hashed after the resume",
                UserWarning,
                stacklevel=3,
            )
    return target


def _require_complete_zip(entry: DataFile, part: Path) -> None:
    """Refuse (before any hash is trusted) a download that is not a complete zip archive."""
    import zipfile

    try:
        with zipfile.ZipFile(part):
            pass
    except (zipfile.BadZipFile, OSError) as exc:
        part.unlink()
        raise FetchError(
            f"downloaded {entry.path!r} from {entry.url} is not a complete zip archive ({exc}); "
            "the transfer was cut short or the server sent an error page. Nothing was kept "
            "and no hash was recorded: run the fetch again"
        ) from None


def fetch_official(
    dataset_id: str,
    *,
    catalog: Catalog | None = None,
    accept_new_hash: bool = False,
    unpack: Callable[[Path], object] | None = None,
    timeout: float = 60.0,
    progress: bool = False,
) -> list[Path]:
    """Fetch every file of a dataset with resume and trust-on-first-use hashes (see module doc).

    Parameters
    ----------
    dataset_id : str
        A catalog id (typically an online-only official source).
    accept_new_hash : bool, default False
        Accept a file whose sha256 differs from the one recorded at its first download
        (and record the new one).  A catalog sha256 is never overridden.
    unpack : callable, optional
        Called with each zip archive once it is in place, e.g.
        :func:`geomap.io.archives.unpack_zip` to unpack it into the cache now (readers
        unpack on their first read otherwise).
    timeout : float
        Seconds to wait for the server.
    progress : bool
        Print byte counts to stderr.

    Returns
    -------
    list of Path
        The verified local files, in catalog order.
    """
    dataset = (catalog or load_catalog()).dataset(dataset_id)
    out = []
    for entry in dataset.files:
        path = _local(entry, accept_new_hash=accept_new_hash)
        if path is not None and entry.sha256 is None and _recorded(entry) is None:
            from geomap.fetching import file_sha256

            _record(entry, file_sha256(path))  # a copy placed by hand: trusted from now on
        if path is None:
            path = _download_entry(
                dataset, entry, accept_new_hash=accept_new_hash, timeout=timeout, progress=progress
            )
        if unpack is not None and entry.format in ("zip", "gdb-zip"):
            unpack(path)
        out.append(path)
    return out


def local_official_files(dataset: Dataset) -> list[Path]:
    """Return the verified local files of a dataset, without downloading (readers use this).

    Raises
    ------
    FetchError
        A file is not available locally: the message names ``geomap fetch ID`` and
        where a hand-downloaded copy may be placed.
    HashMismatchError
        A local copy differs from the catalog or recorded hash.
    """
    from geomap.fetching import fetch_file

    out = []
    for entry in dataset.files:
        try:
            out.append(fetch_file(entry, download=False))
        except HashMismatchError:
            raise
        except FetchError:
            raise FetchError(
                f"dataset {dataset.id!r} is online-only, not mirrored, and not fetched yet: run "
                f"`geomap fetch {dataset.id}` (downloads {entry.url}, resumable), or put the "
                f"file at <data dir>/{entry.path} with the data dir named in GEOMAP_DATA_DIR"
            ) from None
    return out


def is_available(dataset: Dataset) -> bool:
    """Whether every file of ``dataset`` is present locally (mirror or cache); no hashing."""
    roots = [*_paths.data_roots(), _paths.cache_dir()]
    return all(any((root / e.path).is_file() for root in roots) for e in dataset.files)
