"""Geologic age names -> numbers (Ma), from the table in ``geomap/data/geologic_time.yaml``.

Official maps give ages as names ("Late Cretaceous", "Middle Miocene to Late Miocene",
SGMC's ``AGE_MIN``/``AGE_MAX`` "Jurassic"); :func:`age_range_ma` turns them into the
older and younger bounds in Ma.

>>> from geomap.harmonize.ages import age_range_ma
>>> age_range_ma("Late Cretaceous")
(100.5, 66.0)
>>> age_range_ma("Middle Miocene to Late Miocene")
(15.98, 5.333)
>>> age_range_ma("not an age")
(nan, nan)
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

from geomap._yaml import load_yaml
from geomap.errors import DataError

__all__ = ["age_range_ma", "geologic_time_units"]

_PATH = Path(__file__).resolve().parent.parent / "data" / "geologic_time.yaml"
_SPLIT = re.compile(r"\s+(?:to|-|–|—|~|or)\s+|\s*[–—~〜]\s*", re.IGNORECASE)
_PREFIX = re.compile(r"^(early|middle|late|lower|upper|mid)[\s-]+(.+)$")
_SYNONYM = {"lower": "early", "upper": "late", "mid": "middle"}
_NAN = (math.nan, math.nan)


@functools.cache
def geologic_time_units() -> dict[str, tuple[float, float]]:
    """Return the time-unit table: lower-case name -> (older, younger) bound in Ma."""
    raw = load_yaml(_PATH, DataError)
    units = raw.get("units") if isinstance(raw, dict) else None
    if not isinstance(units, dict):
        raise DataError(f"{_PATH}: expected a 'units' mapping of name -> [older, younger]")
    out: dict[str, tuple[float, float]] = {}
    for name, bounds in units.items():
        older, younger = (float(v) for v in bounds)
        if older < younger:
            raise DataError(f"{_PATH}: unit {name!r} has older bound {older} < younger {younger}")
        out[str(name).lower()] = (older, younger)
    return out


def _one(text: str) -> tuple[float, float]:
    units = geologic_time_units()
    key = re.sub(r"\s+", " ", text.strip().lower().replace("epoch", "").replace("period", ""))
    key = key.strip(" .,;()")
    if key in units:
        return units[key]
    match = _PREFIX.match(key)
    if match:
        part, name = _SYNONYM.get(match[1], match[1]), match[2].strip()
        exact = f"{part} {name}"
        if exact in units:
            return units[exact]
        if name in units:
            older, younger = units[name]
            third = (older - younger) / 3
            index = {"early": 0, "middle": 1, "late": 2}[part]
            return (older - index * third, older - (index + 1) * third)
    return _NAN


def age_range_ma(text: object) -> tuple[float, float]:
    """Return the (older, younger) bounds in Ma of an age name or a range of names.

    Parameters
    ----------
    text : str
        E.g. ``"Late Cretaceous"``, ``"Early Jurassic to Middle Jurassic"``,
        ``"Late Pleistocene - Holocene"``.

    Returns
    -------
    tuple of float
        ``(older, younger)``; ``(nan, nan)`` when a part is not a known name.
    """
    if not isinstance(text, str) or not text.strip():
        return _NAN
    parts = [p for p in _SPLIT.split(text.strip()) if p.strip()]
    bounds = [_one(p) for p in parts]
    if not bounds or any(math.isnan(b[0]) for b in bounds):
        return _NAN
    return (max(b[0] for b in bounds), min(b[1] for b in bounds))
