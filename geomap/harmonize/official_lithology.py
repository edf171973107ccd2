"""Lithology of the official geological maps in geomap's shared vocabulary.

The rules are data (``geomap/data/official_lithology.yaml``), validated on load:
every class must be a class of ``geomap/data/lithology.yaml`` and every pattern must
compile.

* :func:`seamless_lithology` classifies a GSJ Seamless V2 legend unit from its
  English and Japanese lithology and group names;
* :func:`sgmc_lithology` classifies an SGMC map unit from its name, MAJOR1–3 and
  GENERALIZED_LITH (alkaline rocks and carbonatites recognised where named).

>>> from geomap.harmonize.official_lithology import seamless_lithology, sgmc_lithology
>>> seamless_lithology("Granite", "花崗岩")
'felsic_intrusive'
>>> seamless_lithology("Marine and non-marine sediments", "海成および非海成堆積物")
'unconsolidated'
>>> sgmc_lithology("Magnet Cove alkaline complex", ["syenite"], "Igneous, intrusive")
'carbonatite_alkaline'
>>> sgmc_lithology("Navajo Sandstone", ["sandstone"], "Sedimentary, clastic")
'clastic_sedimentary'
>>> seamless_lithology("Non-alkaline felsic volcanic rocks", "非アルカリ珪長質火山岩類")
'felsic_volcanic'
>>> seamless_lithology(None, "非アルカリ苦鉄質火山岩類")
'mafic_volcanic'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geomap._yaml import load_yaml
from geomap.errors import DataError
from geomap.harmonize.lithology import load_lithology_vocabulary

__all__ = ["is_alkaline", "official_rules", "seamless_lithology", "sgmc_lithology"]

_PATH = Path(__file__).resolve().parent.parent / "data" / "official_lithology.yaml"

Rules = tuple[tuple[re.Pattern[str], str], ...]


@dataclass(frozen=True)
class OfficialRules:
    """The validated content of ``official_lithology.yaml``."""

    seamless_before: Rules
    seamless_after: Rules
    sgmc_alkaline: re.Pattern[str]
    sgmc_major: Rules
    sgmc_generalized: dict[str, str]


def _rules(raw: Any, where: str, known: set[str]) -> Rules:
    if not isinstance(raw, list):
        raise DataError(f"{_PATH}: {where} must be a list of {{pattern, class}} rules")
    out = []
    for i, rule in enumerate(raw):
        if not isinstance(rule, dict) or set(rule) != {"pattern", "class"}:
            raise DataError(f"{_PATH}: {where}[{i}] must have exactly 'pattern' and 'class'")
        out.append(
            (_compile(rule["pattern"], f"{where}[{i}]"), _known(rule["class"], where, known))
        )
    return tuple(out)


def _compile(pattern: Any, where: str) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern), re.IGNORECASE)
    except re.error as exc:
        raise DataError(f"{_PATH}: {where}: pattern {pattern!r} does not compile ({exc})") from None


def _known(value: Any, where: str, known: set[str]) -> str:
    if value not in known:
        raise DataError(
            f"{_PATH}: {where}: class {value!r} is not in geomap/data/lithology.yaml; "
            f"use one of {sorted(known)}"
        )
    return str(value)


@functools.cache
def official_rules() -> OfficialRules:
    """Load and validate the official-map lithology rules."""
    raw = load_yaml(_PATH, DataError)
    known = set(load_lithology_vocabulary().by_id)
    try:
        seamless, sgmc = raw["gsj_seamless_v2"], raw["sgmc"]
        generalized = {
            str(k).lower(): _known(v, f"sgmc.generalized_lith.{k}", known)
            for k, v in sgmc["generalized_lith"].items()
        }
        return OfficialRules(
            seamless_before=_rules(seamless["before"], "gsj_seamless_v2.before", known),
            seamless_after=_rules(seamless["after"], "gsj_seamless_v2.after", known),
            sgmc_alkaline=_compile(sgmc["alkaline"], "sgmc.alkaline"),
            sgmc_major=_rules(sgmc["major_terms"], "sgmc.major_terms", known),
            sgmc_generalized=generalized,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{_PATH}: missing or malformed section ({exc}); see the file header"
        ) from None


def _first(rules: Rules, texts: Sequence[str]) -> str | None:
    for pattern, class_id in rules:
        if any(pattern.search(t) for t in texts):
            return class_id
    return None


def _texts(values: Sequence[object]) -> list[str]:
    return [str(v) for v in values if isinstance(v, str) and v.strip()]


_NON_ALKALINE = re.compile(r"non-?\s?alkaline|非アルカリ", re.IGNORECASE)


def seamless_lithology(
    lithology_en: object,
    lithology_ja: object = None,
    group_en: object = None,
    group_ja: object = None,
) -> str:
    """Classify a Seamless V2 legend unit (lithology first, then its group)."""
    rules = official_rules()
    vocabulary = load_lithology_vocabulary()
    for raw in (_texts([lithology_en, lithology_ja]), _texts([group_en, group_ja])):
        texts = [_NON_ALKALINE.sub(" ", t) for t in raw]
        if not texts:
            continue
        found = _first(rules.seamless_before, texts)
        if found is None:
            found = next(
                (c for t in texts if (c := vocabulary.classify_text(t)) != "unknown"), None
            )
        if found is None:
            found = _first(rules.seamless_after, texts)
        if found is not None:
            return found
    return "unknown"


def is_alkaline(texts: Sequence[object]) -> bool:
    """Whether any text names an alkaline rock or carbonatite (SGMC rule)."""
    pattern = official_rules().sgmc_alkaline
    return any(pattern.search(t) for t in _texts(list(texts)))


def sgmc_lithology(unit_name: object, majors: Sequence[object], generalized: object) -> str:
    """Classify an SGMC map unit (see the module docstring for the order of the rules)."""
    rules = official_rules()
    if is_alkaline([unit_name, *majors]):
        return "carbonatite_alkaline"
    vocabulary = load_lithology_vocabulary()
    for major in _texts(list(majors)):
        found = _first(rules.sgmc_major, [major])
        if found is None:
            candidate = vocabulary.classify_text(major)
            found = candidate if candidate != "unknown" else None
        if found is not None:
            return found
    key = str(generalized).strip().lower() if isinstance(generalized, str) else ""
    return rules.sgmc_generalized.get(key, "unknown")
