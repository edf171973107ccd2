"""``geomap catalog lock``: record the mirrored files' hashes and sizes in the registry files.

The catalog (``data_catalog.yaml``) says which files a dataset has and where they come from;
its registry folder (``registry:`` in the catalog, ``geomap/registry`` in the checkout) holds
one file per dataset in pooch's registry format, ``<name> <sha256>`` lines (names relative to
the dataset's folder) with ``#size <name> <bytes>`` comment lines.  :func:`lock_catalog`
hashes every file of the chosen datasets in the local mirror (``$GEOMAP_DATA_DIR``, then
``../shared/data``), writes their registries, moves any inline ``sha256``/``size`` of their
rows out of the catalog (rows added in the long form keep working until then), removes
registry files of datasets the catalog no longer has, and reports what changed.

It refuses, writing nothing, when a file is missing from the mirror, when the catalog is
invalid, or when the rewritten catalog would not load to exactly the hashes just computed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geomap import _paths
from geomap.catalog import DatasetEntry, _expand_files, _unknown, read_document, resolve_catalog
from geomap.catalog.registry import RegistryEntry, format_registry, parse_registry, registry_path
from geomap.errors import CatalogError, UnknownNameError

__all__ = ["LockReport", "lock_catalog"]


@dataclass
class LockReport:
    """What ``geomap catalog lock`` found and changed.

    Attributes
    ----------
    datasets : list of str
        The datasets locked.
    added, changed, unchanged, removed : list of tuple
        ``(dataset id, file name, old sha256 or None, new sha256 or None)`` per file: a hash
        recorded for the first time, a hash that differs from the one recorded, one that is the
        same, a registry line of a file the catalog no longer lists.
    inline_moved : list of str
        Files whose inline ``sha256``/``size`` were moved from the catalog to the registry.
    stale_registries : list of Path
        Registry files of datasets the catalog does not have (deleted unless checking).
    written : list of Path
        Files written (empty when checking, or when nothing changed).
    """

    datasets: list[str] = field(default_factory=list)
    added: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    changed: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    unchanged: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    removed: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    inline_moved: list[str] = field(default_factory=list)
    stale_registries: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        """Whether the registries or the catalog differ from what the mirror says."""
        return bool(self.added or self.changed or self.removed or self.inline_moved) or bool(
            self.stale_registries
        )

    def lines(self) -> list[str]:
        """Return the report as printable lines (each change, then a summary)."""
        out = []
        for dataset_id, name, old, new in self.changed:
            out.append(f"changed   {dataset_id}/{name}: {old} -> {new}")
        for dataset_id, name, _, new in self.added:
            out.append(f"added     {dataset_id}/{name}: {new}")
        for dataset_id, name, old, _ in self.removed:
            out.append(f"removed   {dataset_id}/{name} (was {old}; no longer in the catalog)")
        out.extend(
            f"moved     {path}: inline sha256/size -> registry" for path in self.inline_moved
        )
        out.extend(f"deleted   {path} (no such dataset)" for path in self.stale_registries)
        out.append(
            f"{len(self.datasets)} datasets: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.inline_moved)} inline hashes moved"
        )
        return out


def _sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size


def _mirrored(relpath: str, roots: Sequence[Path]) -> Path | None:
    for root in roots:
        candidate = root / relpath
        if candidate.is_file():
            return candidate
    return None


def _old_registries(
    registry_dir: Path, known: set[str]
) -> tuple[dict[str, dict[str, RegistryEntry]], list[Path]]:
    registries: dict[str, dict[str, RegistryEntry]] = {}
    stale: list[Path] = []
    if not registry_dir.is_dir():
        return registries, stale
    for path in sorted(registry_dir.glob("*.txt")):
        dataset_id = path.name[: -len(".txt")]
        if dataset_id not in known:
            stale.append(path)
            continue
        registries[dataset_id] = parse_registry(path.read_text(encoding="utf-8"), str(path))
    return registries, stale


def _targets(doc_datasets: Sequence[DatasetEntry], wanted: Sequence[str]) -> list[DatasetEntry]:
    by_id = {d.id: d for d in doc_datasets}
    if not wanted:
        return [d for d in doc_datasets if not d.online_only]
    chosen = []
    for dataset_id in dict.fromkeys(wanted):
        if dataset_id not in by_id:
            raise UnknownNameError(_unknown("dataset", dataset_id, list(by_id)))
        if by_id[dataset_id].online_only:
            raise CatalogError(
                f"dataset {dataset_id!r} is online-only: nothing is mirrored to lock (its hashes "
                "are recorded on first download); leave it out"
            )
        chosen.append(by_id[dataset_id])
    return chosen


# ---- moving inline hashes out of the catalog text ------------------------------------------

_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^,}\s]+)"


def _drop_flow_key(line: str, key: str) -> str:
    """Remove ``key: value`` from a one-line flow mapping (``{a: 1, key: 2, b: 3}``)."""
    followed = re.compile(rf"\b{key}:\s*{_VALUE}\s*,\s*")
    if followed.search(line):
        return followed.sub("", line, count=1)
    return re.sub(rf",\s*\b{key}:\s*{_VALUE}\s*(?=\}})", "", line, count=1)


def _dataset_span(lines: list[str], dataset_id: str) -> tuple[int, int]:
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if re.fullmatch(rf"\s*- id: ['\"]?{re.escape(dataset_id)}['\"]?\s*", line)
        ),
        None,
    )
    if start is None:
        raise CatalogError(f"cannot find the entry '- id: {dataset_id}' in the catalog text")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            depth = len(line) - len(stripped)
            if depth < indent or (depth == indent and stripped.startswith("- ")):
                break
        end += 1
    return start, end


def _strip_inline(lines: list[str], dataset_id: str, digests: Iterable[str]) -> list[str]:
    """Remove the inline ``sha256`` (and the ``size`` beside it) of the given digests."""
    start, end = _dataset_span(lines, dataset_id)
    out = list(lines)
    drop: set[int] = set()
    for digest in digests:
        hit = next((i for i in range(start, end) if digest in out[i]), None)
        if hit is None:
            continue
        line = out[hit]
        if "{" in line and "}" in line:
            out[hit] = _drop_flow_key(_drop_flow_key(line, "sha256"), "size")
            continue
        drop.add(hit)
        depth = len(line) - len(line.lstrip())
        # the block mapping holding this key: neighbours at the same depth, up to the '- '
        up = hit - 1
        while up >= start and (len(out[up]) - len(out[up].lstrip())) >= depth:
            up -= 1
        down = hit + 1
        while (
            down < end and out[down].strip() and (len(out[down]) - len(out[down].lstrip())) >= depth
        ):
            down += 1
        for i in range(up, down):
            if re.fullmatch(r"\s*(?:- )?size:\s*\d+\s*", out[i]) and not out[i].lstrip().startswith(
                "- "
            ):
                drop.add(i)
    return [line for i, line in enumerate(out) if i not in drop]


# ---- the command -----------------------------------------------------------------------------


def lock_catalog(
    path: str | Path | None = None,
    dataset_ids: Sequence[str] = (),
    *,
    check: bool = False,
    data_roots: Sequence[Path] | None = None,
) -> LockReport:
    """Hash the mirrored files of the catalog's datasets and write their registry files.

    Parameters
    ----------
    path : str or Path, optional
        The catalog; default ``$GEOMAP_CATALOG`` or the checkout's ``data_catalog.yaml``.
    dataset_ids : sequence of str, optional
        The datasets to lock; default every mirrored (not online-only) dataset.
    check : bool, default False
        Only compare: report what would change and write nothing.
    data_roots : sequence of Path, optional
        Mirror folders to read; default ``$GEOMAP_DATA_DIR`` then ``../shared/data``.

    Returns
    -------
    LockReport
        What was added, changed, unchanged, removed, moved and written.

    Raises
    ------
    CatalogError
        When the catalog is invalid or names no registry folder, a file is missing from the
        mirror, or the rewritten catalog would not load to the computed hashes (nothing is
        written then).
    """
    catalog_file = (Path(path) if path is not None else _paths.catalog_path()).resolve()
    doc, _ = read_document(catalog_file)
    # written beside the catalog, never into the project's folder a copied catalog reads from
    registry_dir = _paths.catalog_root(catalog_file) / doc.registry if doc.registry else None
    if registry_dir is None:
        raise CatalogError(
            f"{catalog_file}: the catalog names no registry folder; add a top-level "
            "'registry: <folder>' (relative to the catalog's folder), e.g. 'registry: registry'"
        )
    roots = list(data_roots) if data_roots is not None else _paths.data_roots()
    if not roots:
        raise CatalogError(
            "no mirror to hash: set GEOMAP_DATA_DIR to the folder holding the dataset folders"
        )
    targets = _targets(doc.datasets, list(dataset_ids))
    old, stale = _old_registries(registry_dir, {d.id for d in doc.datasets})
    report = LockReport(datasets=[d.id for d in targets], stale_registries=stale)

    located: dict[str, list[tuple[str, dict[str, Any], Path | None]]] = {}
    missing: list[str] = []
    for entry in targets:
        try:
            expanded = _expand_files(entry)
        except ValueError as exc:
            raise CatalogError(f"{catalog_file}: dataset {entry.id!r}: {exc}") from None
        rows = []
        for name, fields in expanded:
            found = _mirrored(fields["path"], roots)
            if found is None:
                missing.append(fields["path"])
            rows.append((name, fields, found))
        located[entry.id] = rows
    if missing:
        raise CatalogError(
            f"cannot lock: {len(missing)} file(s) missing from the mirror "
            f"({', '.join(map(str, roots))}), first {missing[0]!r}; mirror them there (or name "
            "their folder in GEOMAP_DATA_DIR), or lock only other datasets; nothing was written"
        )

    new_registries: dict[str, dict[str, RegistryEntry]] = {}
    text_lines = catalog_file.read_text(encoding="utf-8").splitlines()
    for entry in targets:
        previous = old.get(entry.id, {})
        fresh: dict[str, RegistryEntry] = {}
        inline_digests = []
        for name, fields, found in located[entry.id]:
            assert found is not None
            digest, size = _sha256_and_size(found)
            fresh[name] = (digest, size)
            before = previous.get(name, (fields.get("sha256"), None))[0] or fields.get("sha256")
            row = (entry.id, name, before, digest)
            if before is None:
                report.added.append(row)
            elif before != digest:
                report.changed.append(row)
            else:
                report.unchanged.append(row)
            if fields.get("sha256") is not None or fields.get("size") is not None:
                report.inline_moved.append(fields["path"])
                if fields.get("sha256") is not None:
                    inline_digests.append(fields["sha256"])
        for name in sorted(set(previous) - set(fresh)):
            report.removed.append((entry.id, name, previous[name][0], None))
        new_registries[entry.id] = fresh
        if inline_digests:
            text_lines = _strip_inline(text_lines, entry.id, inline_digests)

    new_text = "\n".join(text_lines) + "\n"
    _verify(catalog_file, new_text, registry_dir, {**old, **new_registries}, new_registries)
    if check:
        return report

    from geomap.core.atomic import atomic_path

    registry_dir.mkdir(parents=True, exist_ok=True)
    for dataset_id, entries in new_registries.items():
        target = registry_path(registry_dir, dataset_id)
        text = format_registry(dataset_id, entries)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            with atomic_path(target) as tmp:
                tmp.write_text(text, encoding="utf-8")
            report.written.append(target)
    if new_text != catalog_file.read_text(encoding="utf-8"):
        with atomic_path(catalog_file) as tmp:
            tmp.write_text(new_text, encoding="utf-8")
        report.written.append(catalog_file)
    for stale_file in stale:
        stale_file.unlink()
    return report


def _verify(
    catalog_file: Path,
    new_text: str,
    registry_dir: Path,
    registries: dict[str, dict[str, RegistryEntry]],
    locked: dict[str, dict[str, RegistryEntry]],
) -> None:
    """Check that the rewritten catalog and registries load to exactly the computed hashes."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=catalog_file.parent, prefix=".lock-check-") as tmp:
        probe = Path(tmp) / catalog_file.name
        probe.write_text(new_text, encoding="utf-8")
        try:
            doc, _ = read_document(probe)
            catalog = resolve_catalog(doc, registries, registry_dir, catalog_file)
        except CatalogError as exc:
            raise CatalogError(
                f"cannot lock: the rewritten catalog would not load ({exc}); nothing was written"
            ) from None
    for dataset_id, entries in locked.items():
        prefix = f"{dataset_id}/"
        for entry in catalog.dataset(dataset_id).files:
            name = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.path
            if (entry.sha256, entry.size) != entries[name]:
                raise CatalogError(
                    f"cannot lock: {entry.path!r} would load as {entry.sha256} after the rewrite, "
                    f"not the mirrored {entries[name][0]}; remove its inline sha256/size from "
                    f"{catalog_file} by hand and lock again; nothing was written"
                )
