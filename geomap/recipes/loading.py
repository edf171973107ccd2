"""Finding, loading and validating recipes: every problem one ``RecipeError`` (file, key)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from geomap.errors import GeomapError, RecipeError, UnknownNameError

if TYPE_CHECKING:
    from geomap.catalog import Catalog

from geomap.recipes.functions import _functions, _transforms
from geomap.recipes.schema import LayerSpec, Recipe, SourceSpec

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
