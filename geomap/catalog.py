"""The data catalog: what datasets exist, where their bytes are, and under which licence.

``data_catalog.yaml`` keeps datasets under ``datasets`` and analysis regions
under ``regions``.  It is validated on load with pydantic; every problem is
reported as a :class:`~geomap.errors.CatalogError` naming the entry and the
field.  :func:`catalog_json_schema` exports the JSON Schema for editors.

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
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pyproj
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geomap import _paths
from geomap._yaml import load_yaml
from geomap.errors import CatalogError, UnknownNameError

__all__ = [
    "Catalog",
    "DataFile",
    "Dataset",
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class License(_Strict):
    """A dataset's licence and the attribution it requires."""

    spdx: str = Field(description="SPDX identifier, or a LicenseRef-... where none exists")
    name: str = Field(description="Human-readable licence name")
    url: str | None = Field(default=None, description="Where the licence text is published")
    attribution: str = Field(description="The credit line the licence requires on every product")


class DataFile(_Strict):
    """One file of a dataset."""

    path: str = Field(description="Path relative to the data root, POSIX separators")
    url: str = Field(description="Public URL serving the identical bytes")
    sha256: str | None = Field(
        default=None, description="Lower-case hex sha256; absent only for online-only entries"
    )
    size: int | None = Field(default=None, ge=0, description="Size in bytes")
    format: FileFormat
    crs: str | None = Field(default=None, description="Declared CRS when the file carries none")
    encoding: str | None = Field(default=None, description="Text encoding of text formats")

    @field_validator("path")
    @classmethod
    def _relative_posix(cls, value: str) -> str:
        pure = PurePosixPath(value)
        if pure.is_absolute() or ".." in pure.parts or "\\" in value or not value:
            raise ValueError(
                f"{value!r} must be a relative POSIX path inside the data root (no '..', no '\\')"
            )
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL; give the public download URL")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError(f"{value!r} is not a 64-character lower-case hex sha256 digest")
        return value

    @field_validator("crs")
    @classmethod
    def _valid_crs(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_crs(value)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown text encoding {value!r}; use e.g. utf-8 or cp1252"
                ) from None
        return value


class Dataset(_Strict):
    """One dataset: metadata, licence and files."""

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
    files: list[DataFile]

    @model_validator(mode="after")
    def _files_consistent(self) -> Dataset:
        seen: set[str] = set()
        for entry in self.files:
            if entry.path in seen:
                raise ValueError(f"file {entry.path!r} is listed twice; keep one entry")
            seen.add(entry.path)
            if not self.online_only and entry.sha256 is None:
                raise ValueError(
                    f"file {entry.path!r} has no sha256; mirrored files need one "
                    "(or mark the dataset online_only: true)"
                )
        if not self.files:
            raise ValueError("'files' is empty; list at least one file")
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
        crs = _parse_crs(value)
        if not crs.is_projected:
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


class Catalog(_Strict):
    """The validated content of ``data_catalog.yaml``."""

    version: int = 1
    datasets: list[Dataset]
    regions: list[Region]
    source: str | None = Field(default=None, description="The file this catalog was read from")

    @model_validator(mode="after")
    def _cross_references(self) -> Catalog:
        for kind, ids in (
            ("dataset", [d.id for d in self.datasets]),
            ("region", [r.id for r in self.regions]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind} id {dupes[0]!r} is declared twice; ids must be unique")
        region_ids = {r.id for r in self.regions}
        for dataset in self.datasets:
            for region in dataset.regions:
                if region not in region_ids:
                    raise ValueError(
                        f"dataset {dataset.id!r}: unknown region {region!r} in 'regions'; "
                        f"declare it under 'regions' or use one of {sorted(region_ids)}"
                    )
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
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"{value!r} is not a valid CRS ({exc}); use e.g. 'EPSG:4326'") from None


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
        The validated catalog.

    Raises
    ------
    CatalogError
        When the file is missing, is not safe YAML, or an entry is invalid.
    """
    resolved = Path(path) if path is not None else _paths.catalog_path()
    return _load_catalog_cached(
        resolved.resolve(), resolved.stat().st_mtime_ns if resolved.exists() else 0
    )


@functools.lru_cache(maxsize=8)
def _load_catalog_cached(path: Path, _mtime: int) -> Catalog:
    raw = load_yaml(path, CatalogError)
    if not isinstance(raw, dict):
        raise CatalogError(
            f"{path}: the catalog must be a mapping with 'datasets' and 'regions' keys"
        )
    missing = [key for key in ("datasets", "regions") if key not in raw]
    if missing:
        raise CatalogError(f"{path}: top-level key {missing[0]!r} is missing; add it")
    try:
        return Catalog.model_validate({**raw, "source": str(path)})
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, raw, exc)) from None


def catalog_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of ``data_catalog.yaml`` (for editor validation)."""
    schema = Catalog.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "geomap data catalog"
    schema.get("properties", {}).pop("source", None)
    return schema
