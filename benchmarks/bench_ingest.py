"""Ingest benchmarks: occurrence readers + harmonization against plain ``json.load``.

``ingest_minmod``: read and harmonize MinMod MineralSite JSON folders (WKT parsing, per-record
CRS transforms, commodity normalization, schema validation) against ``json.load`` of the same
files.  Sizes: Utah UMOS (7,793 records), California MRDS (42,744), all nine MinMod folders
(57,412).

``ingest_occurrences``: :func:`geomap.read_occurrences` over the MRDATA compilations (6,875
records) and over every occurrence dataset (MinMod, USMIN, carbonatites/kimberlites; 58,932),
including cross-compilation deduplication, against ``json.load`` of the MinMod files plus
``csv.reader`` over the CSV tables.

The reader's in-process cache is cleared before every timed call, so the numbers are those of
a first read in a fresh session.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmarks.harness import Case


def _files(dataset_id: str, folders: list[str] | None = None) -> list[Path]:
    from geomap.catalog import load_catalog
    from geomap.fetching import fetch

    dataset = load_catalog().dataset(dataset_id)
    paths = fetch(dataset_id)
    return [
        path
        for entry, path in zip(dataset.files, paths, strict=True)
        if entry.format == "minmod-json"
        and (folders is None or Path(entry.path).parent.name in folders)
    ]


def _clear_caches() -> None:
    from geomap.io import minmod, occurrences

    minmod._CACHE.clear()
    occurrences._DEDUP_CACHE.clear()


def _minmod_case(size: str, n: int, reads: list[tuple[str, str | None]]) -> Case:
    def setup():
        import geomap

        files = [p for dataset_id, layer in reads for p in _files(dataset_id, _split(layer))]

        def run():
            _clear_caches()
            return [geomap.read(dataset_id, layer=layer) for dataset_id, layer in reads]

        def baseline():
            out = []
            for path in files:
                with path.open(encoding="utf-8") as handle:
                    out.append(json.load(handle))
            return out

        return run, baseline

    return Case("ingest_minmod", size, n, "records", setup, repeat=3)


def _split(layer: str | None) -> list[str] | None:
    return None if layer is None else layer.split(",")


OCCURRENCE_SETS = {  # size: (records read, the datasets)
    "mrdata": (6_875, ("minmod-usgs-mrdata",)),
    "all": (
        58_932,
        (
            "minmod-usgs-mrdata",
            "minmod-state-surveys",
            "usgs-lithium-deposits-us-2019",
            "carbonatites-kimberlites-global",
        ),
    ),
}


def _occurrences_case(size: str) -> Case:
    n, dataset_ids = OCCURRENCE_SETS[size]

    def setup():
        import geomap
        from geomap.catalog import load_catalog
        from geomap.fetching import fetch

        json_files = [f for d in dataset_ids if d.startswith("minmod") for f in _files(d)]
        csv_files = []
        for dataset_id in (d for d in dataset_ids if not d.startswith("minmod")):
            dataset = load_catalog().dataset(dataset_id)
            csv_files += [
                (path, entry.encoding or "utf-8")
                for entry, path in zip(dataset.files, fetch(dataset_id), strict=True)
                if entry.format == "csv"
            ]

        def run():
            _clear_caches()
            return geomap.read_occurrences(list(dataset_ids))

        def baseline():
            out = []
            for path in json_files:
                with path.open(encoding="utf-8") as handle:
                    out.append(json.load(handle))
            for path, encoding in csv_files:
                with path.open(encoding=encoding, newline="") as handle:
                    out.append(list(csv.reader(handle)))
            return out

        return run, baseline

    return Case("ingest_occurrences", size, n, "records", setup, repeat=2)


def cases(quick: bool) -> list[Case]:
    """Return the ingest benchmark cases (``quick``: the smallest size only)."""
    sizes = [
        _minmod_case("utah", 7_793, [("minmod-state-surveys", "utah_mineral_occurrence_system")]),
        _minmod_case("california", 42_744, [("minmod-state-surveys", "usgs_mrds_california")]),
        _minmod_case(
            "all-minmod",
            57_412,
            [("minmod-state-surveys", None), ("minmod-usgs-mrdata", None)],
        ),
    ]
    if quick:
        return sizes[:1]
    return [*sizes, *(_occurrences_case(size) for size in OCCURRENCE_SETS)]
