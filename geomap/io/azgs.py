"""Reader ``azgs-geology``: the Arizona 1:1,000,000 geologic map (AZGS, NCGMP09 tables).

The polygons come as a TopoJSON (``polyswithcolor.topojson``) with **no
attributes** (despite its name it carries no colours either: every geometry
holds only ``type`` and ``arcs``).  The unit of each polygon is in
``MapUnitPolys.csv``, which has the same number of rows but no key shared with
the TopoJSON.  A join by row order is therefore *tested* before it is used
(:func:`row_order_join_evidence`), with two independent kinds of evidence:

* **topology**: a polygon entirely surrounded by a single other polygon (an
  "island") must belong to a different map unit than its surround, otherwise
  the contact between them would not exist.  The number of islands that share
  their surround's unit under the row-order join is compared with its
  distribution under random reassignment of the same units;
* **landmarks**: places whose bedrock at this scale is common geological
  knowledge (the basin fill under Phoenix, Tucson and Yuma; the young
  volcanic rocks of the San Francisco volcanic field; the Chinle Formation at
  Petrified Forest; the Permian Kaibab Plateau; the Proterozoic and Paleozoic
  rocks at the bottom of the Grand Canyon) must fall in polygons of the
  expected units.

On the mirrored files the join fails both tests: islands share their
surround's unit as often as under a random assignment (23 against 24 ± 6),
and 1 of 8 landmarks agrees (Phoenix would be Jurassic–Triassic rock, Tucson
Early Proterozoic metamorphic rock).  The row order of ``MapUnitPolys.csv``
(commit 71600bf, 2013-12-11) is not the geometry order of the TopoJSON (commit
efeb18a, 2014-02-07).  The reader therefore returns the polygons **without**
unit attributes (``mapunit`` missing, ``lithology`` ``"unknown"``), records
the evidence in the report and in ``attrs["geomap_join_evidence"]``, and
offers the unit legend (with a lithology class per unit) as the separate
layer ``"units"``.  Should a later release carry matching rows, the same test
passes and the join is applied.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.harmonize.geometry import clean_geometries
from geomap.harmonize.lithology import lithology_code, ncgmp09_unit_lithology
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._gdal import read_ogr
from geomap.io._reader_entry import attach_report, local_file, pick_layer, reject_unknown_options
from geomap.io._text import decode_text, refuse_duplicate_columns
from geomap.io.registry import reader

__all__ = ["LANDMARKS", "JoinEvidence", "read_azgs_geology", "row_order_join_evidence"]

_YOUNG_BASIN_FILL = ("Q", "Qy", "Qm", "Qo", "Qr", "QTs", "Tsy")
LANDMARKS: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("Phoenix (Salt River valley basin fill)", -112.07, 33.45, _YOUNG_BASIN_FILL),
    ("Tucson (Tucson basin fill)", -110.97, 32.22, _YOUNG_BASIN_FILL),
    ("Yuma (Colorado River alluvium)", -114.62, 32.69, _YOUNG_BASIN_FILL),
    ("Humphreys Peak (San Francisco volcanic field)", -111.678, 35.346, ("QTv", "QTb", "Tvy")),
    ("Sunset Crater (San Francisco volcanic field)", -111.50, 35.365, ("QTb", "QTv", "Tby")),
    ("Petrified Forest (Chinle Formation)", -109.78, 34.91, ("^c", "^cs")),
    ("Kaibab Plateau (Permian Kaibab Formation)", -112.20, 36.40, ("P",)),
    (
        "Phantom Ranch, Grand Canyon (Proterozoic/Paleozoic rocks)",
        -112.094,
        36.106,
        ("Xm", "Xg", "Xms", "YXg", "Ys", "M_", "|", "P*"),
    ),
)
"""(place, longitude, latitude, acceptable map units) used as independent join evidence."""

_UNIT_FILES = ("MapUnitPolys.csv", "DescriptionOfMapUnits.csv", "StandardLithology.csv")


@dataclass
class JoinEvidence:
    """Evidence for or against joining attribute rows to polygons by row order."""

    polygons: int
    rows: int
    islands: int = 0
    island_conflicts: int = 0
    island_conflicts_random_mean: float = 0.0
    island_conflicts_random_sd: float = 0.0
    landmarks_checked: int = 0
    landmarks_agreeing: int = 0
    landmark_details: list[str] = field(default_factory=list)
    proven: bool = False
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def _islands(topology: dict[str, Any], object_name: str) -> np.ndarray:
    """Pairs (island, surround): polygons whose outer ring is shared with exactly one polygon."""
    geometries = topology["objects"][object_name]["geometries"]
    users: dict[int, set[int]] = defaultdict(set)
    for i, geom in enumerate(geometries):
        for ring in _rings(geom):
            for arc in ring:
                users[arc if arc >= 0 else ~arc].add(i)
    pairs = []
    for i, geom in enumerate(geometries):
        rings = _rings(geom)
        if not rings:
            continue
        outer = rings[0]
        neighbours: set[int] = set()
        closed = True
        for arc in outer:
            owners = users[arc if arc >= 0 else ~arc]
            closed &= len(owners) == 2
            neighbours |= owners - {i}
        if closed and len(neighbours) == 1:
            pairs.append((i, neighbours.pop()))
    return np.array(pairs, dtype=int).reshape(-1, 2)


def _rings(geom: dict[str, Any]) -> list[list[int]]:
    if geom.get("type") == "Polygon":
        return list(geom.get("arcs") or [])
    if geom.get("type") == "MultiPolygon":
        return [ring for polygon in geom.get("arcs") or [] for ring in polygon]
    return []


def row_order_join_evidence(
    topology: dict[str, Any],
    object_name: str,
    polygons: Any,
    units: pd.Series,
    *,
    permutations: int = 500,
    seed: int = 0,
) -> JoinEvidence:
    """Test whether ``units[i]`` belongs to polygon ``i`` (a join by row order).

    Parameters
    ----------
    topology : dict
        The parsed TopoJSON (arcs give the polygon adjacency).
    object_name : str
        The TopoJSON object holding the polygons.
    polygons : GeoSeries
        The decoded polygons, in TopoJSON order, in degrees (for the landmarks).
    units : Series
        Map-unit symbols, one per attribute row, in file order.
    permutations : int
        Random reassignments used to estimate the chance level of the island test.

    Returns
    -------
    JoinEvidence
        ``proven`` is True only if the row counts agree, at most 10 % of the
        chance level of islands share their surround's unit, and every
        landmark falls in an acceptable unit.
    """
    evidence = JoinEvidence(polygons=len(polygons), rows=len(units))
    if len(polygons) != len(units):
        evidence.verdict = (
            f"{len(units)} attribute rows for {len(polygons)} polygons: a row-order join is "
            "impossible"
        )
        return evidence
    codes = pd.factorize(units.astype(str))[0]
    pairs = _islands(topology, object_name)
    evidence.islands = len(pairs)
    if len(pairs):
        evidence.island_conflicts = int((codes[pairs[:, 0]] == codes[pairs[:, 1]]).sum())
        rng = np.random.default_rng(seed)
        null = np.array(
            [
                (shuffled[pairs[:, 0]] == shuffled[pairs[:, 1]]).sum()
                for shuffled in (rng.permutation(codes) for _ in range(permutations))
            ]
        )
        evidence.island_conflicts_random_mean = float(null.mean())
        evidence.island_conflicts_random_sd = float(null.std())
    geoms = np.asarray(polygons.array, dtype=object)
    tree = shapely.STRtree(geoms)
    agreeing = 0
    for place, lon, lat, accepted in LANDMARKS:
        hits = tree.query(shapely.Point(lon, lat), predicate="within")
        if hits.size == 0:
            evidence.landmark_details.append(f"{place}: outside every polygon")
            continue
        unit = str(units.iloc[int(hits[0])])
        ok = unit in accepted
        agreeing += ok
        verdict = "agrees" if ok else "expected " + "/".join(accepted)
        evidence.landmark_details.append(f"{place}: row-order unit {unit!r} ({verdict})")
    evidence.landmarks_checked = len(LANDMARKS)
    evidence.landmarks_agreeing = agreeing
    island_ok = evidence.island_conflicts <= max(1.0, 0.1 * evidence.island_conflicts_random_mean)
    landmarks_ok = agreeing == evidence.landmarks_checked
    evidence.proven = bool(island_ok and landmarks_ok)
    evidence.verdict = (
        "row-order join proven: islands differ from their surround and every landmark agrees"
        if evidence.proven
        else (
            f"row-order join NOT proven: {evidence.island_conflicts} of {evidence.islands} "
            "island polygons share their surround's unit (random reassignment gives "
            f"{evidence.island_conflicts_random_mean:.1f} ± "
            f"{evidence.island_conflicts_random_sd:.1f}; "
            f"a correct join gives ~0) and {agreeing} of {evidence.landmarks_checked} "
            "landmarks fall in an acceptable unit"
        )
    )
    return evidence


def _check_topology_order(topology: dict[str, Any], object_name: str, polygons: Any) -> None:
    """Verify that GDAL returned the polygons in TopoJSON order (bounding boxes from the arcs)."""
    transform = topology.get("transform")
    arcs = topology["arcs"]
    boxes = np.empty((len(arcs), 4))
    for i, arc in enumerate(arcs):
        pts = np.asarray(arc, dtype="float64")[:, :2]
        if transform:
            pts = np.cumsum(pts, axis=0) * transform["scale"] + transform["translate"]
        boxes[i] = (*pts.min(axis=0), *pts.max(axis=0))
    geometries = topology["objects"][object_name]["geometries"]
    bounds = np.asarray(polygons.bounds)
    step = max(1, len(geometries) // 200)
    for i in range(0, len(geometries), step):
        ids = [a if a >= 0 else ~a for ring in _rings(geometries[i])[:1] for a in ring]
        if not ids:
            continue
        expected = np.array(
            [
                boxes[ids, 0].min(),
                boxes[ids, 1].min(),
                boxes[ids, 2].max(),
                boxes[ids, 3].max(),
            ]
        )
        if not np.allclose(expected, bounds[i], atol=1e-6):
            raise DataError(
                f"TopoJSON polygon {i} decoded by GDAL does not match its arcs "
                "(order or decoding differs); the file may be corrupted"
            )


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    require_format(path, "text")
    text = decode_text(path.read_bytes(), encoding or "utf-8", source=str(path))
    refuse_duplicate_columns(text, source=str(path))
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV table ({exc}); fetch it again") from None


def _unit_table(dataset: Dataset, paths: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    tables = {}
    for name in _UNIT_FILES:
        relpath, path = local_file(dataset, paths, name)
        tables[name] = _read_csv(path, dataset.file(relpath).encoding)
    dmu = tables["DescriptionOfMapUnits.csv"]
    lith = ncgmp09_unit_lithology(tables["StandardLithology.csv"], dmu)
    units = dmu[["mapunit", "label", "name", "description", "areafillrgb"]].merge(
        lith, on="mapunit", how="left"
    )
    units["color"] = [_rgb_hex(v) for v in units["areafillrgb"]]
    return units, tables["MapUnitPolys.csv"]


def _rgb_hex(value: Any) -> str | None:
    try:
        r, g, b = (int(part) for part in str(value).split(";"))
    except ValueError:
        return None
    return f"#{r:02x}{g:02x}{b:02x}"


@reader("azgs-geology")
def read_azgs_geology(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    permutations: int = 500,
    **options: Any,
) -> Any:
    """Read the Arizona map polygons (layer ``"polygons"``) or its unit legend (``"units"``).

    Parameters
    ----------
    layer : {"polygons", "units"}, optional
        ``"polygons"`` (default): a GeoDataFrame of the 4,841 map-unit polygons.
        Unit attributes are joined only if the row-order join is proven
        (see the module docstring); otherwise ``mapunit`` is missing and
        ``lithology`` is ``"unknown"``.  ``"units"``: a DataFrame of the 50
        map units with name, description, colour and lithology class.
    permutations : int, default 500
        Random reassignments for the island test of the join evidence.

    Returns
    -------
    GeoDataFrame or DataFrame
        With ``attrs["geomap_report"]``; polygons also carry
        ``attrs["geomap_join_evidence"]``.
    """
    reject_unknown_options("azgs-geology", options, ["permutations"])
    chosen = pick_layer(dataset.id, layer, {"polygons": None, "units": None})
    units, polys_table = _unit_table(dataset, paths)
    if chosen == "units":
        report = IngestReport(dataset.id, records_in=len(units), records_out=len(units))
        for _, row in units.iterrows():
            if row["unmapped_terms"]:
                for term in str(row["unmapped_terms"]).split("; "):
                    report.unmapped[term] += 1
        report.normalize(
            "map units given a lithology class", int((units["lithology"] != "unknown").sum())
        )
        return attach_report(units, report, geomap_source=dataset.id)

    relpath, path = local_file(dataset, paths, "polyswithcolor.topojson")
    require_format(path, "json", what="AZGS TopoJSON")
    try:
        topology = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path} is not valid JSON ({exc}); it is truncated: fetch it again"
        ) from None
    if topology.get("type") != "Topology" or not topology.get("objects"):
        raise DataError(f"{path} is JSON but not a TopoJSON Topology; check the file")
    object_name = next(iter(topology["objects"]))
    frame = read_ogr(path, driver="TopoJSON", name=str(path))
    frame = frame.set_crs(
        resolve_crs(frame.crs, dataset.file(relpath).crs, source=str(path)), allow_override=True
    )
    report = IngestReport(dataset.id, records_in=len(frame))
    _check_topology_order(topology, object_name, frame.geometry)
    frame = frame.drop(columns=[c for c in frame.columns if c != frame.geometry.name])
    frame.insert(0, "polygon_index", np.arange(len(frame)))
    evidence = row_order_join_evidence(
        topology, object_name, frame.geometry, polys_table["mapunit"], permutations=permutations
    )
    if evidence.proven:
        frame["mapunit"] = polys_table["mapunit"].to_numpy()
        frame = frame.merge(
            units[["mapunit", "name", "lithology", "lithology_code", "color"]],
            on="mapunit",
            how="left",
        )
        report.normalize("map-unit attributes joined by (proven) row order", len(frame))
    else:
        frame["mapunit"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        frame["lithology"] = "unknown"
        frame["lithology_code"] = lithology_code("unknown")
        report.notes.append(
            "unit attributes NOT joined: MapUnitPolys.csv has no key shared with the TopoJSON "
            f"and its row order fails the join test ({evidence.verdict}); the polygons carry no "
            "map unit. The unit legend is available as layer='units'"
        )
        report.drop("attribute rows not joined (join by row order disproven)", len(polys_table))
    frame = clean_geometries(frame, report, what=str(path))
    report.records_out = len(frame)
    return attach_report(
        frame, report, geomap_source=dataset.id, geomap_join_evidence=evidence.to_dict()
    )
