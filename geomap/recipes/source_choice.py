"""Which source a recipe layer uses (its list of preferences) and the user's own data."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomap.errors import RecipeError

if TYPE_CHECKING:
    from geomap.catalog import Catalog

from geomap.recipes.loading import _user_path, load_recipe
from geomap.recipes.schema import _NAME, LayerSpec, Recipe, SourceSpec, TrainingSpec


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
