"""Geochemical anomaly evidence from sample points: scores per sample, then a support model.

:func:`geochem_anomaly` is a pure evidence function ``(samples, grid, *, params) ->
DataArray`` in two steps:

1. **A score per sample** (:func:`sample_scores`), from the samples table only:

   - censored values are replaced by ``censored_factor`` × the detection limit
     (or × the smallest measured value where the source gives no limit) and
     counted (:func:`~geomap.evidence.compositional.substitute_censored`);
   - ``score="log"``: log10 of an element expression (``"La / Yb"``,
     ``"LREE"``, ``"Nb + Ta"``); a ratio of two parts is already a log-ratio
     (a compositional coordinate); a sum of parts is not free of closure, which
     the layer's attrs say;
   - ``score="robust_z"``: the same, as a robust z-score (median/MAD): how many
     robust standard deviations above the survey's background; with ``elements``
     instead of an expression, the mean of each element's robust z of log10 (an
     additive index);
   - ``score="clr_z"``: the composition of every analysed element plus the
     residual part (closed to 10⁶ ppm) is clr-transformed; each chosen element's
     clr coordinate becomes a robust z-score and the score is their mean (an
     additive index, Garrett and Grunsky 2001);
   - ``score="mahalanobis"``: the subcomposition of the chosen elements plus the
     residual part is ilr-transformed (pivot coordinates) and the robust
     Mahalanobis distance from the MCD centre is the score (Filzmoser, Garrett
     and Reimann 2005).  Only the enriched side counts: a sample whose mean clr
     z-score of the chosen elements is below zero gets 0, since depletion of
     ore elements is not an anomaly here.

2. **A sample-support model** suited to stream sediments.  A stream-sediment
   sample integrates its upstream catchment (a few to a few tens of km² for
   the GSJ survey, about one sample per 100 km²; Bonham-Carter, Rogers and
   Ellwood 1987 used catchment polygons for this).  Without a drainage network
   on the analysis grid, each cell takes the inverse-distance mean of the
   samples within ``radius_m``, where the radius defaults to
   ``spacing_factor`` × the median nearest-neighbour distance between samples
   (9 km for GSJ, 18 km for the Colorado soils): a catchment-sized, sampling-
   matched footprint.  ``support="nearest"`` uses the nearest sample only
   (Voronoi cells cut at the radius, the usual stand-in for catchment basins).
   Cells with fewer than ``min_samples`` samples within the radius are NaN: the
   **sample-density mask**, so the coverage layer shows where there is no
   geochemistry rather than extrapolated values (sea, gaps between islands).

The per-sample scores are computed once on the (small) table; the surface is
built block by block on Dask exactly as in memory, so NumPy and Dask agree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import DataError, ParameterError, UnknownNameError
from geomap.evidence._common import finish, provenance_source
from geomap.evidence.compositional import (
    closed_composition,
    clr,
    evaluate_expression,
    expression_elements,
    ilr,
    robust_mahalanobis,
    robust_z,
    substitute_censored,
)
from geomap.evidence.continuous import interpolate_points
from geomap.grid import Chunks
from geomap.grid.rasterize import features_in_grid_crs

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "SCORES",
    "end_use_elements",
    "end_uses",
    "geochem_anomaly",
    "geochem_indices",
    "layer_elements",
    "resolve_index",
    "sample_scores",
    "sample_spacing",
]

SCORES = ("log", "robust_z", "clr_z", "mahalanobis")
"""Per-sample scores :func:`geochem_anomaly` can compute."""

_INDICES_PATH = Path(__file__).resolve().parent.parent / "data" / "geochem_indices.yaml"
_PART_COVERAGE = 0.95


@functools.cache
def _index_file() -> dict[str, Any]:
    from geomap._yaml import load_yaml
    from geomap.errors import RecipeError

    data = load_yaml(_INDICES_PATH, RecipeError)
    return data if isinstance(data, dict) else {}


def geochem_indices() -> dict[str, dict[str, Any]]:
    """Return the named indices of ``geomap/data/geochem_indices.yaml`` (``index:`` in recipes)."""
    return dict(_index_file().get("indices", {}))


def end_uses() -> dict[str, dict[str, Any]]:
    """End uses and their element sets (``--end-use``)."""
    return dict(_index_file().get("end_uses", {}))


def end_use_elements(name: str) -> set[str]:
    """Return the element set of an end use.

    Raises
    ------
    UnknownNameError
        Not one of :func:`end_uses`.
    """
    from geomap.harmonize.commodities import load_vocabulary

    known = end_uses()
    canonical = name
    if name not in known:
        aliases = load_vocabulary().end_use_aliases
        key = " ".join(str(name).lower().replace("-", " ").replace("_", " ").split())
        canonical = next(
            (use for alias, use in aliases.items() if alias.replace("_", " ") == key), name
        )
    if canonical not in known:
        canonical = str(name).replace("-", "_")
    if canonical not in known:
        raise UnknownNameError(f"unknown end use {name!r}; choose one of {sorted(known)}")
    return set(known[canonical]["elements"])


def resolve_index(
    index: str | None, expression: str | None, elements: Sequence[str] | None, score: str | None
) -> tuple[str | None, list[str] | None, str]:
    """Return ``(expression, elements, score)`` from a named index or explicit parameters.

    Raises
    ------
    ParameterError
        Both or neither of index and expression/elements; an unknown score.
    UnknownNameError
        An unknown index.
    """
    if index is not None:
        if expression is not None or elements is not None:
            raise ParameterError("give either index or expression/elements, not both")
        indices = geochem_indices()
        if index not in indices:
            raise UnknownNameError(
                f"unknown geochemical index {index!r}; use one of {sorted(indices)}"
            )
        spec = indices[index]
        expression, elements = spec.get("expression"), spec.get("elements")
        score = score or spec.get("score", "robust_z")
    if (expression is None) == (elements is None):
        raise ParameterError(
            "give exactly one of expression (e.g. 'La / Yb') or elements (e.g. [Zn, Pb, Cu]), "
            "or a named index"
        )
    score = score or "robust_z"
    if score not in SCORES:
        raise ParameterError(f"score {score!r} is not one of {SCORES}")
    return expression, list(elements) if elements is not None else None, score


def layer_elements(params: dict[str, Any]) -> set[str]:
    """Return the element symbols a geochemistry layer's parameters read (for ``--end-use``)."""
    if params.get("index"):
        spec = geochem_indices().get(str(params["index"]), {})
        params = {**spec, **params}
    out: set[str] = set()
    if params.get("expression"):
        out |= expression_elements(str(params["expression"]))
    for key in ("elements", "ratio_to"):
        for value in params.get(key) or []:
            out.add(str(value).split("_")[0])
    return out


def _analysed_parts(samples: Any) -> list[str]:
    elements = samples.attrs.get("geomap_elements") or sorted(
        {str(c)[:-4] for c in samples.columns if str(c).endswith("_ppm")}
    )
    return [e for e in elements if f"{e}_ppm" in samples.columns]


def sample_scores(
    samples: Any,
    *,
    expression: str | None = None,
    elements: Sequence[str] | None = None,
    index: str | None = None,
    score: str | None = None,
    censored_factor: float = 0.65,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One anomaly score per sample (see the module docstring).

    Returns
    -------
    ndarray, dict
        Scores (NaN where a sample lacks a needed part) and a summary:
        ``score``, ``expression``/``elements``, ``censored`` counts,
        ``n_scored``, ``n_without_score``, and for Mahalanobis the MCD details.

    Raises
    ------
    ParameterError
        Bad or conflicting parameters, an unsafe expression.
    DataError
        Elements the samples lack; too few samples for the statistics.
    """
    expression, chosen, score = resolve_index(index, expression, elements, score)
    needed = sorted(expression_elements(expression)) if expression else list(chosen or [])
    info: dict[str, Any] = {"score": score, "expression": expression, "elements": chosen}
    if score in ("clr_z", "mahalanobis"):
        parts_names = _analysed_parts(samples)
        missing = [e for e in needed if e not in parts_names]
        if missing:
            raise DataError(f"the samples have no {missing}; analysed: {parts_names}")
        parts, censored = substitute_censored(samples, parts_names, factor=censored_factor)
    else:
        parts, censored = substitute_censored(samples, needed, factor=censored_factor)
    info["censored"] = censored.to_dict()
    if score in ("log", "robust_z") and expression is None:
        # additive index: mean of each element's robust z of log10 (Garrett and Grunsky 2001)
        logs = {e: _log10(parts[e]) for e in needed}
        if score == "log":
            out = np.mean([logs[e] for e in needed], axis=0)
        else:
            out = np.mean([robust_z(logs[e]) for e in needed], axis=0)
        info["closure"] = "mean of per-element log10 scores: not closure-free; one survey only"
    elif score in ("log", "robust_z"):
        assert expression is not None
        out = _log10(evaluate_expression(expression, {e: parts[e] for e in needed}))
        if score == "robust_z":
            out = robust_z(out)
        info["closure"] = (
            "log-ratio of parts (closure-free)"
            if "/" in expression
            else "log of a sum of parts: not a log-ratio; scale by robust z within one survey"
        )
    elif score == "clr_z":
        # keep parts analysed in nearly every sample, so missing analyses do not blank rows
        kept = {
            e: v for e, v in parts.items() if e in needed or np.isfinite(v).mean() >= _PART_COVERAGE
        }
        composition, names = closed_composition(kept)
        coords = clr(composition)
        zs = np.column_stack([robust_z(coords[:, names.index(e)]) for e in needed])
        out = zs.mean(axis=1)
        info["closure"] = f"clr of {len(names)} parts closed to 1e6 ppm (residual part 'rest')"
    else:
        composition, names = closed_composition({e: parts[e] for e in needed})
        distance, details = robust_mahalanobis(ilr(composition))
        full = {
            e: v for e, v in parts.items() if e in needed or np.isfinite(v).mean() >= _PART_COVERAGE
        }
        full_comp, full_names = closed_composition(full)
        full_clr = clr(full_comp)
        direction = np.column_stack(
            [robust_z(full_clr[:, full_names.index(e)]) for e in needed]
        ).mean(axis=1)
        out = np.where(direction > 0, distance, np.where(np.isfinite(direction), 0.0, np.nan))
        info["mcd"] = details
        info["closure"] = f"ilr (pivot) of {len(names)} parts closed to 1e6 ppm"
    out = np.where(np.isfinite(out), out, np.nan)
    info["n_scored"] = int(np.isfinite(out).sum())
    info["n_without_score"] = int((~np.isfinite(out)).sum())
    if info["n_scored"] == 0:
        raise DataError(f"no sample has a {score} score for {expression or chosen}")
    return out, info


def _log10(value: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(value > 0, np.log10(np.where(value > 0, value, 1.0)), np.nan)


def sample_spacing(xy: np.ndarray) -> float:
    """Median distance from each sample to its nearest neighbour (same units as ``xy``)."""
    from scipy.spatial import cKDTree

    if len(xy) < 2:
        raise DataError("sample spacing needs at least two samples")
    distance, _ = cKDTree(xy).query(xy, k=2)
    positive = distance[:, 1][distance[:, 1] > 0]
    if positive.size == 0:
        raise DataError("all samples are at one location; spacing is undefined")
    return float(np.median(positive))


def geochem_anomaly(
    samples: gpd.GeoDataFrame,
    grid: GeoBox,
    *,
    expression: str | None = None,
    elements: Sequence[str] | None = None,
    index: str | None = None,
    score: str | None = None,
    censored_factor: float = 0.65,
    support: str = "idw",
    radius_m: float | None = None,
    spacing_factor: float = 2.0,
    power: float = 2.0,
    min_samples: int = 1,
    max_samples: int = 8,
    chunks: Chunks = None,
    name: str = "geochem_anomaly",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Geochemical anomaly surface: a per-sample score spread by a sample-support model.

    Parameters
    ----------
    samples : GeoDataFrame
        Points in the geochemistry schema (``<El>_ppm``, ``<El>_censored``,
        ``<El>_dl_ppm``) with a CRS.
    grid : GeoBox
        The analysis grid.
    expression : str, optional
        Element arithmetic such as ``"La / Yb"``, ``"LREE"``, ``"Nb + Ta"``.
    elements : list of str, optional
        Element set for ``clr_z`` and ``mahalanobis``.
    index : str, optional
        A named index of :func:`geochem_indices` (its expression/elements and score).
    score : {"log", "robust_z", "clr_z", "mahalanobis"}, optional
        Default: the index's, else ``"robust_z"``.
    censored_factor : float, default 0.65
        Censored values become this fraction of the detection limit.
    support : {"idw", "nearest"}, default "idw"
        Inverse-distance mean of the samples within the radius, or the nearest one.
    radius_m : float, optional
        Support radius; default ``spacing_factor`` × the median nearest-neighbour
        distance of the samples.
    spacing_factor : float, default 2
        See ``radius_m``.
    power : float, default 2
        IDW power.
    min_samples, max_samples : int
        Fewest samples within the radius for a value (the density mask); most used.
    chunks : None, "auto", int or (int, int)
        Dask-backed result, equal to the in-memory one.
    name : str
        Layer name.
    source : str or list of str, optional
        Dataset ids for the provenance.

    Returns
    -------
    DataArray
        float32 on ``grid``, NaN beyond the sample support; attrs record the
        score, the censored replacements, the closure treatment, the radius and
        the number of samples.

    Raises
    ------
    ParameterError
        Conflicting or bad parameters.
    DataError
        Missing elements, or too few samples.
    """
    if support not in ("idw", "nearest"):
        raise ParameterError(f"support {support!r} must be 'idw' or 'nearest'")
    if not (isinstance(spacing_factor, int | float) and spacing_factor > 0):
        raise ParameterError(f"spacing_factor={spacing_factor!r} must be a positive number")
    if not (1 <= int(min_samples) <= int(max_samples)):
        raise ParameterError(
            f"min_samples={min_samples!r}, max_samples={max_samples!r}: need "
            "1 <= min_samples <= max_samples"
        )
    values, info = sample_scores(
        samples,
        expression=expression,
        elements=elements,
        index=index,
        score=score,
        censored_factor=censored_factor,
    )
    geoms = features_in_grid_crs(samples, grid, what="geochem_anomaly")
    located = ~(geoms.isna() | geoms.is_empty).to_numpy()
    xy_all = np.column_stack(
        [
            np.where(located, geoms.x.to_numpy(), np.nan),
            np.where(located, geoms.y.to_numpy(), np.nan),
        ]
    )
    ok = located & np.isfinite(values)
    spacing = sample_spacing(xy_all[located])
    radius = float(radius_m) if radius_m is not None else spacing_factor * spacing
    if not radius > 0:
        raise ParameterError(f"radius_m={radius_m!r} must be greater than 0")
    nearest = support == "nearest"
    data = interpolate_points(
        xy_all[ok],
        values[ok],
        grid,
        radius=radius,
        power=float(power),
        min_samples=1 if nearest else int(min_samples),
        max_samples=1 if nearest else int(max_samples),
        chunks=chunks,
    )
    label = info["expression"] or "+".join(info["elements"] or [])
    params = {
        "index": index,
        "expression": info["expression"],
        "elements": info["elements"],
        "score": info["score"],
        "censored_factor": float(censored_factor),
        "support": support,
        "radius_m": radius,
        "sample_spacing_m": spacing,
        "power": float(power),
        "min_samples": int(min_samples),
        "max_samples": int(max_samples),
        "n_samples": int(ok.sum()),
        "n_samples_without_score": int((located & ~np.isfinite(values)).sum()),
        "n_samples_without_location": int((~located).sum()),
    }
    units = {"log": "log10 ppm", "robust_z": "robust z", "clr_z": "robust z (clr)"}
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="geochem_anomaly",
        params=params,
        source=provenance_source(samples, source),
        units=units.get(info["score"], "robust distance"),
        long_name=f"{label}: {info['score']} ({support}, masked beyond {radius / 1000:.1f} km)",
        extra={
            "geomap_censored": str(info["censored"]),
            "geomap_closure": info.get("closure", ""),
        },
    )
