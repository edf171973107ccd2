"""The evidence functions and transforms a recipe may name, and their parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr


# --------------------------------------------------------------------------- the functions


@dataclass(frozen=True)
class _Function:
    """How a recipe function maps onto the evidence API."""

    build: Callable[..., list[xr.DataArray]]
    inputs: tuple[str, ...]  # "vector", "points", "raster"
    params: dict[str, bool]  # parameter name -> required


def _keyword_params(func: Callable[..., Any], skip: tuple[str, ...] = ()) -> dict[str, bool]:
    out = {}
    for p in inspect.signature(func).parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in (
            "chunks",
            "name",
            "source",
            "source_ids",
            *skip,
        ):
            out[p.name] = p.default is inspect.Parameter.empty
    return out


def _functions() -> dict[str, _Function]:
    from geomap import evidence as ev

    def single(func: Callable[..., xr.DataArray]) -> Callable[..., list[xr.DataArray]]:
        def build(data: Any, grid: Any, *, name: str, chunks: Any, **params: Any) -> list[Any]:
            return [func(data, grid, name=name, chunks=chunks, **params)]

        return build

    def classes(data: Any, grid: Any, *, name: str, chunks: Any, **params: Any) -> list[Any]:
        return [ev.class_layer(data, grid, name=name, chunks=chunks, **params)]

    def one_hot(
        data: Any, grid: Any, *, name: str, chunks: Any, classes: Any = None, **params: Any
    ) -> list[Any]:
        layer = ev.class_layer(data, grid, name=name, chunks=chunks, **params)
        return ev.one_hot(layer, classes=classes, prefix=name)

    def class_scores(
        data: Any,
        grid: Any,
        *,
        name: str,
        chunks: Any,
        scores: Any,
        default: Any = 0.0,
        **params: Any,
    ) -> list[Any]:
        layer = ev.class_layer(data, grid, name=name, chunks=chunks, **params)
        return [ev.class_scores(layer, scores=scores, default=default, name=name)]

    def distance_to_class(
        data: Any,
        grid: Any,
        *,
        name: str,
        chunks: Any,
        classes: Any,
        cap_m: Any = None,
        **params: Any,
    ) -> list[Any]:
        layer = ev.class_layer(data, grid, name=name, chunks=chunks, **params)
        marks = ev.one_hot(layer, classes=classes, prefix=name)
        mask = marks[0]
        for extra in marks[1:]:
            mask = mask.fillna(0) + extra.fillna(0)
        mask = mask.rename(name)
        return [ev.distance_to_cells(mask, cap_m=cap_m, name=name)]

    def gravity_gradient(
        data: Any,
        grid: Any,
        *,
        name: str,
        chunks: Any,
        height_m: Any = None,
        at_resolution_m: Any = None,
    ) -> list[Any]:
        work = grid if at_resolution_m is None else ev.coarse_grid(grid, at_resolution_m)
        disturbance = ev.gravity_disturbance(data, work, height_m=height_m)
        return [
            ev.horizontal_gradient(
                disturbance, grid, at_resolution_m=at_resolution_m, chunks=chunks, name=name
            )
        ]

    class_params = {"column": False, "resampling": False}
    return {
        "distance": _Function(
            single(ev.distance_to), ("vector", "points"), _keyword_params(ev.distance_to)
        ),
        "density": _Function(
            single(ev.point_density), ("points",), _keyword_params(ev.point_density)
        ),
        "classes": _Function(classes, ("raster", "vector"), class_params),
        "one_hot": _Function(one_hot, ("raster", "vector"), {**class_params, "classes": False}),
        "class_scores": _Function(
            class_scores, ("raster", "vector"), {**class_params, "scores": True, "default": False}
        ),
        "distance_to_class": _Function(
            distance_to_class,
            ("raster", "vector"),
            {**class_params, "classes": True, "cap_m": False},
        ),
        "continuous": _Function(
            single(ev.continuous), ("raster",), _keyword_params(ev.continuous, ("units",))
        ),
        "geochem": _Function(
            single(ev.geochem_surface), ("points",), _keyword_params(ev.geochem_surface)
        ),
        "geochem_anomaly": _Function(
            single(ev.geochem_anomaly), ("points",), _keyword_params(ev.geochem_anomaly)
        ),
        "gravity_disturbance": _Function(
            single(ev.gravity_disturbance), ("raster",), _keyword_params(ev.gravity_disturbance)
        ),
        "horizontal_gradient": _Function(
            single(ev.horizontal_gradient), ("raster",), _keyword_params(ev.horizontal_gradient)
        ),
        "tilt_derivative": _Function(
            single(ev.tilt_derivative), ("raster",), _keyword_params(ev.tilt_derivative)
        ),
        "gravity_gradient": _Function(
            gravity_gradient, ("raster",), {"height_m": False, "at_resolution_m": False}
        ),
        "slope": _Function(single(ev.slope), ("raster",), _keyword_params(ev.slope)),
        "relief": _Function(single(ev.relief), ("raster",), _keyword_params(ev.relief)),
    }


def _transforms() -> dict[str, tuple[Callable[..., xr.DataArray], dict[str, bool]]]:
    from geomap import evidence as ev

    funcs: dict[str, Callable[..., xr.DataArray]] = {
        "fuzzy_linear": ev.fuzzy_linear,
        "fuzzy_small": ev.fuzzy_small,
        "fuzzy_large": ev.fuzzy_large,
        "fuzzy_gaussian": ev.fuzzy_gaussian,
        "fuzzy_near": ev.fuzzy_near,
        "zscore": ev.zscore,
        "percentile": ev.percentile_rank,
        "log10": ev.log_transform,
        "threshold": ev.threshold,
    }
    return {name: (f, _keyword_params(f)) for name, f in funcs.items()}


def evidence_functions() -> dict[str, dict[str, Any]]:
    """Describe the functions and transforms a recipe may use, with their parameters.

    Returns
    -------
    dict
        ``{"functions": {name: {"inputs": [...], "params": {param: required}}},
        "transforms": {name: {"params": {param: required}}}}``
    """
    return {
        "functions": {
            k: {"inputs": list(f.inputs), "params": dict(f.params)} for k, f in _functions().items()
        },
        "transforms": {k: {"params": dict(p)} for k, (_, p) in _transforms().items()},
    }
