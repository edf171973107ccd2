"""Text a reader decodes itself: declared encodings and CSV headers checked, never guessed."""

from __future__ import annotations

import io

from geomap.errors import DataError

__all__ = ["decode_text", "refuse_duplicate_columns"]


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
