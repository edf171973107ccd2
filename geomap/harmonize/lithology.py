"""A shared lithology vocabulary for US and Japanese geological maps.

The classes, their stable integer codes (for rasters) and every mapping from a
source vocabulary live in ``geomap/data/lithology.yaml``; this module loads and
validates that file and applies it:

* :func:`glim_to_lithology` turns a GLiM class-code raster into geomap codes;
* :func:`ncgmp09_unit_lithology` gives each NCGMP09/GeMS map unit a class from
  its StandardLithology terms (weighted by proportion), falling back on the
  unit's name;
* :func:`classify_text` classifies free text (unit names, legends, English or
  Japanese) with ordered regular expressions;
* :func:`hasterok_lithology` maps Hasterok province types where a type implies
  a dominant lithology.

>>> from geomap.harmonize.lithology import classify_text, lithology_code
>>> classify_text("Middle Proterozoic Granitic Rocks"), classify_text("花崗岩")
('felsic_intrusive', 'felsic_intrusive')
>>> classify_text("Early Proterozoic Metavolcanic Rocks"), lithology_code("carbonatite_alkaline")
('metamorphic', 1)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geomap._yaml import load_yaml
from geomap.errors import DataError, UnknownNameError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = [
    "LITHOLOGY_NODATA",
    "LithologyClass",
    "LithologyVocabulary",
    "classify_text",
    "glim_to_lithology",
    "hasterok_lithology",
    "lithology_classes",
    "lithology_code",
    "load_lithology_vocabulary",
    "ncgmp09_unit_lithology",
]

LITHOLOGY_NODATA = 255
"""Nodata value of lithology-code rasters (uint8); code 0 is the class ``unknown``."""

_DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "lithology.yaml"


@dataclass(frozen=True)
class LithologyClass:
    """One class of the shared vocabulary."""

    code: int
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class LithologyVocabulary:
    """The validated content of ``lithology.yaml``."""

    classes: tuple[LithologyClass, ...]
    glim: dict[int, str]
    glim_names: dict[int, str]
    ncgmp09_terms: dict[str, str]
    proportion_weights: dict[str, float]
    keywords: tuple[tuple[re.Pattern[str], str], ...]
    hasterok: dict[str, str]

    @functools.cached_property
    def by_id(self) -> dict[str, LithologyClass]:
        """Classes keyed by id."""
        return {c.id: c for c in self.classes}

    @functools.cached_property
    def by_code(self) -> dict[int, LithologyClass]:
        """Classes keyed by integer code."""
        return {c.code: c for c in self.classes}

    def code(self, class_id: str) -> int:
        """Return the integer code of a class id."""
        try:
            return self.by_id[class_id].code
        except KeyError:
            raise UnknownNameError(
                f"unknown lithology class {class_id!r}; known: {', '.join(self.by_id)}"
            ) from None

    def classify_text(self, text: str | None) -> str:
        """Return the class id the first matching keyword rule gives ``text`` (else unknown)."""
        if not text or not str(text).strip():
            return "unknown"
        for pattern, class_id in self.keywords:
            if pattern.search(str(text)):
                return class_id
        return "unknown"


def _validate(raw: Any, path: Path) -> LithologyVocabulary:
    def fail(message: str) -> DataError:
        return DataError(f"{path}: {message}; fix the vocabulary file")

    if not isinstance(raw, dict) or "classes" not in raw:
        raise fail("expected a mapping with a 'classes' list")
    classes = []
    for entry in raw["classes"]:
        try:
            classes.append(
                LithologyClass(
                    int(entry["code"]),
                    str(entry["id"]),
                    str(entry["name"]),
                    str(entry.get("color", "#bdbdbd")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(f"class entry {entry!r} is malformed ({exc})") from None
    codes = [c.code for c in classes]
    ids = [c.id for c in classes]
    for label, values in (("code", [str(c) for c in codes]), ("id", ids)):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise fail(f"class {label} {dupes[0]} is used twice; each must be unique")
    if not all(0 <= c < LITHOLOGY_NODATA for c in codes):
        raise fail(
            f"class codes must lie in 0..{LITHOLOGY_NODATA - 1} "
            f"(uint8; {LITHOLOGY_NODATA} is nodata)"
        )
    known = set(ids)

    def target(value: Any, where: str) -> str:
        if value not in known:
            raise fail(f"{where} maps to unknown class {value!r}; use one of {sorted(known)}")
        return str(value)

    glim = {int(k): target(v["class"], f"glim code {k}") for k, v in raw.get("glim", {}).items()}
    glim_names = {int(k): str(v.get("name", "")) for k, v in raw.get("glim", {}).items()}
    terms = {
        str(k).lower(): target(v, f"ncgmp09 term {k!r}")
        for k, v in raw.get("ncgmp09_terms", {}).items()
    }
    weights = {
        str(k).lower(): float(v) for k, v in raw.get("ncgmp09_proportion_weights", {}).items()
    }
    keywords = []
    for rule in raw.get("keywords", []):
        try:
            pattern = re.compile(rule["pattern"], re.IGNORECASE)
        except (KeyError, TypeError, re.error) as exc:
            raise fail(f"keyword rule {rule!r} is not a valid regular expression ({exc})") from None
        keywords.append((pattern, target(rule.get("class"), f"keyword {rule['pattern']!r}")))
    hasterok = {
        str(k).lower(): target(v, f"Hasterok type {k!r}")
        for k, v in raw.get("hasterok_prov_type", {}).items()
    }
    return LithologyVocabulary(
        classes=tuple(sorted(classes, key=lambda c: c.code)),
        glim=glim,
        glim_names=glim_names,
        ncgmp09_terms=terms,
        proportion_weights=weights,
        keywords=tuple(keywords),
        hasterok=hasterok,
    )


@functools.lru_cache(maxsize=4)
def _load(path: Path, _mtime: int) -> LithologyVocabulary:
    return _validate(load_yaml(path, DataError), path)


def load_lithology_vocabulary(path: str | Path | None = None) -> LithologyVocabulary:
    """Load and validate the lithology vocabulary (default: the one shipped with geomap)."""
    resolved = Path(path) if path is not None else _DEFAULT_PATH
    if not resolved.is_file():
        raise DataError(f"lithology vocabulary {resolved} not found; check the path")
    return _load(resolved.resolve(), resolved.stat().st_mtime_ns)


def lithology_classes() -> pd.DataFrame:
    """Return the classes as a table (``code``, ``id``, ``name``, ``color``)."""
    import pandas as pd

    vocab = load_lithology_vocabulary()
    return pd.DataFrame([c.__dict__ for c in vocab.classes])


def lithology_code(class_id: str) -> int:
    """Return the stable integer code of a class id."""
    return load_lithology_vocabulary().code(class_id)


def classify_text(text: str | None) -> str:
    """Classify free text (a unit name or legend, English or Japanese) into a class id."""
    return load_lithology_vocabulary().classify_text(text)


def glim_to_lithology(glim: xr.DataArray) -> xr.DataArray:
    """Convert a GLiM class-code raster into geomap lithology codes (uint8).

    Parameters
    ----------
    glim : DataArray
        GLiM codes 1..16 with nodata declared (as read by the ``glim-grid`` reader).

    Returns
    -------
    DataArray
        uint8 codes of the shared vocabulary, nodata :data:`LITHOLOGY_NODATA`;
        GLiM's "no data" class (15) becomes ``unknown`` (0), cells without any
        class stay nodata.  Works on NumPy- and Dask-backed arrays alike.

    Raises
    ------
    DataError
        A code that the vocabulary does not know.
    """
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    vocab = load_lithology_vocabulary()
    nodata = glim.rio.nodata if glim.rio.nodata is not None else glim.rio.encoded_nodata
    lut = np.full(max(vocab.glim) + 2, LITHOLOGY_NODATA, dtype="uint8")
    for glim_code, class_id in vocab.glim.items():
        lut[glim_code] = vocab.code(class_id)
    valid = glim != nodata if nodata is not None else xr.ones_like(glim, dtype=bool)
    codes = glim.where(valid, 0).data
    if hasattr(codes, "compute"):
        import dask.array as dsa

        present = np.asarray(dsa.unique(codes).compute())
    else:
        present = np.unique(codes)
    unknown = sorted(
        int(v)
        for v in present
        if v != 0 and (not 0 < v < lut.size or lut[int(v)] == LITHOLOGY_NODATA)
    )
    if unknown:
        raise DataError(
            f"GLiM raster holds class codes {unknown} that the vocabulary does not map; "
            "add them under 'glim' in geomap/data/lithology.yaml"
        )

    def lookup(block: np.ndarray) -> np.ndarray:
        return lut[np.clip(block, 0, lut.size - 1)]

    mapped = xr.apply_ufunc(
        lookup, glim.where(valid, lut.size - 1), dask="parallelized", output_dtypes=["uint8"]
    ).data
    out = xr.DataArray(mapped, dims=glim.dims, coords=glim.coords, name="lithology")
    out = out.rio.write_nodata(LITHOLOGY_NODATA, encoded=False)
    out.attrs.update(
        {k: v for k, v in glim.attrs.items() if k.startswith("geomap_")},
        long_name="lithology class (geomap shared vocabulary)",
        units="1",
        flag_values=[c.code for c in vocab.classes],
        flag_meanings=" ".join(c.id for c in vocab.classes),
    )
    return out


def ncgmp09_unit_lithology(standard_lithology: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Give each NCGMP09/GeMS map unit a lithology class.

    Parameters
    ----------
    standard_lithology : DataFrame
        The StandardLithology table (``mapunit``, ``lithology``, ``proportionterm``).
    units : DataFrame
        The DescriptionOfMapUnits table (``mapunit``, ``name``).

    Returns
    -------
    DataFrame
        One row per unit: ``mapunit``, ``lithology`` (class id), ``lithology_code``,
        ``lithology_basis`` (``"StandardLithology"``, ``"unit name"`` or ``"none"``) and
        ``unmapped_terms`` (terms the vocabulary does not know, for the report).
    """
    import pandas as pd

    vocab = load_lithology_vocabulary()
    rows = []
    by_unit = dict(list(standard_lithology.groupby("mapunit", sort=False)))
    for unit, name in zip(units["mapunit"], units["name"], strict=True):
        scores: dict[str, float] = {}
        unmapped: list[str] = []
        group = by_unit.get(unit)
        if group is not None:
            for term, proportion in zip(group["lithology"], group["proportionterm"], strict=True):
                key = str(term).strip().lower()
                class_id = vocab.ncgmp09_terms.get(key)
                if class_id is None:
                    class_id = vocab.classify_text(key)
                    if class_id == "unknown":
                        unmapped.append(str(term))
                        continue
                weight = vocab.proportion_weights.get(str(proportion).strip().lower(), 1.0)
                scores[class_id] = scores.get(class_id, 0.0) + weight
        if scores:
            best = max(scores.items(), key=lambda kv: (kv[1], -vocab.code(kv[0])))[0]
            basis = "StandardLithology"
        else:
            best = vocab.classify_text(name)
            basis = "unit name" if best != "unknown" else "none"
        rows.append(
            {
                "mapunit": unit,
                "lithology": best,
                "lithology_code": vocab.code(best),
                "lithology_basis": basis,
                "unmapped_terms": "; ".join(unmapped),
            }
        )
    return pd.DataFrame(rows)


def hasterok_lithology(prov_type: Iterable[Any]) -> list[str]:
    """Map Hasterok province types to class ids (``unknown`` where a type implies none)."""
    vocab = load_lithology_vocabulary()
    return [vocab.hasterok.get(str(t).strip().lower(), "unknown") for t in prov_type]
