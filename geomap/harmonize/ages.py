"""Geologic age names -> numbers (Ma), from the table in ``geomap/data/geologic_time.yaml``.

Official maps give ages as names ("Late Cretaceous", "Middle Miocene to Late Miocene",
SGMC's ``AGE_MIN``/``AGE_MAX`` "Jurassic", GSJ Seamless V2's stacked "Cenozoic Neogene
Miocene late Burdigalian - late Serravallian"); :func:`age_range_ma` turns them into the
older and younger bounds in Ma.  In a stacked name the most specific unit (the last)
decides; an early/middle/late before a name, or after it ("Jurassic Early"), takes that
part of it (its own entry in the table, else a third); a lone modifier in the second part
of a range refers to the unit of the first ("Jurassic Early - Middle").

>>> from geomap.harmonize.ages import age_range_ma
>>> age_range_ma("Late Cretaceous")
(100.5, 66.0)
>>> age_range_ma("Middle Miocene to Late Miocene")
(15.98, 5.333)
>>> age_range_ma("Mesozoic Jurassic Early - Middle")  # GSJ Seamless V2: era to stage
(201.4, 161.5)
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
_SPLIT = re.compile(r"\s+(?:to|-|–|—|~|or|and)\s+|\s*[–—~〜]\s*", re.IGNORECASE)
_WORDS = re.compile(r"[\s,]+|(?<=[a-z])-(?=[a-z])")
_MODIFIERS = ("early", "middle", "late")
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


_FILLER = {"epoch", "period", "era", "of", "the", "age"}


def _base(name: str) -> str:
    """``name`` without its early/middle/late modifiers ("late late pleistocene" -> ...)."""
    words = name.split()
    while (
        len(words) > 1 and words[0] in _MODIFIERS and " ".join(words) not in geologic_time_units()
    ):
        words = words[1:]
    return " ".join(words)


def _modify(bounds: tuple[float, float], name: str, part: str) -> tuple[float, float]:
    """Early/middle/late ``part`` of the unit ``name`` (its own entry, else a third)."""
    units = geologic_time_units()
    exact = f"{part} {name}"
    if name and exact in units:
        return units[exact]
    older, younger = bounds
    third = (older - younger) / 3
    index = {"early": 0, "middle": 1, "late": 2}[part]
    return (older - index * third, older - (index + 1) * third)


def _one(text: str, context: list[str]) -> tuple[float, float]:
    """Bounds of one age (the most specific name in it), or NaN when a word is unknown.

    ``context`` carries the unit a lone modifier refers to between the parts of a range
    ("Jurassic Early - Middle": the second part is Middle Jurassic).
    """
    units = geologic_time_units()
    key = re.sub(r"\s+", " ", text.strip().lower()).strip(" .,;()")
    if key in units:
        context[:] = [key]
        return units[key]
    words = [w for w in _WORDS.split(key) if w and w not in _FILLER]
    current: tuple[float, float] | None = None
    name = ""
    pending: list[str] = []
    i = 0
    while i < len(words):
        two = " ".join(words[i : i + 2]) if i + 1 < len(words) else ""
        word = _SYNONYM.get(words[i], words[i])
        if two in units:
            current, name, step = units[two], two, 2
        elif words[i] in units:
            current, name, step = units[words[i]], words[i], 1
        elif word in _MODIFIERS:
            following = words[i + 1] if i + 1 < len(words) else ""
            following = _SYNONYM.get(following, following)
            if following in units or following in _MODIFIERS or (two and two in units):
                pending.append(word)
            else:  # a modifier after its unit ("Jurassic Early"), or alone in a range part
                if current is None and context:
                    name = context[0]
                    current = units[name]
                if current is None:
                    return _NAN
                current = _modify(current, name, word)
                name = f"{word} {name}"
            i += 1
            continue
        else:
            return _NAN
        for part in reversed(pending):  # the modifier nearest the name applies first
            current = _modify(current, name, part)
            name = f"{part} {name}"
        pending = []
        context[:] = [_base(name)]
        i += step
    if current is None or pending:
        return _NAN
    return current


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
    context: list[str] = []
    bounds = [_one(p, context) for p in parts]
    if not bounds or any(math.isnan(b[0]) for b in bounds):
        return _NAN
    return (max(b[0] for b in bounds), min(b[1] for b in bounds))
