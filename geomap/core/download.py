"""One bounded HTTP download: same-host redirects, a size cap, a deadline and a minimum rate.

Used by :mod:`geomap.fetching` for files missing from the mirror and the cache.  Besides the
per-read timeout, a download fails (and leaves nothing) when

- it runs longer than the total deadline (``GEOMAP_DOWNLOAD_DEADLINE``, seconds; 3600),
- after a grace period (``GEOMAP_DOWNLOAD_GRACE``, seconds; 30) its average rate falls below
  ``GEOMAP_DOWNLOAD_MIN_RATE`` (bytes per second; 1024): a server trickling a byte every few
  seconds fails in bounded time,
- the body grows past the size the catalog records (or, for an entry without a size,
  ``GEOMAP_DOWNLOAD_MAX_BYTES``; 8 GiB): an endless body is cut off at once,
- the server redirects to another host or from ``https`` to ``http``, or more than five times.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from geomap.errors import FetchError

__all__ = ["DownloadLimits", "download"]

_CHUNK = 1 << 16


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise FetchError(
            f"{name}={text!r} is not a number; set it to a positive number or unset it"
        ) from None
    if not value > 0:
        raise FetchError(f"{name}={text!r} must be greater than zero; set a positive number")
    return value


@dataclass(frozen=True)
class DownloadLimits:
    """The bounds of one download (see the module docstring for the defaults)."""

    read_timeout_s: float = 60.0
    deadline_s: float = 3600.0
    min_rate: float = 1024.0
    grace_s: float = 30.0
    max_bytes_unknown_size: int = 8 * 2**30
    max_redirects: int = 5

    @classmethod
    def from_environment(cls, read_timeout_s: float = 60.0) -> DownloadLimits:
        """Return the limits, with any ``GEOMAP_DOWNLOAD_*`` variable applied."""
        return cls(
            read_timeout_s=read_timeout_s,
            deadline_s=_env_number("GEOMAP_DOWNLOAD_DEADLINE", cls.deadline_s),
            min_rate=_env_number("GEOMAP_DOWNLOAD_MIN_RATE", cls.min_rate),
            grace_s=_env_number("GEOMAP_DOWNLOAD_GRACE", cls.grace_s),
            max_bytes_unknown_size=int(
                _env_number("GEOMAP_DOWNLOAD_MAX_BYTES", cls.max_bytes_unknown_size)
            ),
        )


def _follow(
    session: object,
    url: str,
    limits: DownloadLimits,
    what: str,
    headers: dict[str, str] | None = None,
) -> Any:
    """GET ``url``, following redirects only to the same host (and never https -> http)."""
    origin = urlsplit(url)
    current = url
    for _ in range(limits.max_redirects + 1):
        response = session.get(  # type: ignore[attr-defined]
            current,
            stream=True,
            allow_redirects=False,
            timeout=limits.read_timeout_s,
            headers=headers or {},
        )
        if not response.is_redirect:
            return response
        location = response.headers.get("location", "")
        response.close()
        target = urljoin(current, location)
        parts = urlsplit(target)
        downgrade = origin.scheme == "https" and parts.scheme != "https"
        if parts.hostname != origin.hostname or downgrade:
            raise FetchError(
                f"download of {what} from {url} was redirected to {target}, another host "
                f"(or from https to http); geomap follows redirects only within "
                f"{origin.hostname}: download the file by hand and put it at <data dir>/{what}"
            )
        current = target
    raise FetchError(
        f"download of {what} from {url} was redirected more than {limits.max_redirects} times; "
        f"download the file by hand and put it at <data dir>/{what}"
    )


def download(
    url: str,
    destination: Path,
    *,
    what: str,
    expected_size: int | None,
    limits: DownloadLimits,
    progress: bool = False,
) -> int:
    """Stream ``url`` into ``destination`` within ``limits``; return the number of bytes.

    Raises
    ------
    FetchError
        A limit was hit (the message names it and the variable that sets it).
    requests.RequestException
        HTTP errors and connection failures, for the caller to word.
    """
    import requests
    from tqdm import tqdm

    cap = expected_size if expected_size is not None else limits.max_bytes_unknown_size
    start = time.monotonic()
    received = 0
    with requests.Session() as session:
        response = _follow(session, url, limits, what)
        try:
            response.raise_for_status()
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise FetchError(
                    f"download of {what} from {url}: the server announces {int(declared):,} "
                    f"bytes, more than the {cap:,} the catalog records; nothing was kept: check "
                    "the URL, or update the catalog's size and sha256 if the publisher changed "
                    "the file"
                )
            raw = response.raw
            bar = tqdm(total=expected_size, unit="B", unit_scale=True, disable=not progress)
            with destination.open("wb") as out, bar:
                while True:
                    piece = raw.read1(_CHUNK, decode_content=True)
                    if not piece:
                        break
                    received += len(piece)
                    if received > cap:
                        raise FetchError(
                            f"download of {what} from {url} sent more than the {cap:,} bytes "
                            "the catalog records; stopped and nothing was kept: check the URL, "
                            "or update the catalog's size and sha256 if the file changed"
                        )
                    out.write(piece)
                    bar.update(len(piece))
                    _check_pace(received, time.monotonic() - start, limits, what, url)
        finally:
            response.close()
    return received


def _check_pace(received: int, elapsed: float, limits: DownloadLimits, what: str, url: str) -> None:
    if elapsed > limits.deadline_s:
        raise FetchError(
            f"download of {what} from {url} took more than {limits.deadline_s:g} s "
            f"({received:,} bytes so far); stopped and nothing was kept: run the fetch again on "
            "a faster connection, or raise GEOMAP_DOWNLOAD_DEADLINE (seconds)"
        )
    if elapsed > limits.grace_s and received / elapsed < limits.min_rate:
        raise FetchError(
            f"download of {what} from {url} is too slow ({received / elapsed:.3g} bytes/s, "
            f"below {limits.min_rate:g} bytes/s); stopped and nothing was kept: run the fetch "
            "again later, or lower GEOMAP_DOWNLOAD_MIN_RATE (bytes per second)"
        )
