"""Build catalog ``Dataset`` entries for files made by a test (bad-input cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geomap.catalog import Dataset


def fake_dataset(
    files: list[dict[str, Any]],
    *,
    reader: str,
    dataset_id: str = "test-data",
    reader_options: dict[str, Any] | None = None,
) -> tuple[Dataset, dict[str, Path]]:
    """Return a Dataset for local test files and the ``paths`` mapping readers take.

    Each file dict has ``path`` (a local Path), ``format`` and optionally ``crs``
    and ``encoding``; the catalog path is ``<dataset_id>/<file name>``.
    """
    entries = []
    paths = {}
    for f in files:
        local = Path(f["path"])
        relpath = f"{dataset_id}/{local.name}"
        entry = {
            "path": relpath,
            "url": f"https://example.invalid/{local.name}",
            "sha256": "0" * 64,
            "format": f["format"],
        }
        for key in ("crs", "encoding"):
            if f.get(key) is not None:
                entry[key] = f[key]
        entries.append(entry)
        paths[relpath] = local
    dataset = Dataset.model_validate(
        {
            "id": dataset_id,
            "title": "test data",
            "publisher": "tests",
            "kind": "vector",
            "countries": ["global"],
            "license": {"spdx": "CC0-1.0", "name": "CC0", "attribution": "tests"},
            "citation": "tests",
            "landing_page": "https://example.invalid",
            "reader": reader,
            "reader_options": reader_options or {},
            "files": entries,
        }
    )
    return dataset, paths


def call_reader(dataset: Dataset, paths: dict[str, Path], **options: Any) -> Any:
    """Dispatch like :func:`geomap.read` does, without fetching."""
    from geomap.io.registry import get_reader

    func = get_reader(dataset)
    return func(dataset, paths, **{**dataset.reader_options, **options})
