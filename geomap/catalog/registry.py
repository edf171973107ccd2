"""The catalog's registry files: each dataset's file hashes and sizes, in pooch's format.

One file per dataset, ``<registry folder>/<dataset id>.txt``, with ``<name> <sha256>`` lines
(names relative to the dataset's folder; ``pooch.Pooch.load_registry`` reads the file unchanged)
and ``#size <name> <bytes>`` comment lines.  :func:`parse_registry` and :func:`format_registry`
are inverses; ``geomap catalog lock`` (:mod:`geomap.catalog.lock`) writes the files and
:func:`geomap.catalog.load_catalog` reads them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geomap.errors import CatalogError

__all__ = [
    "RegistryEntry",
    "format_registry",
    "parse_registry",
    "read_registries",
    "registry_path",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

RegistryEntry = tuple[str, int | None]
"""A registry's record of one file: its sha256 and its size in bytes (when recorded)."""

_SIZE_PREFIX = "#size "


def registry_path(registry_dir: Path, dataset_id: str) -> Path:
    """Return the registry file of one dataset: ``<registry_dir>/<dataset id>.txt``."""
    return registry_dir / f"{dataset_id}.txt"


def parse_registry(text: str, source: str) -> dict[str, RegistryEntry]:
    """Parse a registry file: pooch's ``<name> <sha256>`` lines plus ``#size`` comments.

    Parameters
    ----------
    text : str
        The file's text.  Blank lines and ``#`` comments are ignored (as pooch does); a
        comment ``#size <name> <bytes>`` records a file's size.
    source : str
        Where the text came from, for error messages.

    Returns
    -------
    dict
        File name (relative to the dataset's folder) -> (sha256, size or None).

    Raises
    ------
    CatalogError
        On a malformed line, a bad digest, a name given twice or a size without its file.
    """
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        is_size = line.startswith(_SIZE_PREFIX)
        if line.startswith("#") and not is_size:
            continue
        body = line[len(_SIZE_PREFIX) :] if is_size else line
        try:
            parts = shlex.split(body) if ('"' in body or "'" in body) else body.split()
        except ValueError as exc:
            raise CatalogError(f"{source}, line {number}: {exc}; fix the quoting") from None
        if len(parts) != 2:
            expected = "'#size <name> <bytes>'" if is_size else "'<name> <sha256>'"
            raise CatalogError(
                f"{source}, line {number}: expected {expected}, got {line!r}; "
                "rewrite the registry with `geomap catalog lock`"
            )
        name, value = parts
        target: dict[str, Any] = sizes if is_size else hashes
        if name in target:
            raise CatalogError(f"{source}, line {number}: {name!r} is listed twice; keep one line")
        if is_size:
            if not value.isdigit():
                raise CatalogError(f"{source}, line {number}: size {value!r} is not a byte count")
            sizes[name] = int(value)
        else:
            if not _SHA256.match(value):
                raise CatalogError(
                    f"{source}, line {number}: {value!r} is not a 64-character lower-case hex "
                    "sha256 digest; rewrite the registry with `geomap catalog lock`"
                )
            hashes[name] = value
    orphans = sorted(set(sizes) - set(hashes))
    if orphans:
        raise CatalogError(
            f"{source}: size recorded for {orphans[0]!r} but no hash; "
            "rewrite the registry with `geomap catalog lock`"
        )
    return {name: (digest, sizes.get(name)) for name, digest in hashes.items()}


def format_registry(dataset_id: str, entries: dict[str, RegistryEntry]) -> str:
    """Return the text of a dataset's registry file (sorted; the inverse of parse_registry)."""
    names = sorted(entries)
    lines = [
        f"# geomap file registry of dataset {dataset_id}: written by `geomap catalog lock`.",
        "# Pooch registry format, '<name> <sha256>', names relative to the dataset's folder;",
        "# '#size <name> <bytes>' comments record sizes (pooch skips comment lines).",
    ]
    lines += [f"{shlex.quote(name)} {entries[name][0]}" for name in names]
    lines += [
        f"{_SIZE_PREFIX}{shlex.quote(name)} {entries[name][1]}"
        for name in names
        if entries[name][1] is not None
    ]
    return "\n".join(lines) + "\n"


def read_registries(
    registry_dir: Path | None, dataset_ids: Sequence[str]
) -> dict[str, dict[str, RegistryEntry]]:
    """Read the registry files of the given datasets (a missing file is an empty registry).

    Raises
    ------
    CatalogError
        When a registry file is malformed or belongs to no dataset of the catalog.
    """
    if registry_dir is None or not registry_dir.is_dir():
        return {}
    known = set(dataset_ids)
    registries: dict[str, dict[str, RegistryEntry]] = {}
    for path in sorted(registry_dir.glob("*.txt")):
        dataset_id = path.name[: -len(".txt")]
        if dataset_id not in known:
            raise CatalogError(
                f"{path}: registry of {dataset_id!r}, which is not a dataset of the catalog; "
                "delete the file (`geomap catalog lock` removes such files)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path}: unreadable registry ({exc}); restore it") from None
        registries[dataset_id] = parse_registry(text, str(path))
    return registries
