"""Deposit type of every occurrence, from every field that tells it (rules kept as data).

The rules live in ``geomap/data/deposit_types.yaml`` beside the commodity vocabulary: the
site name, the source's own deposit-type text, the subject of a single-type compilation,
commodity signatures (monazite + ilmenite + zircon + rutile, phosphate + vanadium) and named
geological districts.  They are tried in order; the first rule whose conditions all hold
gives the type, its id and a confidence.  :func:`classify_deposits` returns, per row,

* ``deposit_class`` — one word of the vocabulary (``carbonatite``, ``alkaline_intrusion``,
  ``pegmatite``, ``heavy_mineral_sand``, ``placer``, ``phosphorite``, ``ion_adsorption_clay``,
  ``vms``, ``skarn``, ``greisen_vein``, ``porphyry``, ``epithermal``, ``laterite``, ``brine``,
  ``sediment_hosted``, ``kimberlite``, ``iocg``, ``magmatic`` or ``unknown``);
* ``deposit_class_rule`` — the id of the rule that fired (``""`` for unknown);
* ``deposit_class_confidence`` — that rule's confidence, 0 for unknown.

:func:`deposit_class_of_text` classifies a bare deposit-type text (the readers use it for
the per-dataset frames); :func:`add_deposit_classes` writes the three columns on a frame.

Examples
--------
>>> deposit_class_of_text("Stream Placer"), deposit_class_of_text("Felsic Copper")
('placer', 'vms')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import CatalogError

__all__ = [
    "DepositRule",
    "add_deposit_classes",
    "classify_deposits",
    "deposit_class_of_text",
    "deposit_rules",
    "deposit_vocabulary",
]

_PATH = Path(__file__).resolve().parent.parent / "data" / "deposit_types.yaml"
_CONDITIONS = (
    "name",
    "deposit_type",
    "raw",
    "sources",
    "commodities_any",
    "commodities_all",
    "commodities_none",
    "commodities_only",
    "district",
)


@dataclass(frozen=True)
class DepositRule:
    """One classification rule: conditions (all must hold), the type and a confidence."""

    id: str
    type: str
    confidence: float
    name: re.Pattern[str] | None = None
    deposit_type: re.Pattern[str] | None = None
    raw: re.Pattern[str] | None = None
    sources: frozenset[str] = frozenset()
    commodities_any: frozenset[str] = frozenset()
    commodities_all: tuple[frozenset[str], ...] = ()
    commodities_none: frozenset[str] = frozenset()
    commodities_only: frozenset[str] = frozenset()
    district: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class _Table:
    vocabulary: dict[str, str]
    districts: dict[str, tuple[float, float, float, float]]
    rules: tuple[DepositRule, ...]


def _expand(codes: list[str]) -> frozenset[str]:
    from geomap.harmonize.commodities import load_vocabulary

    groups = load_vocabulary().groups
    out: set[str] = set()
    for code in codes:
        out.add(code)
        out.update(groups.get(code, ()))
    return frozenset(out)


@functools.lru_cache(maxsize=1)
def _table() -> _Table:
    from geomap._yaml import load_yaml

    raw = load_yaml(_PATH, CatalogError)
    vocabulary = {str(k): str(v) for k, v in raw["vocabulary"].items()}
    districts: dict[str, tuple[float, float, float, float]] = {}
    for name, spec in (raw.get("districts") or {}).items():
        west, south, east, north = (float(v) for v in spec["bbox"])
        districts[str(name)] = (west, south, east, north)
    rules: list[DepositRule] = []
    seen: set[str] = set()
    for entry in raw["rules"]:
        rid = str(entry["id"])
        where = f"{_PATH.name}: rule {rid!r}"
        unknown = set(entry) - {"id", "type", "confidence", *_CONDITIONS}
        if unknown:
            raise CatalogError(f"{where}: unknown keys {sorted(unknown)}; use {_CONDITIONS}")
        if rid in seen:
            raise CatalogError(f"{where}: the id is used twice; give each rule its own id")
        seen.add(rid)
        if entry["type"] not in vocabulary:
            raise CatalogError(f"{where}: type {entry['type']!r} is not in the vocabulary")
        district = entry.get("district")
        if district is not None and district not in districts:
            raise CatalogError(f"{where}: district {district!r} is not defined under districts")

        def pattern(key: str, entry: dict[str, Any] = entry) -> re.Pattern[str] | None:
            text = entry.get(key)
            return re.compile(str(text), re.IGNORECASE) if text else None

        rules.append(
            DepositRule(
                id=rid,
                type=str(entry["type"]),
                confidence=float(entry["confidence"]),
                name=pattern("name"),
                deposit_type=pattern("deposit_type"),
                raw=pattern("raw"),
                sources=frozenset(entry.get("sources") or ()),
                commodities_any=_expand(list(entry.get("commodities_any") or ())),
                commodities_all=tuple(_expand([c]) for c in entry.get("commodities_all") or ()),
                commodities_none=_expand(list(entry.get("commodities_none") or ())),
                commodities_only=_expand(list(entry.get("commodities_only") or ())),
                district=districts[district] if district else None,
            )
        )
    return _Table(vocabulary, districts, tuple(rules))


def deposit_vocabulary() -> dict[str, str]:
    """Return the deposit-type vocabulary: class -> description."""
    return dict(_table().vocabulary)


def deposit_rules() -> tuple[DepositRule, ...]:
    """Return the classification rules in the order they are tried."""
    return _table().rules


def deposit_class_of_text(text: object) -> str:
    """Return the class given by a deposit-type text alone (``""`` when no rule matches)."""
    if not isinstance(text, str) or not text.strip():
        return ""
    for rule in _table().rules:
        if rule.deposit_type is None or rule.deposit_type.search(text) is None:
            continue
        if any(
            getattr(rule, key)
            for key in ("name", "raw", "sources", "commodities_any", "commodities_all")
        ):
            continue
        if rule.commodities_none or rule.commodities_only or rule.district:
            continue
        return rule.type
    return ""


def _lonlat(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    from geomap.errors import CRSError

    if frame.crs is None:
        raise CRSError("occurrence frame has no CRS; set one before classifying deposits")
    geoms = frame.geometry
    if not (frame.crs.is_geographic and frame.crs.to_epsg() == 4326):
        geoms = geoms.to_crs(4326)
    values = geoms.to_numpy()
    return shapely.get_x(values), shapely.get_y(values)


def _text(frame: Any, column: str) -> pd.Series:
    """Return a column as text, ``""`` where it is missing or not a string."""
    if column not in frame.columns:
        return pd.Series("", index=range(len(frame)), dtype="string")
    values = frame[column]
    if isinstance(values.dtype, pd.StringDtype):
        return values.fillna("").reset_index(drop=True)
    texts = [str(v) if isinstance(v, str) else "" for v in values.tolist()]
    return pd.Series(texts, dtype="string")


class _Column:
    """One text column of the frame, factorized: a rule's test runs once per distinct value."""

    def __init__(self, values: pd.Series, parse: Any = None) -> None:
        keys, uniques = pd.factorize(values)
        self.keys = keys
        self.values = [parse(v) for v in uniques] if parse is not None else list(uniques)

    def passing(self, rows: np.ndarray, test: Any) -> np.ndarray:
        """Return the rows (indices) whose value passes ``test``."""
        keys = self.keys[rows]
        seen = np.unique(keys)
        ok = np.zeros(len(self.values), dtype=bool)
        ok[seen] = [bool(test(self.values[k])) for k in seen]
        return rows[ok[keys]]


def _set_tests(rule: DepositRule) -> list[Any]:
    """Return the tests of a rule on a row's commodity codes (all must hold)."""
    tests = []
    if rule.commodities_any:
        tests.append(lambda codes: rule.commodities_any & codes)
    if rule.commodities_all:
        tests.append(lambda codes: all(group & codes for group in rule.commodities_all))
    if rule.commodities_none:
        tests.append(lambda codes: not rule.commodities_none & codes)
    if rule.commodities_only:
        tests.append(lambda codes: codes and codes <= rule.commodities_only)
    return tests


def _site_sources(frame: Any) -> pd.Series:
    """Return, per row, its own source and its merged members' sources, record ids left out.

    ``sources`` lists a merged site's members as ``dataset_id/source:record_id;...``; without
    the record ids few distinct values remain, so each is parsed once.
    """
    members = _text(frame, "sources").astype("string[pyarrow]")
    return _text(frame, "source") + "\x1f" + members.str.replace(r":[^;]*", "", regex=True)


def _source_names(text: str) -> frozenset[str]:
    source, members = text.split("\x1f", 1)
    names = {source} if source else set()
    if members:
        names.update(item.split("/", 1)[-1] for item in members.split(";"))
    return frozenset(names)


def classify_deposits(frame: Any) -> pd.DataFrame:
    """Return the deposit type of every row (see the module doc for the rules).

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences in the common schema (any CRS; districts are in lon/lat).  Uses
        ``name``, ``deposit_type``, ``commodities``, ``commodities_raw``, ``source`` and,
        after deduplication, ``sources`` (every compilation of a merged site counts).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``frame``: ``deposit_class``, ``deposit_class_rule`` and
        ``deposit_class_confidence``.

    Notes
    -----
    Each row takes the first rule whose conditions all hold.  The rules are tried in order
    on the rows no earlier rule took, each condition on the distinct values of its column
    among those rows (the cheap ones first), so the cost grows with the distinct names,
    types and commodity lists rather than with rows times rules.
    """
    from geomap.harmonize.commodities import split_codes

    n = len(frame)
    classes = np.full(n, "unknown", dtype=object)
    rule_ids = np.full(n, "", dtype=object)
    confidence = np.zeros(n)
    if n:
        lon, lat = _lonlat(frame)
        columns = {
            "name": _Column(_text(frame, "name")),
            "deposit_type": _Column(_text(frame, "deposit_type")),
            "raw": _Column(_text(frame, "commodities_raw")),
        }
        codes = _Column(_text(frame, "commodities"), lambda v: frozenset(split_codes(v)))
        sources = _Column(_site_sources(frame), _source_names)
        rules = _table().rules
        left = np.arange(n)
        for rule in rules:
            rows = left
            if rule.district is not None:
                west, south, east, north = rule.district
                x, y = lon[rows], lat[rows]
                rows = rows[(west <= x) & (x <= east) & (south <= y) & (y <= north)]
            for test in _set_tests(rule):
                rows = codes.passing(rows, test)
            if rule.sources:
                rows = sources.passing(rows, lambda names, rule=rule: rule.sources & names)
            for key in ("deposit_type", "raw", "name"):
                pattern = getattr(rule, key)
                if pattern is not None:
                    rows = columns[key].passing(rows, lambda v, p=pattern: p.search(v) is not None)
            if rows.size:
                classes[rows], rule_ids[rows], confidence[rows] = (
                    rule.type,
                    rule.id,
                    rule.confidence,
                )
                left = np.setdiff1d(left, rows, assume_unique=True)
            if not left.size:
                break
    return pd.DataFrame(
        {
            "deposit_class": pd.array(classes, dtype="string"),
            "deposit_class_rule": pd.array(rule_ids, dtype="string"),
            "deposit_class_confidence": confidence,
        },
        index=frame.index,
    )


def add_deposit_classes(frame: Any) -> Any:
    """Return a copy of ``frame`` with ``deposit_class``, its rule and confidence set."""
    out = frame.copy()
    result = classify_deposits(frame)
    for column in result.columns:
        out[column] = result[column]
    return out
