"""Building a recipe's evidence stack for one region and resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from geomap.errors import GeomapError, RecipeError

if TYPE_CHECKING:
    import xarray as xr

    from geomap.catalog import Catalog
    from geomap.grid import Chunks

from geomap.recipes.functions import _functions, _transforms
from geomap.recipes.loading import load_recipe
from geomap.recipes.reading import (
    _input_kind,
    _prepare,
    _Reader,
    _vocabulary_polygons,
    _vocabulary_raster,
)
from geomap.recipes.schema import Recipe
from geomap.recipes.source_choice import resolve_sources


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
