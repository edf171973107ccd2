"""Mineral-system recipes (``layers/*.yaml``) and evidence-stack building.

A recipe names a mineral system, its commodities, the regions it supports, the
datasets it uses, its evidence layers (an evidence function, the data it reads and
its parameters, optionally followed by transforms), the training occurrences and
the default model.  :func:`load_recipe` validates a recipe completely (unknown keys,
datasets, regions, functions, parameters, commodities and deposit classes are
errors that name the file and the key); :func:`build_evidence` turns it into the
evidence stack of one region at one resolution: an ``xarray.Dataset`` with one
variable per evidence layer plus ``coverage``.

>>> from geomap.recipes import load_recipe, recipe_names
>>> "carbonatite-ree" in recipe_names()
True
>>> load_recipe("carbonatite-ree").model.name
'wofe'
"""

from __future__ import annotations

import difflib
import inspect
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geomap.errors import GeomapError, RecipeError, UnknownNameError

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from geomap.catalog import Catalog
    from geomap.grid import Chunks

__all__ = [
    "MODEL_NAMES",
    "LayerSpec",
    "ModelSpec",
    "Recipe",
    "SourceSpec",
    "TrainingSpec",
    "TransformSpec",
    "audit_sites",
    "build_evidence",
    "evidence_functions",
    "load_recipe",
    "recipe_names",
    "resolve_sources",
    "select_end_use",
    "training_candidates",
    "training_occurrences",
    "with_user_data",
]

MODEL_NAMES = ("wofe", "fuzzy", "weighted", "logistic", "rf", "gbm")
"""Model names a recipe may choose (the models live in :mod:`geomap.models`)."""

_NAME = r"^[a-z][a-z0-9_]*$"
_ID = r"^[a-z0-9][a-z0-9-]*$"

WhereValue = str | int | float | bool | list[str | int | float | bool] | dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """The data an evidence layer reads and how its features are selected."""

    dataset: str | list[str] | None = Field(default=None, description="Catalog dataset id(s)")
    path: str | None = Field(
        default=None,
        description="Instead of a dataset: your own vector or raster file (relative to the recipe)",
    )
    sha256: str | None = Field(
        default=None,
        description="Set by the build: the sha256 of 'path' (recorded in the manifest)",
    )
    layer: str | None = Field(default=None, description="Reader layer, for multi-layer datasets")
    where: dict[str, WhereValue] = Field(
        default_factory=dict,
        description=(
            "Column filters: a value or list of values (case-insensitive for text), "
            "{contains: text}, or {min: x, max: y}"
        ),
    )
    commodities: list[str] | None = Field(
        default=None, description="Occurrences with any of these commodities (codes, names, groups)"
    )
    exclude_commodities: list[str] | None = Field(
        default=None, description="Drop occurrences with any of these commodities"
    )
    deposit_classes: list[str] | None = Field(
        default=None, description="Occurrences of these normalized deposit classes"
    )
    exclude_deposit_classes: list[str] | None = None
    vocabulary: Literal["lithology"] | None = Field(
        default=None, description="Recode a GLiM raster into the shared lithology vocabulary"
    )
    geometry: Literal["as_is", "boundary", "centroid"] = Field(
        default="as_is", description="Use polygon boundaries or feature centroids instead"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Reader options")

    @model_validator(mode="after")
    def _dataset_or_path(self) -> SourceSpec:
        if (self.dataset is None) == (self.path is None):
            raise ValueError(
                "give exactly one of 'dataset' (a catalog id) and 'path' (your own file)"
            )
        return self

    @property
    def datasets(self) -> list[str]:
        """The dataset ids as a list (empty for a user file)."""
        if self.dataset is None:
            return []
        return [self.dataset] if isinstance(self.dataset, str) else list(self.dataset)


class TransformSpec(_Strict):
    """A transform applied to a layer after the evidence function."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)


class LayerSpec(_Strict):
    """One evidence layer (``one_hot`` makes one layer per class).

    ``source`` may be a list of sources in order of preference (``source: [usgs-sgmc,
    {dataset: glim-lithology-0.5deg, vocabulary: lithology}]``): the build uses the first
    one that covers the region and is available (mirrored, or fetched with ``geomap
    fetch``), see :func:`resolve_sources`.  The first is kept in ``source`` and the others
    in ``fallbacks``.
    """

    name: str = Field(pattern=_NAME)
    function: str
    source: SourceSpec
    fallbacks: list[SourceSpec] = Field(
        default_factory=list,
        description="Further sources, in order of preference, when 'source' is unavailable",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    transforms: list[TransformSpec] = Field(default_factory=list)
    regions: list[str] | None = Field(
        default=None, description="Build this layer only for these regions (default: all)"
    )
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _preference_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("source"), list):
            items = [{"dataset": x} if isinstance(x, str) else x for x in data["source"]]
            if not items:
                raise ValueError("source: an empty list; name at least one dataset")
            data = {
                **data,
                "source": items[0],
                "fallbacks": [*items[1:], *data.get("fallbacks", [])],
            }
        return data

    @property
    def sources(self) -> list[SourceSpec]:
        """Every source of the layer, in order of preference."""
        return [self.source, *self.fallbacks]


class TrainingSpec(_Strict):
    """Which occurrences are the known deposits (training and validation points)."""

    datasets: list[str] | None = Field(
        default=None, description="Occurrence datasets (default: every mirrored one)"
    )
    commodities: list[str] | None = None
    exclude_commodities: list[str] | None = None
    deposit_classes: list[str] | None = None
    exclude_deposit_classes: list[str] | None = None
    where: dict[str, WhereValue] = Field(default_factory=dict)
    path: str | None = Field(
        default=None, description="The user's own sites (CSV or point file) instead of datasets"
    )
    crs: str | None = Field(default=None, description="CRS of a sites CSV's coordinates")
    sha256: str | None = Field(default=None, description="Set by the build: sha256 of 'path'")


def _known_model_name(value: str) -> str:
    if value not in MODEL_NAMES:
        raise ValueError(f"unknown model {value!r}; use one of {', '.join(MODEL_NAMES)}")
    return value


class RegionModelSpec(_Strict):
    """A region's own model, replacing the recipe's default there (``model.regions``)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(
        default="",
        description="Why this region differs, and the validation that chose it",
    )

    _known_model = field_validator("name")(_known_model_name)


class ModelSpec(_Strict):
    """The default model: a name from :data:`MODEL_NAMES` and its parameters.

    ``regions`` maps a region id to its own model and parameters (e.g. where the default
    is shared with regions whose evidence differs); :meth:`Recipe.model_for` resolves it.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["greenfield", "brownfield"] = Field(
        default="greenfield",
        description=(
            "greenfield: evidence layers only; brownfield: also the distance to known "
            "occurrences, recomputed inside every validation fold"
        ),
    )
    regions: dict[str, RegionModelSpec] = Field(
        default_factory=dict,
        description="Per region: a model (name, params, reason) replacing the default there",
    )

    _known_model = field_validator("name")(_known_model_name)


class Recipe(_Strict):
    """A validated mineral-system recipe."""

    id: str = Field(pattern=_ID)
    name: str
    mineral_system: str
    commodities: list[str]
    regions: list[str] = Field(min_length=1)
    datasets: list[str] = Field(min_length=1)
    rationale: str
    references: list[str] = Field(min_length=1)
    evidence: list[LayerSpec] = Field(min_length=1)
    training: TrainingSpec
    model: ModelSpec
    end_use: str | None = Field(
        default=None,
        description=(
            "Default end use (geomap/data/geochem_indices.yaml, e.g. magnets): only the "
            "geochemistry layers whose elements it needs are built; 'all' keeps every layer"
        ),
    )
    path: str = Field(default="", description="Where the recipe was loaded from (set on load)")
    source_choices: dict[str, Any] = Field(
        default_factory=dict,
        description="Set by resolve_sources: per layer, the source used and those skipped",
    )

    @model_validator(mode="after")
    def _model_regions_known(self) -> Recipe:
        unknown = sorted(set(self.model.regions) - set(self.regions))
        if unknown:
            raise ValueError(
                f"model.regions names {unknown}, which are not regions of the recipe "
                f"({', '.join(self.regions)}); fix the region ids"
            )
        return self

    def layers_for(self, region: str) -> list[LayerSpec]:
        """Return the evidence layers built for ``region``."""
        return [s for s in self.evidence if s.regions is None or region in s.regions]

    def model_for(self, region: str | None) -> ModelSpec:
        """Return the model used in ``region``: its ``model.regions`` entry, else the default.

        The result carries no ``regions`` of its own; ``mode`` is the recipe's.
        """
        own = self.model.regions.get(region) if region is not None else None
        if own is None:
            return self.model.model_copy(update={"regions": {}})
        return ModelSpec(name=own.name, params=dict(own.params), mode=self.model.mode)

    def __repr__(self) -> str:
        return (
            f"Recipe({self.id!r}: {self.name}; regions {', '.join(self.regions)}; "
            f"{len(self.evidence)} evidence layers; model {self.model.name})"
        )

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td>{escape(s.function)}</td>"
            f"<td>{escape(', '.join(s.source.datasets))}</td><td>{escape(s.description)}</td></tr>"
            for s in self.evidence
        )
        return (
            f"<b>{escape(self.name)}</b> (<code>{escape(self.id)}</code>): commodities "
            f"{escape(', '.join(self.commodities))}; regions {escape(', '.join(self.regions))}; "
            f"model <code>{escape(self.model.name)}</code>"
            "<table><tr><th>layer</th><th>function</th><th>data</th><th>description</th></tr>"
            f"{rows}</table>"
        )


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


# --------------------------------------------------------------------------- loading


def recipe_names() -> list[str]:
    """Names of the recipes shipped in ``layers/``."""
    from geomap._paths import layers_dir

    folder = layers_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _resolve_path(name_or_path: str | Path) -> Path:
    from geomap._paths import layers_dir

    if not str(name_or_path).strip():
        raise RecipeError(
            f"recipe {str(name_or_path)!r} is empty; pass a recipe name (geomap recipes) or "
            "the path of a YAML file"
        )
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise RecipeError(f"recipe file {path} not found; check the path")
        return path
    candidate = layers_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = recipe_names()
    close = difflib.get_close_matches(str(name_or_path), known, n=3)
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {', '.join(known)}"
    raise UnknownNameError(f"unknown recipe {str(name_or_path)!r}; {hint}")


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _format_validation(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = _loc(err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key; remove it or check its spelling")
        elif err["type"] == "missing":
            problems.append(f"{where}: required key is missing")
        else:
            problems.append(f"{where}: {err['msg']}")
    return f"recipe {path}: " + "; ".join(problems)


def load_recipe(
    name_or_path: str | Path, *, catalog: Catalog | None = None, end_use: str | None = None
) -> Recipe:
    """Load and validate a recipe.

    Parameters
    ----------
    name_or_path : str or Path
        A recipe name from ``layers/`` (e.g. ``"kuroko-vms"``) or a YAML file.
    catalog : Catalog, optional
        Defaults to the project catalog.
    end_use : str, optional
        Keep only the geochemistry layers whose elements this end use needs
        (:func:`select_end_use`); default the recipe's own ``end_use``, if any.

    Returns
    -------
    Recipe

    Raises
    ------
    RecipeError
        Malformed YAML, unknown keys, or a recipe naming an unknown dataset,
        region, function, parameter, transform, commodity, deposit class or
        model; the message names the file and the key.
    UnknownNameError
        No recipe of that name.
    """
    from geomap._yaml import load_yaml
    from geomap.catalog import load_catalog

    path = _resolve_path(name_or_path)
    raw = load_yaml(path, RecipeError)
    if not isinstance(raw, dict):
        raise RecipeError(
            f"recipe {path}: expected a mapping of keys, got a {type(raw).__name__}; write the "
            "recipe as keys (id, name, commodities, regions, datasets, evidence, model) as in "
            "layers/*.yaml"
        )
    for internal in ("path", "source_choices"):
        if internal in raw:
            raise RecipeError(f"recipe {path}: {internal}: unknown key; remove it")
    try:
        recipe = Recipe.model_validate({**raw, "path": str(path)})
    except ValidationError as exc:
        raise RecipeError(_format_validation(path, exc)) from None
    _check(recipe, catalog or load_catalog())
    _check_geochem_params(recipe)
    chosen = end_use or recipe.end_use
    return select_end_use(recipe, chosen) if chosen else recipe


_GEOCHEM_FUNCTIONS = ("geochem", "geochem_anomaly")


def _layer_elements(spec: LayerSpec) -> set[str]:
    if spec.function not in _GEOCHEM_FUNCTIONS:
        return set()
    from geomap.evidence.geochem import layer_elements

    return layer_elements(dict(spec.params))


def _check_geochem_params(recipe: Recipe) -> None:
    """Parse every geochemical expression and index at load time (errors name the layer)."""
    from geomap.evidence.geochem import end_uses

    problems = _Problems(recipe.path)
    for i, spec in enumerate(recipe.evidence):
        try:
            _layer_elements(spec)
            if spec.function == "geochem_anomaly":
                from geomap.evidence.geochem import resolve_index

                p = spec.params
                resolve_index(
                    p.get("index"), p.get("expression"), p.get("elements"), p.get("score")
                )
        except GeomapError as exc:
            problems.add(f"evidence[{i}].params", str(exc))
    if recipe.end_use not in (None, "all") and recipe.end_use not in end_uses():
        problems.add("end_use", _unknown("end use", recipe.end_use, sorted(end_uses())))
    problems.raise_if_any()


def select_end_use(recipe: Recipe, end_use: str) -> Recipe:
    """Keep the layers an end use needs: geochemistry reading its elements, and all context.

    Parameters
    ----------
    recipe : Recipe
    end_use : str
        A name from ``geomap/data/geochem_indices.yaml`` (``magnets``, ``batteries``,
        ...), or ``"all"`` for every layer.

    Returns
    -------
    Recipe
        A copy with the selected layers and ``end_use`` set.

    Raises
    ------
    UnknownNameError
        Unknown end use.
    RecipeError
        The recipe has no geochemistry layer for that end use.
    """
    if end_use == "all":
        return recipe.model_copy(update={"end_use": "all"})
    from geomap.evidence.geochem import end_use_elements

    wanted = end_use_elements(end_use)
    geochem = [spec for spec in recipe.evidence if _layer_elements(spec)]
    kept = [
        spec
        for spec in recipe.evidence
        if not _layer_elements(spec) or _layer_elements(spec) & wanted
    ]
    if not any(_layer_elements(spec) for spec in kept):
        reads = sorted(set().union(*(_layer_elements(spec) for spec in geochem))) if geochem else []
        raise RecipeError(
            f"recipe {recipe.path}: no geochemistry layer serves end use {end_use!r} "
            f"(it needs {sorted(wanted)}; the recipe's layers read {reads or 'no elements'}); "
            "choose another end use or recipe"
        )
    return recipe.model_copy(update={"evidence": kept, "end_use": end_use})


class _Problems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise RecipeError(f"recipe {self.path}: " + "; ".join(self.items))


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {', '.join(known)}"
    return f"unknown {kind} {name!r}; {hint}"


def _check_commodities(problems: _Problems, key: str, values: list[str] | None) -> None:
    from geomap.harmonize.commodities import expand_selector

    for value in values or []:
        try:
            expand_selector(value)
        except GeomapError as exc:
            problems.add(key, str(exc))


def _deposit_classes() -> list[str]:
    from geomap.harmonize.deposit_types import deposit_vocabulary

    return sorted(deposit_vocabulary())


def _check_params(
    problems: _Problems, key: str, given: Mapping[str, Any], accepted: Mapping[str, bool]
) -> None:
    for param in given:
        if param not in accepted:
            problems.add(f"{key}.{param}", _unknown("parameter", param, sorted(accepted)))
    for param, required in accepted.items():
        if required and param not in given:
            problems.add(f"{key}.{param}", "required parameter is missing")


def _check(recipe: Recipe, catalog: Catalog) -> None:
    problems = _Problems(recipe.path)
    dataset_ids = [d.id for d in catalog.datasets]
    region_ids = [r.id for r in catalog.regions]
    for i, region in enumerate(recipe.regions):
        if region not in region_ids:
            problems.add(f"regions[{i}]", _unknown("region", region, region_ids))
    for i, dataset in enumerate(recipe.datasets):
        if dataset not in dataset_ids:
            problems.add(f"datasets[{i}]", _unknown("dataset", dataset, dataset_ids))
    _check_commodities(problems, "commodities", recipe.commodities)
    classes = _deposit_classes()
    functions, transforms = _functions(), _transforms()
    names: set[str] = set()
    for i, spec in enumerate(recipe.evidence):
        key = f"evidence[{i}] ({spec.name})"
        if spec.name in names or spec.name == "coverage":
            problems.add(f"{key}.name", f"layer name {spec.name!r} is used twice or reserved")
        names.add(spec.name)
        for region in spec.regions or []:
            if region not in recipe.regions:
                problems.add(f"{key}.regions", f"{region!r} is not one of the recipe's regions")
        if spec.fallbacks:
            _check_alternatives(problems, f"{key}.source", spec, recipe, catalog, classes)
        else:
            _check_source(
                problems, f"{key}.source", spec.source, recipe, catalog, classes, spec.regions
            )
        func = functions.get(spec.function)
        if func is None:
            problems.add(
                f"{key}.function", _unknown("evidence function", spec.function, sorted(functions))
            )
        else:
            _check_params(problems, f"{key}.params", spec.params, func.params)
            _check_numbers(problems, f"{key}.params", spec.params)
        for j, step in enumerate(spec.transforms):
            tkey = f"{key}.transforms[{j}]"
            if step.function not in transforms:
                problems.add(
                    f"{tkey}.function", _unknown("transform", step.function, sorted(transforms))
                )
            else:
                _check_params(problems, f"{tkey}.params", step.params, transforms[step.function][1])
    training = recipe.training
    for i, dataset in enumerate(training.datasets or []):
        if dataset not in recipe.datasets:
            problems.add(f"training.datasets[{i}]", f"{dataset!r} is not listed under 'datasets'")
        elif dataset in dataset_ids and catalog.dataset(dataset).kind != "occurrences":
            problems.add(f"training.datasets[{i}]", f"{dataset!r} is not an occurrence dataset")
    _check_where(problems, "training", training.where or {})
    _check_commodities(problems, "training.commodities", training.commodities)
    _check_commodities(problems, "training.exclude_commodities", training.exclude_commodities)
    for field in ("deposit_classes", "exclude_deposit_classes"):
        for value in getattr(training, field) or []:
            if value not in classes:
                problems.add(f"training.{field}", _unknown("deposit class", value, classes))
    problems.raise_if_any()


def _user_path(recipe: Recipe, path: str) -> Path:
    """Return a user file path: absolute, or relative to the recipe file's folder."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or not recipe.path:
        return candidate
    return Path(recipe.path).resolve().parent / candidate


def _check_alternatives(
    problems: _Problems,
    key: str,
    spec: LayerSpec,
    recipe: Recipe,
    catalog: Catalog,
    classes: list[str],
) -> None:
    """Check a list of preferred sources: each valid, the last mirrored, every region covered."""
    alternatives = spec.sources
    known = {d.id for d in catalog.datasets}
    for i, source in enumerate(alternatives):
        last = i == len(alternatives) - 1
        _check_source(
            problems,
            f"{key}[{i}]",
            source,
            recipe,
            catalog,
            classes,
            spec.regions,
            allow_online=not last,
            check_regions=False,
        )
    for region in spec.regions or recipe.regions:
        covering = [
            s
            for s in alternatives
            if all(d in known and region in catalog.dataset(d).regions for d in s.datasets)
        ]
        if region in {r.id for r in catalog.regions} and not covering:
            problems.add(
                key,
                f"no source covers region {region!r}; add one that does (e.g. a global "
                "mirrored dataset) or restrict the layer with 'regions:'",
            )


def _check_source(
    problems: _Problems,
    key: str,
    source: SourceSpec,
    recipe: Recipe,
    catalog: Catalog,
    classes: list[str],
    layer_regions: list[str] | None,
    *,
    allow_online: bool = False,
    check_regions: bool = True,
) -> None:
    known = [d.id for d in catalog.datasets]
    if source.path is not None and not _user_path(recipe, source.path).is_file():
        problems.add(
            f"{key}.path",
            f"file {str(_user_path(recipe, source.path))!r} not found; check the path",
        )
    for dataset in source.datasets:
        if dataset not in known:
            problems.add(f"{key}.dataset", _unknown("dataset", dataset, known))
            continue
        if dataset not in recipe.datasets:
            problems.add(f"{key}.dataset", f"{dataset!r} is not listed under 'datasets'")
        entry = catalog.dataset(dataset)
        if entry.online_only and not allow_online:
            problems.add(
                f"{key}.dataset",
                f"{dataset!r} is online-only (not mirrored); list it before a mirrored fallback "
                f"(source: [{dataset}, <mirrored dataset>])",
            )
        for region in (layer_regions or recipe.regions) if check_regions else []:
            if region in [r.id for r in catalog.regions] and region not in entry.regions:
                problems.add(
                    f"{key}.dataset",
                    f"{dataset!r} does not cover region {region!r} (it covers "
                    f"{', '.join(entry.regions)}); restrict the layer with 'regions:'",
                )
    _check_commodities(problems, f"{key}.commodities", source.commodities)
    _check_commodities(problems, f"{key}.exclude_commodities", source.exclude_commodities)
    for field in ("deposit_classes", "exclude_deposit_classes"):
        for value in getattr(source, field) or []:
            if value not in classes:
                problems.add(f"{key}.{field}", _unknown("deposit class", value, classes))
    _check_where(problems, key, source.where)


def _check_where(problems: _Problems, key: str, where: dict[str, Any]) -> None:
    for column, condition in where.items():
        if isinstance(condition, dict) and not set(condition) <= {"contains", "min", "max"}:
            problems.add(
                f"{key}.where.{column}",
                f"unknown condition {sorted(set(condition) - {'contains', 'min', 'max'})}; "
                "use a value, a list, {contains: text} or {min: x, max: y}",
            )
        if isinstance(condition, dict):
            for bound in ("min", "max"):
                if bound in condition and not _is_number(condition[bound]):
                    problems.add(
                        f"{key}.where.{column}.{bound}",
                        f"{condition[bound]!r} is not a number; write a number, e.g. "
                        f"{{{bound}: 10}}",
                    )


def _is_number(value: Any) -> bool:
    import math

    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_numbers(problems: _Problems, key: str, params: dict[str, Any]) -> None:
    """Check that lengths (``*_m``, ``*_km``), ``default`` and class ``scores`` are numbers."""
    for name, value in params.items():
        is_number_param = name.endswith(("_m", "_km")) or name == "default"
        values = value if isinstance(value, list) else [value]
        if is_number_param and value is not None and not all(map(_is_number, values)):
            problems.add(
                f"{key}.{name}", f"{value!r} is not a number; write a number, e.g. {name}: 1"
            )
    scores = params.get("scores")
    if isinstance(scores, dict):
        for cls, score in scores.items():
            if not _is_number(score):
                problems.add(
                    f"{key}.scores.{cls}",
                    f"score {score!r} is not a number; write a number from 0 to 1, e.g. 0.8",
                )


# --------------------------------------------------------------------------- building


class _Reader:
    """Reads each (dataset, layer, region) once per build."""

    def __init__(self, recipe: Recipe, region: str, catalog: Catalog) -> None:
        self.recipe, self.region, self.catalog = recipe, region, catalog
        self.cache: dict[Any, Any] = {}

    def kind(self, source: SourceSpec) -> str:
        if source.path is not None:
            from geomap.io.user_data import sniff_format

            return (
                "raster"
                if sniff_format(_user_path(self.recipe, source.path)) == "geotiff"
                else "vector"
            )
        kinds = {self.catalog.dataset(d).kind for d in source.datasets}
        if kinds == {"occurrences"}:
            return "occurrences"
        if len(kinds) > 1:
            raise RecipeError(f"datasets {source.datasets} mix kinds {sorted(kinds)}")
        return kinds.pop()

    def read(self, source: SourceSpec) -> Any:
        from geomap.io import read

        kind = self.kind(source)
        key = (
            tuple(source.datasets),
            source.path,
            source.layer,
            json.dumps(source.options, sort_keys=True),
        )
        if key not in self.cache:
            if source.path is not None:
                from geomap.harmonize import to_region
                from geomap.io.user_data import read_user_evidence

                region = self.catalog.region(self.region)
                data, _ = read_user_evidence(
                    _user_path(self.recipe, source.path), name=Path(source.path).stem, region=region
                )
                if kind != "raster":
                    data = to_region(data, region)
            elif kind == "occurrences":
                from geomap.io.occurrences import read_occurrences

                if source.layer is not None:
                    raise RecipeError("occurrence datasets have no 'layer'; select with 'where'")
                data = read_occurrences(source.datasets, region=self.region, catalog=self.catalog)
            elif len(source.datasets) > 1:
                raise RecipeError("only occurrence datasets can be combined in one source")
            elif kind == "raster":
                data = read(
                    source.datasets[0],
                    layer=source.layer,
                    catalog=self.catalog,
                    bbox=_raster_window(self.catalog.region(self.region)),
                    **source.options,
                )
            else:
                data = read(
                    source.datasets[0],
                    region=self.region,
                    layer=source.layer,
                    catalog=self.catalog,
                    **source.options,
                )
            self.cache[key] = data
        return self.cache[key]


def _raster_window(region: Any) -> tuple[float, float, float, float]:
    """Return the lon/lat window a windowed raster reader reads for a region's analysis grid.

    The region's equal-area grid is a projected rectangle around its lon/lat box, so it
    reaches beyond the box (at the corners by several degrees); the window is that
    rectangle's lon/lat extent, plus one degree.
    """
    import pyproj

    from geomap.io._windows import expand_bbox

    west, south, east, north = region.bbox
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", region.pyproj_crs, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(region.pyproj_crs, "EPSG:4326", always_xy=True)
    xmin, ymin, xmax, ymax = to_grid.transform_bounds(west, south, east, north, densify_pts=51)
    box = to_lonlat.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=51)
    return expand_bbox(tuple(float(v) for v in box), 1.0)  # type: ignore[arg-type]


def _text(series: Any) -> Any:
    return series.astype("string").str.strip().str.lower()


def _apply_where(frame: Any, where: Mapping[str, Any], key: str) -> Any:
    import numpy as np
    import pandas as pd

    mask = pd.Series(True, index=frame.index)
    for column, condition in where.items():
        if column not in frame.columns:
            known = [c for c in frame.columns if c != "geometry"]
            raise RecipeError(f"{key}.where.{column}: {_unknown('column', column, known)}")
        values = frame[column]
        if isinstance(condition, dict):
            if "contains" in condition:
                mask &= (
                    _text(values)
                    .str.contains(str(condition["contains"]).lower(), regex=False)
                    .fillna(False)
                )
            numbers = pd.to_numeric(values, errors="coerce")
            if "min" in condition:
                mask &= (numbers >= float(condition["min"])).fillna(False)
            if "max" in condition:
                mask &= (numbers <= float(condition["max"])).fillna(False)
            continue
        wanted = condition if isinstance(condition, list) else [condition]
        if all(isinstance(w, str) for w in wanted):
            mask &= _text(values).isin([w.lower() for w in wanted]).fillna(False)
        else:
            mask &= values.isin(wanted).fillna(False)
    return frame.loc[np.asarray(mask, dtype=bool)]


def _select_occurrences(frame: Any, spec: SourceSpec | TrainingSpec, key: str) -> Any:
    import numpy as np

    from geomap.harmonize.occurrences import select_commodities

    if spec.commodities:
        frame = frame.loc[np.asarray(select_commodities(frame, spec.commodities), dtype=bool)]
    if spec.exclude_commodities:
        drop = np.asarray(select_commodities(frame, spec.exclude_commodities), dtype=bool)
        frame = frame.loc[~drop]
    if spec.deposit_classes:
        frame = frame.loc[_text(frame["deposit_class"]).isin(spec.deposit_classes).to_numpy()]
    if spec.exclude_deposit_classes:
        frame = frame.loc[
            ~_text(frame["deposit_class"]).isin(spec.exclude_deposit_classes).to_numpy()
        ]
    return _apply_where(frame, spec.where, key)


def _prepare(data: Any, source: SourceSpec, kind: str, key: str) -> Any:
    import xarray as xr

    if isinstance(data, xr.DataArray):
        if source.where or source.commodities or source.deposit_classes:
            raise RecipeError(f"{key}: a raster source takes no 'where'/'commodities' selection")
        if source.vocabulary == "lithology":
            from geomap.harmonize.lithology import glim_to_lithology

            data = glim_to_lithology(data)
        return data
    if source.vocabulary is not None:
        raise RecipeError(f"{key}.vocabulary: only applies to a GLiM raster")
    if kind == "occurrences":
        data = _select_occurrences(data, source, key)
    else:
        if source.commodities or source.deposit_classes:
            raise RecipeError(f"{key}: 'commodities'/'deposit_classes' select occurrence datasets")
        data = _apply_where(data, source.where, key)
    if source.geometry == "boundary":
        data = data.set_geometry(data.geometry.boundary)
    elif source.geometry == "centroid":
        data = data.set_geometry(data.geometry.centroid)
    data.attrs["geomap_source"] = ",".join(source.datasets) or data.attrs.get(
        "geomap_source", "user"
    )
    return data


_CLASS_FUNCTIONS = ("classes", "one_hot", "class_scores", "distance_to_class")


def _vocabulary_polygons(data: Any, spec: LayerSpec) -> bool:
    """Whether a class layer reads polygons classified in the shared lithology vocabulary."""
    import xarray as xr

    return (
        spec.function in _CLASS_FUNCTIONS
        and spec.params.get("column") == "lithology"
        and not isinstance(data, xr.DataArray)
        and "lithology_code" in data.columns
    )


def _vocabulary_raster(data: Any, grid: Any, chunks: Any) -> Any:
    """Rasterize vocabulary-classified polygons into the uint8 code raster GLiM gives.

    Class layers built from official geology (SGMC, Seamless V2) and from GLiM then share
    codes and labels (every vocabulary class, not only those present in the window), so
    a recipe's class scores and one-hot classes mean the same whichever source is used.
    """
    from geomap.grid import rasterize
    from geomap.harmonize.lithology import LITHOLOGY_NODATA, load_lithology_vocabulary

    vocab = load_lithology_vocabulary()
    codes = rasterize(
        data,
        grid,
        values="lithology_code",
        fill=LITHOLOGY_NODATA,
        dtype="uint8",
        chunks=chunks,
        name="lithology",
    )
    codes = codes.rio.write_nodata(LITHOLOGY_NODATA, encoded=False)
    codes.attrs.update(
        long_name="lithology class (geomap shared vocabulary)",
        units="1",
        flag_values=[c.code for c in vocab.classes],
        flag_meanings=" ".join(c.id for c in vocab.classes),
        geomap_source=data.attrs.get("geomap_source", ""),
    )
    return codes


def _input_kind(data: Any) -> str:
    import xarray as xr

    if isinstance(data, xr.DataArray):
        return "raster"
    import numpy as np
    import shapely

    types = set(np.unique(shapely.get_type_id(data.geometry.values)).tolist()) - {-1}
    return "points" if types and types <= {0, 4} else "vector"


def _source_status(source: SourceSpec, region: str, catalog: Catalog) -> str | None:
    """Why a source cannot be used for ``region`` (``None`` when it can)."""
    from geomap.fetching_official import is_available

    for dataset_id in source.datasets:
        dataset = catalog.dataset(dataset_id)
        if region not in dataset.regions:
            return f"{dataset_id} does not cover {region}"
        if dataset.online_only and not is_available(dataset):
            return f"{dataset_id} is not fetched (geomap fetch {dataset_id})"
    return None


def resolve_sources(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> Recipe:
    """Choose, for every layer with sources in order of preference, the first usable one.

    A source is usable for ``region`` when its datasets cover the region and are
    available: mirrored, or (online-only official sources) fetched into the cache with
    ``geomap fetch``.

    Returns
    -------
    Recipe
        A copy whose layers each have one ``source`` (no ``fallbacks``), whose
        ``datasets`` no longer list official sources that were not chosen, and whose
        ``source_choices`` record per layer the source used and why the preferred ones
        were skipped (written to the stack attrs, the manifest and the report).

    Raises
    ------
    RecipeError
        No source of a layer is usable for the region.
    """
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    choices = dict(recipe.source_choices)
    layers = []
    for spec in recipe.evidence:
        if spec.source.path is not None:
            spec, choices[spec.name] = _hash_user_source(recipe, spec)
        if not spec.fallbacks or (spec.regions is not None and region not in spec.regions):
            layers.append(spec)
            continue
        skipped: list[dict[str, Any]] = []
        chosen = None
        for source in spec.sources:
            reason = _source_status(source, region, cat)
            if reason is None:
                chosen = source
                break
            skipped.append({"datasets": source.datasets, "reason": reason})
        if chosen is None:
            raise RecipeError(
                f"recipe {recipe.path}: evidence layer {spec.name!r}: no source is usable in "
                f"{region}: " + "; ".join(str(s["reason"]) for s in skipped)
            )
        choices[spec.name] = {
            "used": chosen.datasets,
            "preference": [s.datasets for s in spec.sources],
            "skipped": skipped,
        }
        layers.append(spec.model_copy(update={"source": chosen, "fallbacks": []}))
    used = {d for spec in layers for d in spec.source.datasets} | set(
        recipe.training.datasets or []
    )
    datasets = [
        d
        for d in recipe.datasets
        if d in used or not (d in {x.id for x in cat.datasets} and cat.dataset(d).online_only)
    ]
    training = recipe.training
    if training.path is not None:
        from geomap.fetching import file_sha256

        path = _user_path(recipe, training.path)
        if not path.is_file():
            raise RecipeError(f"recipe {recipe.path}: training.path: file {str(path)!r} not found")
        digest = file_sha256(path)
        training = training.model_copy(update={"path": str(path.resolve()), "sha256": digest})
        choices["training"] = {
            "used": ["user:sites"],
            "file": str(path.resolve()),
            "sha256": digest,
        }
    return recipe.model_copy(
        update={
            "evidence": layers,
            "datasets": datasets,
            "source_choices": choices,
            "training": training,
        }
    )


def _hash_user_source(recipe: Recipe, spec: LayerSpec) -> tuple[LayerSpec, dict[str, Any]]:
    from geomap.fetching import file_sha256

    assert spec.source.path is not None
    path = _user_path(recipe, spec.source.path)
    if not path.is_file():
        raise RecipeError(
            f"recipe {recipe.path}: evidence layer {spec.name!r}: file {str(path)!r} not found"
        )
    digest = file_sha256(path)
    source = spec.source.model_copy(update={"path": str(path.resolve()), "sha256": digest})
    choice = {"used": [f"user:{path.stem}"], "file": str(path.resolve()), "sha256": digest}
    return spec.model_copy(update={"source": source}), choice


def with_user_data(
    recipe: Recipe | str | Path,
    *,
    evidence: Mapping[str, str | Path] | None = None,
    sites: str | Path | None = None,
    sites_crs: str | None = None,
    catalog: Catalog | None = None,
) -> Recipe:
    """Add the user's own evidence files and/or training sites to a recipe.

    Parameters
    ----------
    evidence : mapping of str to path, optional
        Layer name -> file.  A raster becomes a ``continuous`` layer, a vector a
        ``distance`` layer (distance to its features).
    sites : path, optional
        A CSV or point file of training sites; replaces the recipe's training datasets.
    sites_crs : str, optional
        The CRS of a sites CSV's coordinates (required for CSV).

    Raises
    ------
    RecipeError
        A bad layer name, a name used twice, or a missing file.
    """
    import re

    from geomap.catalog import load_catalog
    from geomap.io.user_data import sniff_format

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    layers = list(recipe.evidence)
    names = {spec.name for spec in layers}
    for name, file in (evidence or {}).items():
        if not re.match(_NAME, name) or name == "coverage":
            raise RecipeError(
                f"--evidence {name}={file}: the layer name must be lower-case letters, digits and "
                "underscores, starting with a letter (e.g. my_faults=faults.gpkg)"
            )
        if name in names:
            raise RecipeError(f"--evidence {name}={file}: the recipe already has a layer {name!r}")
        path = Path(file).expanduser().resolve()
        fmt = sniff_format(path)
        function = "continuous" if fmt == "geotiff" else "distance"
        layers.append(
            LayerSpec(
                name=name,
                function=function,
                source=SourceSpec(path=str(path)),
                description=f"Your own file {path.name} ({function}).",
            )
        )
        names.add(name)
    training = recipe.training
    if sites is not None:
        path = Path(sites).expanduser().resolve()
        if not path.is_file():
            raise RecipeError(f"--sites {sites}: no such file")
        training = TrainingSpec(path=str(path), crs=sites_crs)  # your sites are the training set
    return recipe.model_copy(update={"evidence": layers, "training": training})


def build_evidence(
    recipe: Recipe | str | Path,
    region: str,
    resolution_m: float,
    *,
    chunks: Chunks = None,
    catalog: Catalog | None = None,
) -> xr.Dataset:
    """Build a recipe's evidence stack for one region at one resolution.

    Parameters
    ----------
    recipe : Recipe, str or Path
        A loaded recipe, a recipe name from ``layers/`` or a YAML path.
    region : str
        A region the recipe supports.
    resolution_m : float
        Cell size in metres.
    chunks : None, "auto", int or (int, int)
        Build Dask-backed layers block by block (values equal the in-memory build).
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    xarray.Dataset
        One variable per evidence layer (float32, NaN = no data, provenance in
        its attrs) plus ``coverage`` (int16 count of layers with data per cell),
        all on ``region_grid(region, resolution_m)``.  ``attrs`` carry the recipe
        id, region, resolution, default model (JSON) and training selector (JSON).

    Raises
    ------
    RecipeError
        The region is not supported, or a layer cannot be built (unknown column or
        class, empty selection, ...); the message names the recipe file and key.
    ParameterError
        ``resolution_m`` zero or negative.
    """
    import xarray as xr

    from geomap import evidence as ev
    from geomap.catalog import load_catalog
    from geomap.grid import region_grid

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    if region not in recipe.regions:
        raise RecipeError(
            f"recipe {recipe.path}: region {region!r} is not supported; this recipe supports "
            f"{', '.join(recipe.regions)} (see its 'regions' key)"
        )
    recipe = resolve_sources(recipe, region, catalog=cat)
    grid = region_grid(region, resolution_m, catalog=cat)
    reader = _Reader(recipe, region, cat)
    functions, transforms = _functions(), _transforms()
    layers: list[xr.DataArray] = []
    for i, spec in enumerate(recipe.evidence):
        if spec.regions is not None and region not in spec.regions:
            continue
        key = f"recipe {recipe.path}: evidence[{i}] ({spec.name})"
        func = functions[spec.function]
        try:
            data = reader.read(spec.source)
            data = _prepare(data, spec.source, reader.kind(spec.source), f"{key}.source")
            if _vocabulary_polygons(data, spec):
                data = _vocabulary_raster(data, grid, chunks)  # the codes and labels of GLiM
            kind = _input_kind(data)
            if kind not in func.inputs and not (kind == "points" and "vector" in func.inputs):
                raise RecipeError(
                    f"{key}.function: {spec.function!r} needs {' or '.join(func.inputs)} input, "
                    f"but {spec.source.datasets} gives {kind}"
                )
            built = func.build(data, grid, name=spec.name, chunks=chunks, **spec.params)
            for step in spec.transforms:
                tfunc = transforms[step.function][0]
                built = [tfunc(layer, **step.params) for layer in built]
        except RecipeError as exc:
            message = str(exc)
            raise RecipeError(
                message if message.startswith("recipe ") else f"{key}: {message}"
            ) from None
        except GeomapError as exc:
            raise RecipeError(f"{key}: {exc}") from exc
        for layer in built:
            layer.attrs["description"] = spec.description
            layers.append(layer)
    names = [str(layer.name) for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RecipeError(f"recipe {recipe.path}: layers {duplicates} are built twice; rename them")
    stack = xr.Dataset({str(layer.name): layer for layer in layers})
    stack["coverage"] = ev.coverage(layers)
    stack.attrs.update(
        {
            "geomap_recipe": recipe.id,
            "geomap_recipe_name": recipe.name,
            "geomap_region": region,
            "geomap_resolution_m": float(grid.resolution.x),
            "geomap_model": json.dumps(recipe.model_for(region).model_dump(exclude={"regions"})),
            "geomap_training": json.dumps(recipe.training.model_dump(exclude_none=True)),
            "geomap_sources": json.dumps(recipe.source_choices, sort_keys=True),
            "title": f"{recipe.name}: evidence for {region} at {grid.resolution.x:g} m",
        }
    )
    return stack


def audit_sites(frame: Any, spec: Any, key: str) -> Any:
    """Return ``frame`` with ``training`` and ``reason`` from a recipe's selection spec.

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences (with ``deposit_class`` and, when classified, its rule and confidence).
    spec : TrainingSpec or SourceSpec
        ``commodities``, ``exclude_commodities``, ``deposit_classes``,
        ``exclude_deposit_classes`` and ``where``.
    key : str
        Where the spec is, for error messages (``recipe x.yaml: training``).

    Returns
    -------
    GeoDataFrame
        The candidate rows (those matching ``commodities``), with ``training`` (bool) and
        ``reason`` (``"kept"`` or the first step that dropped the site).
    """
    import numpy as np
    import pandas as pd

    from geomap.harmonize.occurrences import select_commodities

    if spec.commodities:
        frame = frame.loc[np.asarray(select_commodities(frame, spec.commodities), dtype=bool)]
    out = frame.copy()
    n = len(out)
    reason = np.array(["kept"] * n, dtype=object)
    open_ = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, text: Any) -> None:
        hit = open_ & mask
        if isinstance(text, str):
            reason[hit] = text
        else:
            reason[hit] = np.asarray(text, dtype=object)[hit]
        open_[hit] = False

    if spec.exclude_commodities:
        mask = np.asarray(select_commodities(out, spec.exclude_commodities), dtype=bool)
        drop(mask, f"has an excluded commodity ({', '.join(spec.exclude_commodities)})")
    cls = _text(out["deposit_class"]).fillna("").to_numpy(dtype=object)
    rule = (
        out["deposit_class_rule"].astype("string").fillna("").to_numpy(dtype=object)
        if "deposit_class_rule" in out
        else np.array([""] * n, dtype=object)
    )
    conf = (
        out["deposit_class_confidence"].to_numpy(dtype=float)
        if "deposit_class_confidence" in out
        else np.full(n, np.nan)
    )
    typed = [
        f"deposit class {c!r}" + (f" (rule {r}, confidence {p:.2f})" if r else "")
        for c, r, p in zip(cls, rule, conf, strict=True)
    ]
    if spec.deposit_classes:
        mask = ~np.isin(cls, [c.lower() for c in spec.deposit_classes])
        drop(mask, [f"{t} is not one of {list(spec.deposit_classes)}" for t in typed])
    if spec.exclude_deposit_classes:
        mask = np.isin(cls, [c.lower() for c in spec.exclude_deposit_classes])
        drop(mask, [f"{t} is excluded by the recipe" for t in typed])
    if spec.where:
        kept = _apply_where(out, spec.where, key).index
        drop(~out.index.isin(kept), f"fails the recipe's where filter {dict(spec.where)}")
    out["training"] = open_
    out["reason"] = pd.array(reason.tolist(), dtype="string")
    return out


def training_candidates(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Return every site the recipe's training selection considered in a region.

    Parameters
    ----------
    recipe : Recipe, str or Path
        A loaded recipe, a recipe name from ``layers/`` or a YAML path.
    region : str
        A region the recipe supports.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    GeoDataFrame
        In the region's analysis CRS: the occurrence columns plus ``training`` (True for the
        sites that train and validate the model) and ``reason`` (the columns a reader needs
        are :data:`geomap.training.AUDIT_COLUMNS`); ``attrs["geomap_report"]`` is the
        occurrence reader's report.

    Raises
    ------
    RecipeError
        The region is not supported or a ``where`` column is unknown.
    """
    from geomap.catalog import load_catalog
    from geomap.io.occurrences import read_occurrences

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    if region not in recipe.regions:
        raise RecipeError(
            f"recipe {recipe.path}: region {region!r} is not supported; use one of "
            f"{', '.join(recipe.regions)}"
        )
    spec = recipe.training
    if spec.path is not None:
        from geomap.harmonize import to_region
        from geomap.io.user_data import read_user_sites

        region_obj = cat.region(region)
        sites, _ = read_user_sites(_user_path(recipe, spec.path), crs=spec.crs, region=region_obj)
        frame = to_region(sites, region_obj)
        if "deposit_class" not in frame.columns:  # the user's own class, when given, stands
            from geomap.harmonize.deposit_types import add_deposit_classes

            frame = add_deposit_classes(frame)
    else:
        datasets = spec.datasets or [
            d for d in recipe.datasets if cat.dataset(d).kind == "occurrences"
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            frame = read_occurrences(datasets, region=region, catalog=cat)
    out = audit_sites(frame, spec, f"recipe {recipe.path}: training")
    for column in ("deposit_class_rule", "sources", "state"):
        if column not in out.columns:
            out[column] = ""
    out = out.reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def training_occurrences(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Return the recipe's training occurrences in a region, in the region's analysis CRS.

    These are exactly the rows of :func:`training_candidates` (the training audit,
    :func:`geomap.training.training_audit`) marked ``training``.

    Raises
    ------
    RecipeError
        The region is not supported or a ``where`` column is unknown.
    """
    audit = training_candidates(recipe, region, catalog=catalog)
    out = audit.loc[audit["training"].to_numpy(dtype=bool)].reset_index(drop=True)
    out.attrs = dict(audit.attrs)
    return out
