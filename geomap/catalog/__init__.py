"""The data catalog: what datasets exist, where their bytes are, and under which licence.

``data_catalog.yaml`` keeps datasets under ``datasets`` and analysis regions
under ``regions``.  It is validated on load with pydantic; every problem is
reported as a :class:`~geomap.errors.CatalogError` naming the entry and the
field.  :func:`catalog_json_schema` exports the JSON Schema for editors.

A dataset lists its files compactly: a ``base_url`` and ``file_defaults``
(format, CRS, encoding) shared by its rows, and rows that are a bare name
(relative to the dataset's folder), a group of ``names`` sharing overrides, or
a full mapping.  File hashes and sizes live in registry files in pooch's
format (``<name> <sha256>`` lines, one file per dataset in the folder the
catalog's ``registry`` key names), written by ``geomap catalog lock``.  An
inline ``sha256`` on a row is still accepted; where the registry also has the
file, the two must agree (a mismatch is an error naming both).  See
``docs/catalog.md``.

Examples
--------
>>> from geomap.catalog import load_catalog
>>> catalog = load_catalog()
>>> catalog.region("japan").pyproj_crs.coordinate_operation.method_name
'Albers Equal Area'
>>> catalog.dataset("emag2-v2-1deg").license.spdx
'LicenseRef-US-Government-Public-Domain'
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from geomap import _paths
from geomap._yaml import load_yaml
from geomap.catalog import _crs_memo
from geomap.catalog.registry import RegistryEntry, read_registries, registry_path
from geomap.errors import CatalogError, UnknownNameError

if TYPE_CHECKING:
    import pyproj

__all__ = [
    "Catalog",
    "DataFile",
    "Dataset",
    "FileDefaults",
    "FileGroup",
    "FileRow",
    "License",
    "Region",
    "catalog_json_schema",
    "load_catalog",
]

FileFormat = Literal[
    "minmod-json",
    "csv",
    "csv-xz",
    "geojson",
    "geojson-zip",
    "topojson",
    "shapefile",
    "shapefile-sidecar",
    "geopackage",
    "netcdf",
    "gmt-netcdf",
    "7z",
    "geotiff",
    "zip",
    "gdb-zip",
    "yaml",
    "text",
    "markdown",
    "rdata",
]
"""File formats the catalog may declare; readers in ``geomap.io`` dispatch on them."""

DatasetKind = Literal["occurrences", "vector", "raster", "geochemistry", "lines", "table", "mixed"]

_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _require_http_url(value: str, what: str) -> str:
    """Refuse anything but an absolute http(s) URL (it becomes a link in maps and reports)."""
    from geomap.core.safe_text import http_url

    if http_url(value) is None:
        raise ValueError(
            f"{what} {value!r} is not an http(s) URL; use the https:// address of the page "
            "(javascript:, data:, file: and relative links are refused)"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class License(_Strict):
    """A dataset's licence and the attribution it requires."""

    spdx: str = Field(description="SPDX identifier, or a LicenseRef-... where none exists")
    name: str = Field(description="Human-readable licence name")
    url: str | None = Field(default=None, description="Where the licence text is published")
    attribution: str = Field(description="The credit line the licence requires on every product")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _require_http_url(value, "licence url")


def _check_relative(value: str) -> str:
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value or not value:
        raise ValueError(
            f"{value!r} must be a relative POSIX path inside the data root (no '..', no '\\')"
        )
    return value


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s) URL; give the public download URL")
    return value


def _check_sha256(value: str | None) -> str | None:
    if value is not None and not _SHA256.match(value):
        raise ValueError(f"{value!r} is not a 64-character lower-case hex sha256 digest")
    return value


def _check_encoding(value: str | None) -> str | None:
    if value is not None:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}; use e.g. utf-8 or cp1252") from None
    return value


def _check_crs(value: str | None) -> str | None:
    if value is not None:
        _crs_memo.is_projected(value, _parse_crs)
    return value


class DataFile(_Strict):
    """One file of a dataset, with every field resolved (defaults, base URL, registry hash)."""

    path: str = Field(description="Path relative to the data root, POSIX separators")
    url: str = Field(description="Public URL serving the identical bytes")
    sha256: str | None = Field(
        default=None, description="Lower-case hex sha256; absent only for online-only entries"
    )
    size: int | None = Field(default=None, ge=0, description="Size in bytes")
    format: FileFormat
    crs: str | None = Field(default=None, description="Declared CRS when the file carries none")
    encoding: str | None = Field(default=None, description="Text encoding of text formats")

    _relative_posix = field_validator("path")(_check_relative)
    _http_url = field_validator("url")(_check_url)
    _hex_digest = field_validator("sha256")(_check_sha256)
    _valid_crs = field_validator("crs")(_check_crs)
    _known_encoding = field_validator("encoding")(_check_encoding)


class _FileFields(_Strict):
    """Format, CRS and encoding: the fields a row, a group or the defaults may set."""

    format: FileFormat | None = None
    crs: str | None = Field(default=None, description="Declared CRS when the file carries none")
    encoding: str | None = Field(default=None, description="Text encoding of text formats")

    _valid_crs = field_validator("crs")(_check_crs)
    _known_encoding = field_validator("encoding")(_check_encoding)

    def _overrides(self) -> dict[str, Any]:
        """Return the fields written in the YAML (``null`` included), not the defaults."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class FileDefaults(_FileFields):
    """Format, CRS and encoding shared by a dataset's file rows unless a row says otherwise."""


class FileRow(_FileFields):
    """One file written out in full: ``path`` (from the data root) or ``name`` (in the folder)."""

    path: str | None = Field(
        default=None, description="Path relative to the data root (includes the dataset folder)"
    )
    name: str | None = Field(default=None, description="Path relative to the dataset's folder")
    url: str | None = Field(
        default=None, description="Public URL; default: the base URL followed by the name"
    )
    base_url: str | None = Field(default=None, description="URL prefix for this file")
    sha256: str | None = Field(
        default=None,
        description="Lower-case hex sha256 (prefer the registry written by `geomap catalog lock`)",
    )
    size: int | None = Field(default=None, ge=0, description="Size in bytes")

    _relative = field_validator("path", "name")(
        lambda value: None if value is None else _check_relative(value)
    )
    _http_url = field_validator("url", "base_url")(_check_url)
    _hex_digest = field_validator("sha256")(_check_sha256)

    @model_validator(mode="after")
    def _path_or_name(self) -> FileRow:
        if (self.path is None) == (self.name is None):
            raise ValueError("give exactly one of 'path' (from the data root) or 'name'")
        return self


class FileGroup(_FileFields):
    """Several files sharing a folder, a URL prefix, a format, a CRS or an encoding."""

    names: list[str] = Field(min_length=1, description="File names, relative to 'folder'")
    folder: str | None = Field(
        default=None, description="Sub-folder of the dataset's folder holding the names"
    )
    base_url: str | None = Field(
        default=None, description="URL prefix of the group (default: the dataset's base_url)"
    )

    _relative = field_validator("folder")(
        lambda value: None if value is None else _check_relative(value)
    )
    _http_url = field_validator("base_url")(_check_url)

    @field_validator("names")
    @classmethod
    def _relative_names(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_relative(name)
        return value


def _row_kind(value: Any) -> str:
    if isinstance(value, str):
        return "name"
    if isinstance(value, dict) and "names" in value:
        return "group"
    return "row"


FileEntry = Annotated[
    Annotated[str, Tag("name")]
    | Annotated[FileRow, Tag("row")]
    | Annotated[FileGroup, Tag("group")],
    Discriminator(_row_kind),
]
"""A row of a dataset's ``files``: a bare name, a full row or a group of names."""


class _DatasetFields(_Strict):
    id: str = Field(pattern=_ID_PATTERN, description="The dataset id (its folder name)")
    title: str
    publisher: str
    kind: DatasetKind
    countries: list[str] = Field(description="ISO 3166-1 alpha-3 codes covered, or 'global'")
    regions: list[str] = Field(default_factory=list, description="Catalog region ids covered")
    license: License
    citation: str
    landing_page: str
    online_only: bool = Field(default=False, description="Not mirrored; fetched on demand")
    description: str | None = None
    caveats: list[str] = Field(default_factory=list)
    reader: str | None = Field(default=None, description="Reader name in geomap.io")
    reader_options: dict[str, Any] = Field(default_factory=dict)
    base_url: str | None = Field(
        default=None,
        description="URL prefix of the files: a file's URL is this followed by its name",
    )

    _http_url = field_validator("base_url")(_check_url)

    @field_validator("landing_page")
    @classmethod
    def _http_landing_page(cls, value: str) -> str:
        return _require_http_url(value, "landing_page")


class DatasetEntry(_DatasetFields):
    """A dataset as written in ``data_catalog.yaml`` (its files in the compact form)."""

    file_defaults: FileDefaults | None = Field(
        default=None, description="Format, CRS and encoding shared by the file rows"
    )
    files: list[FileEntry] = Field(min_length=1, description="The files; at least one")


def _check_files(dataset_id: str, online_only: bool, files: Sequence[DataFile]) -> None:
    seen: set[str] = set()
    for entry in files:
        if entry.path in seen:
            raise ValueError(f"file {entry.path!r} is listed twice; keep one entry")
        seen.add(entry.path)
        if not online_only and entry.sha256 is None:
            raise ValueError(
                f"file {entry.path!r} has no sha256; mirrored files need one: run "
                f"`geomap catalog lock {dataset_id}` with the file mirrored "
                "(or mark the dataset online_only: true)"
            )
    if not files:
        raise ValueError("'files' is empty; list at least one file")


class Dataset(_DatasetFields):
    """One dataset: metadata, licence and files (each resolved to a :class:`DataFile`)."""

    files: list[DataFile]

    @model_validator(mode="after")
    def _files_consistent(self) -> Dataset:
        _check_files(self.id, self.online_only, self.files)
        return self

    def file(self, path: str) -> DataFile:
        """Return the file entry with this relative path."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise UnknownNameError(
            f"dataset {self.id!r} has no file {path!r}; known files: "
            + ", ".join(f.path for f in self.files[:10])
        )

    def attribution(self) -> str:
        """Return the attribution block for this dataset (licence credit and citation)."""
        return (
            f"{self.title} — {self.publisher}. Licence: {self.license.name} ({self.license.spdx}). "
            f"{self.license.attribution} Cite: {self.citation}"
        )


class Region(_Strict):
    """An analysis region: a geographic bounding box and the projected CRS used for analysis."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str
    countries: list[str]
    bbox: tuple[float, float, float, float] = Field(
        description="west, south, east, north in degrees; west > east crosses the antimeridian"
    )
    crs: str = Field(description="Projected analysis CRS (EPSG code, PROJ string or WKT)")
    description: str | None = None

    @field_validator("bbox")
    @classmethod
    def _valid_bbox(cls, value: tuple[float, float, float, float]) -> tuple[float, ...]:
        west, south, east, north = value
        if not (-90 <= south < north <= 90):
            raise ValueError(
                f"south/north {south}, {north} must satisfy -90 <= south < north <= 90"
            )
        if not (-180 <= west <= 180 and -180 <= east <= 180) or west == east:
            raise ValueError(f"west/east {west}, {east} must lie in [-180, 180] and differ")
        return value

    @field_validator("crs")
    @classmethod
    def _projected_crs(cls, value: str) -> str:
        if not _crs_memo.is_projected(value, _parse_crs):
            raise ValueError(f"{value!r} is not a projected CRS; analysis needs metres")
        return value

    @property
    def crosses_antimeridian(self) -> bool:
        """Whether the bounding box crosses the 180° meridian."""
        return self.bbox[0] > self.bbox[2]

    @property
    def pyproj_crs(self) -> pyproj.CRS:
        """The analysis CRS as a :class:`pyproj.CRS`."""
        return _parse_crs(self.crs)


def _cross_reference(datasets: Sequence[_DatasetFields], regions: Sequence[Region]) -> None:
    for kind, ids in (
        ("dataset", [d.id for d in datasets]),
        ("region", [r.id for r in regions]),
    ):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"{kind} id {dupes[0]!r} is declared twice; ids must be unique")
    region_ids = {r.id for r in regions}
    for dataset in datasets:
        for region in dataset.regions:
            if region not in region_ids:
                raise ValueError(
                    f"dataset {dataset.id!r}: unknown region {region!r} in 'regions'; "
                    f"declare it under 'regions' or use one of {sorted(region_ids)}"
                )


class CatalogDocument(_Strict):
    """The content of ``data_catalog.yaml`` as written (files in the compact form)."""

    version: int = 1
    registry: str | None = Field(
        default=None,
        description="Folder of the file-hash registries (<dataset id>.txt, pooch format), "
        "relative to the catalog's folder; written by `geomap catalog lock`",
    )
    datasets: list[DatasetEntry]
    regions: list[Region]

    _relative = field_validator("registry")(
        lambda value: None if value is None else _check_relative(value)
    )

    @model_validator(mode="after")
    def _cross_references(self) -> CatalogDocument:
        _cross_reference(self.datasets, self.regions)
        return self


class Catalog(_Strict):
    """The validated catalog: datasets with every file resolved, and the analysis regions."""

    version: int = 1
    datasets: list[Dataset]
    regions: list[Region]
    source: str | None = Field(default=None, description="The file this catalog was read from")

    @model_validator(mode="after")
    def _cross_references(self) -> Catalog:
        _cross_reference(self.datasets, self.regions)
        return self

    def __iter__(self) -> Iterator[Dataset]:  # type: ignore[override]
        return iter(self.datasets)

    def dataset(self, dataset_id: str) -> Dataset:
        """Return the dataset with this id, or raise an error suggesting close ids."""
        for dataset in self.datasets:
            if dataset.id == dataset_id:
                return dataset
        raise UnknownNameError(_unknown("dataset", dataset_id, [d.id for d in self.datasets]))

    def region(self, region_id: str) -> Region:
        """Return the region with this id, or raise an error suggesting close ids."""
        for region in self.regions:
            if region.id == region_id:
                return region
        raise UnknownNameError(_unknown("region", region_id, [r.id for r in self.regions]))

    def attribution(self, dataset_ids: Sequence[str]) -> str:
        """Return the attribution block for several datasets, one paragraph each."""
        return "\n\n".join(self.dataset(i).attribution() for i in dict.fromkeys(dataset_ids))

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(d.id)}</td><td>{escape(d.title)}</td>"
            f"<td>{escape(d.license.spdx)}</td><td>{len(d.files)}</td>"
            f"<td>{'online only' if d.online_only else 'mirrored'}</td></tr>"
            for d in self.datasets
        )
        return (
            f"<b>geomap catalog</b>: {len(self.datasets)} datasets, {len(self.regions)} regions"
            "<table><tr><th>id</th><th>title</th><th>licence</th><th>files</th><th></th></tr>"
            f"{rows}</table>"
        )


def _unknown(kind: str, name: str, known: list[str]) -> str:
    contains = [k for k in known if name.lower() in k.lower()]
    close = list(dict.fromkeys(contains + difflib.get_close_matches(name, known, n=3)))[:4]
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {', '.join(known)}"
    return f"unknown {kind} {name!r}; {hint}"


@functools.lru_cache(maxsize=64)
def _parse_crs(value: str) -> pyproj.CRS:
    import pyproj

    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"{value!r} is not a valid CRS ({exc}); use e.g. 'EPSG:4326'") from None


_UNION_TAGS = {"name", "row", "group"}


def _format_validation_error(path: Path, raw: Any, exc: ValidationError) -> str:
    """Turn pydantic's report into one message naming the entry and the field."""
    messages = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = str(path)
        if len(loc) >= 2 and loc[0] in ("datasets", "regions") and isinstance(loc[1], int):
            section, index = loc[0], loc[1]
            entry_id = None
            with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
                entry_id = raw[section][index].get("id")
            where += f": {section}[{index}]" + (f" (id {entry_id!r})" if entry_id else "")
            loc = loc[2:]
        if len(loc) >= 3 and loc[0] == "files" and isinstance(loc[1], int):
            loc = [part for i, part in enumerate(loc) if not (i == 2 and part in _UNION_TAGS)]
        field = ".".join(str(part) for part in loc) or "(entry)"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing; add it"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        messages.append(f"{where}: field {field!r}: {msg}")
    return "; ".join(messages[:5]) + (
        f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
    )


# ---- expanding the compact file rows ----------------------------------------------------------


def _join_url(base: str | None, name: str, dataset_id: str) -> str:
    if base is None:
        raise ValueError(
            f"file {name!r} has no 'url' and dataset {dataset_id!r} has no 'base_url'; "
            "give one of them"
        )
    return base + quote(name, safe="/")


def _expand_files(entry: DatasetEntry) -> list[tuple[str, dict[str, Any]]]:
    """Return (name in the dataset folder or None, DataFile fields) for every file of a dataset.

    The hash and size are the inline ones (``None`` when absent); the registry is applied
    afterwards by :func:`_apply_registry`.
    """
    defaults = entry.file_defaults._overrides() if entry.file_defaults else {}
    prefix = f"{entry.id}/"
    expanded: list[tuple[str, dict[str, Any]]] = []
    for row in entry.files:
        if isinstance(row, str):
            fields = {**defaults, "url": _join_url(entry.base_url, row, entry.id)}
            expanded.append((row, {"path": prefix + row, **fields}))
        elif isinstance(row, FileGroup):
            base = row.base_url or entry.base_url
            shared = {**defaults, **row._overrides()}
            for key in ("names", "folder", "base_url"):
                shared.pop(key, None)
            for leaf in row.names:
                name = f"{row.folder}/{leaf}" if row.folder else leaf
                url = _join_url(base, name, entry.id)
                expanded.append((name, {"path": prefix + name, "url": url, **shared}))
        else:
            own = row._overrides()
            name = row.name if row.name is not None else str(row.path)
            path = prefix + row.name if row.name is not None else str(row.path)
            if row.name is None and path.startswith(prefix):
                name = path[len(prefix) :]
            url = row.url or _join_url(row.base_url or entry.base_url, name, entry.id)
            fields = {**defaults, **own, "path": path, "url": url}
            for key in ("name", "base_url"):
                fields.pop(key, None)
            expanded.append((name, fields))
    for _, fields in expanded:
        if fields.get("format") is None:
            raise ValueError(
                f"file {fields['path']!r} has no 'format'; give it on the row or in 'file_defaults'"
            )
    return expanded


def _apply_registry(
    dataset_id: str,
    expanded: list[tuple[str, dict[str, Any]]],
    registry: dict[str, RegistryEntry],
    registry_file: str,
) -> None:
    """Fill hashes and sizes from the registry; an inline value that differs is an error."""
    names = set()
    for name, fields in expanded:
        names.add(name)
        recorded = registry.get(name)
        if recorded is None:
            continue
        digest, size = recorded
        for key, value in (("sha256", digest), ("size", size)):
            inline = fields.get(key)
            if value is None:
                continue
            if inline is not None and inline != value:
                raise ValueError(
                    f"file {fields['path']!r}: inline {key} {inline} differs from {value} in "
                    f"{registry_file}; if the mirrored file changed run `geomap catalog lock "
                    f"{dataset_id}`, otherwise delete the inline {key}"
                )
            fields[key] = value
    stale = sorted(set(registry) - names)
    if stale:
        raise ValueError(
            f"{registry_file} lists {stale[0]!r}, which is not a file of the dataset "
            f"({len(stale)} such line(s)); run `geomap catalog lock {dataset_id}` to rewrite it"
        )


def _resolve(
    doc: CatalogDocument,
    registries: dict[str, dict[str, RegistryEntry]],
    registry_dir: Path | None,
    source: Path,
) -> list[Dataset]:
    datasets = []
    for index, entry in enumerate(doc.datasets):
        where = f"datasets[{index}] (id {entry.id!r})"
        try:
            expanded = _expand_files(entry)
            if entry.id in registries and registry_dir is not None:
                registry_file = str(registry_path(registry_dir, entry.id))
                _apply_registry(entry.id, expanded, registries[entry.id], registry_file)
            files = [DataFile.model_construct(**fields) for _, fields in expanded]
            _check_files(entry.id, entry.online_only, files)
        except ValueError as exc:
            raise CatalogError(f"{source}: {where}: {exc}") from None
        meta = {name: getattr(entry, name) for name in _DatasetFields.model_fields}
        datasets.append(Dataset.model_construct(**meta, files=files))
    return datasets


def read_document(path: Path) -> tuple[CatalogDocument, Path | None]:
    """Read and validate ``data_catalog.yaml`` as written, without resolving file hashes.

    Parameters
    ----------
    path : Path
        The catalog file.

    Returns
    -------
    tuple
        The document and the folder of its registries (``None`` when it names none).

    Raises
    ------
    CatalogError
        When the file is missing, is not safe YAML, or an entry is invalid.
    """
    raw = load_yaml(path, CatalogError)
    if not isinstance(raw, dict):
        raise CatalogError(
            f"{path}: the catalog must be a mapping with 'datasets' and 'regions' keys"
        )
    missing = [key for key in ("datasets", "regions") if key not in raw]
    if missing:
        raise CatalogError(f"{path}: top-level key {missing[0]!r} is missing; add it")
    try:
        doc = CatalogDocument.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, raw, exc)) from None
    registry_dir = _paths.registry_folder(path, doc.registry) if doc.registry else None
    _crs_memo.save()
    return doc, registry_dir


def resolve_catalog(
    doc: CatalogDocument,
    registries: dict[str, dict[str, RegistryEntry]],
    registry_dir: Path | None,
    source: Path,
) -> Catalog:
    """Resolve a document's compact file rows against its registries into a :class:`Catalog`.

    Raises
    ------
    CatalogError
        When a file lacks a URL or a format, an inline hash or size disagrees with the registry,
        the registry names a file the dataset does not list, or a mirrored file has no hash.
    """
    datasets = _resolve(doc, registries, registry_dir, source)
    return Catalog.model_construct(
        version=doc.version, datasets=datasets, regions=doc.regions, source=str(source)
    )


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the data catalog.

    Parameters
    ----------
    path : str or Path, optional
        The catalog file; defaults to ``$GEOMAP_CATALOG`` or the checkout's
        ``data_catalog.yaml``.

    Returns
    -------
    Catalog
        The validated catalog, every file resolved (defaults, base URL, registry hash).

    Raises
    ------
    CatalogError
        When the file is missing, is not safe YAML, an entry is invalid, or a registry
        disagrees with the catalog.
    """
    resolved = (Path(path) if path is not None else _paths.catalog_path()).resolve()
    mtime = resolved.stat().st_mtime_ns if resolved.exists() else 0
    _, registry_dir = _read_document_cached(resolved, mtime)
    return _load_catalog_cached(resolved, mtime, registry_dir, _registry_stamp(registry_dir))


def _registry_stamp(registry_dir: Path | None) -> tuple[tuple[str, int], ...]:
    """Names and modification times of the registry files (part of the cache key)."""
    if registry_dir is None:
        return ()
    try:
        with os.scandir(registry_dir) as entries:
            return tuple(sorted((e.name, e.stat().st_mtime_ns) for e in entries))
    except OSError:
        return ()


@functools.lru_cache(maxsize=8)
def _read_document_cached(path: Path, _mtime: int) -> tuple[CatalogDocument, Path | None]:
    return read_document(path)


@functools.lru_cache(maxsize=8)
def _load_catalog_cached(
    path: Path, mtime: int, registry_dir: Path | None, _registry_stamp: tuple[Any, ...]
) -> Catalog:
    doc, _ = _read_document_cached(path, mtime)
    registries = read_registries(registry_dir, [d.id for d in doc.datasets])
    return resolve_catalog(doc, registries, registry_dir, path)


def catalog_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of ``data_catalog.yaml`` (for editor validation)."""
    schema = CatalogDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "geomap data catalog"
    return schema
