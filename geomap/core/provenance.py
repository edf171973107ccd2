"""Provenance helpers shared by the writers and the renderer.

Which catalog datasets an object came from (``attrs["geomap_source"]``, the ingest report's
``dataset_id`` and a ``dataset_id`` column), and the catalog records (licence, citation, file
hashes) to store beside an exported product.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["dataset_records", "source_ids"]


def source_ids(obj: Any) -> list[str]:
    """Return the dataset ids an object says it came from, in order, without repeats.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"dataset_id": ["a", "b", "a"]})
    >>> frame.attrs["geomap_source"] = "c, a"
    >>> source_ids(frame)
    ['c', 'a', 'b']
    """
    ids: list[str] = []
    attrs = getattr(obj, "attrs", {}) or {}
    source = attrs.get("geomap_source")
    if isinstance(source, str):
        ids.extend(s.strip() for s in source.replace(";", ",").split(",") if s.strip())
    elif isinstance(source, Iterable):
        ids.extend(str(s) for s in source)
    report = attrs.get("geomap_report")
    if isinstance(report, Mapping):
        parts = report.get("datasets")
        if isinstance(parts, list) and parts:  # a combined report: the parts name the datasets
            ids.extend(
                str(part["dataset_id"])
                for part in parts
                if isinstance(part, Mapping) and part.get("dataset_id")
            )
        elif report.get("dataset_id"):
            ids.append(str(report["dataset_id"]))
    columns = getattr(obj, "columns", ())
    if "dataset_id" in columns:
        ids.extend(str(v) for v in obj["dataset_id"].dropna().unique())
    return list(dict.fromkeys(ids))


def dataset_records(dataset_ids: Sequence[str], catalog: Any) -> list[dict[str, Any]]:
    """Return the catalog record of each dataset: title, publisher, licence, citation, files.

    Ids not in the catalog are kept with ``"in_catalog": False`` (never silently dropped).
    """
    records: list[dict[str, Any]] = []
    for dataset_id in dict.fromkeys(dataset_ids):
        try:
            ds = catalog.dataset(dataset_id)
        except KeyError:
            records.append({"id": dataset_id, "in_catalog": False})
            continue
        records.append(
            {
                "id": ds.id,
                "in_catalog": True,
                "title": ds.title,
                "publisher": ds.publisher,
                "license": ds.license.model_dump(),
                "citation": ds.citation,
                "attribution": ds.attribution(),
                "files": [
                    {"path": f.path, "sha256": f.sha256, "url": f.url, "size": f.size}
                    for f in ds.files
                ],
            }
        )
    return records
