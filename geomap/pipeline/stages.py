"""The cached stages of a build: evidence, training points, model, targets, context layers.

Each stage is a function ``(context, ...) -> product`` whose product is stored in the
:class:`~geomap.pipeline.cache.ProductCache` under a key made of everything it depends on:
the sha256 of every input file (from the catalog), the recipe's relevant parts, the grid,
the model parameters and the random seed.  A second build with the same inputs reads every
product back; change one parameter and only the products that depend on it are recomputed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from geomap.catalog import Catalog
from geomap.pipeline.cache import (
    ProductCache,
    load_dataset,
    load_frame,
    save_dataset,
    save_frame,
)
from geomap.pipeline.settings import BuildSettings

__all__ = [
    "BuildContext",
    "ModelProducts",
    "admin_areas",
    "audit_stage",
    "evidence_stage",
    "model_stage",
    "occurrences_stage",
    "stage_inputs",
    "targets_stage",
    "training_stage",
    "vector_stage",
]

CONTEXT_DATASETS = {
    "faults": "gem-global-active-faults-2017",
    "geology": "hasterok-global-geologic-provinces",
    "countries": "natural-earth",
    "prefectures": "japan-prefectures-globalmap",
}
"""Datasets shown for context on every map and in every GeoPackage."""


@dataclass
class BuildContext:
    """What every stage of one build needs: recipe, region, grid settings, cache, catalog."""

    recipe: Any
    region: Any
    resolution_m: float
    catalog: Catalog
    cache: ProductCache
    chunks: Any = None
    random_state: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    progress: bool = False

    def dataset_hashes(self, dataset_ids: list[str]) -> dict[str, dict[str, str | None]]:
        """Return the file hashes of the given datasets (what a product's key depends on).

        Online-only official sources have no catalog sha256; the hash recorded at their
        download stands in, so a re-fetched (changed) file gives new products.
        """
        from geomap.fetching import _expected_hash

        return {
            dataset_id: {
                f.path: f.sha256 or _expected_hash(f)
                for f in self.catalog.dataset(dataset_id).files
            }
            for dataset_id in sorted(set(dataset_ids))
        }

    def dataset_saver(self, label: str) -> Callable[[Any, Path], None]:
        """Return the saver of raster products (block by block, with progress, when chunked)."""
        progress = label if self.progress and self.chunks is not None else None
        return functools.partial(save_dataset, progress=progress)

    def dataset_loader(self) -> Callable[[Path], xr.Dataset]:
        """Return the loader of raster products (lazy, in this build's chunks, when chunked)."""
        return functools.partial(load_dataset, chunks=self.chunks)

    def grid_inputs(self) -> dict[str, Any]:
        """Return the grid part of every key."""
        return {
            "region": self.region.model_dump(mode="json"),
            "resolution_m": self.resolution_m,
        }


def stage_inputs(context: BuildContext, **extra: Any) -> dict[str, Any]:
    """Return the common key inputs of a stage plus ``extra``."""
    return {**context.grid_inputs(), **extra}


# ---- evidence ------------------------------------------------------------------------------


def evidence_stage(context: BuildContext) -> xr.Dataset:
    """Build (or read back) the evidence stack with its coverage layer."""
    from geomap.recipes import build_evidence

    recipe = context.recipe
    layers = [spec.model_dump(mode="json") for spec in recipe.layers_for(context.region.id)]
    datasets = sorted(
        {d for spec in recipe.layers_for(context.region.id) for d in spec.source.datasets}
    )
    inputs = stage_inputs(context, layers=layers, datasets=context.dataset_hashes(datasets))
    stack, key = context.cache.get_or_compute(
        "evidence",
        inputs,
        lambda: build_evidence(
            recipe,
            context.region.id,
            context.resolution_m,
            chunks=context.chunks,
            catalog=context.catalog,
        ),
        save=context.dataset_saver("evidence blocks"),
        load=context.dataset_loader(),
    )
    context.keys["evidence"] = key
    return stack


# ---- training occurrences ------------------------------------------------------------------


def audit_stage(context: BuildContext) -> gpd.GeoDataFrame:
    """Return the training audit: every site considered, kept or dropped and why."""
    from geomap.io.occurrences import occurrence_dataset_ids
    from geomap.training import training_audit

    training = context.recipe.training
    datasets = training.datasets or occurrence_dataset_ids(context.catalog)
    inputs = stage_inputs(
        context,
        training=training.model_dump(mode="json"),
        datasets=context.dataset_hashes(datasets),
    )
    frame, key = context.cache.get_or_compute(
        "training-audit",
        inputs,
        lambda: training_audit(context.recipe, context.region.id, catalog=context.catalog),
        save=save_frame,
        load=load_frame,
    )
    context.keys["training-audit"] = key
    return frame


def training_stage(
    context: BuildContext, audit: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Return the recipe's training occurrences in the region CRS (the audit's kept sites)."""
    if audit is None:
        audit = audit_stage(context)
    frame = audit.loc[audit["training"].to_numpy(dtype=bool)].reset_index(drop=True)
    frame.attrs = dict(audit.attrs)
    context.keys["training"] = context.keys["training-audit"]
    return frame


# ---- model ---------------------------------------------------------------------------------


@dataclass
class ModelProducts:
    """What the model stage leaves behind (everything serialisable; no fitted estimator)."""

    prediction: xr.Dataset
    metrics: dict[str, Any]
    validation: dict[str, Any]
    model_table: pd.DataFrame
    model_name: str


def _save_model(
    products: ModelProducts, folder: Path, *, save: Callable[[Any, Path], None] = save_dataset
) -> None:
    save(products.prediction, folder)
    (folder / "metrics.json").write_text(
        json.dumps(products.metrics, sort_keys=True), encoding="utf-8"
    )
    (folder / "validation.json").write_text(
        json.dumps(products.validation, sort_keys=True), encoding="utf-8"
    )
    table = products.model_table.copy()
    for column in table.columns:
        if table[column].dtype == object:
            table[column] = table[column].astype(str)
    table.to_parquet(folder / "model_table.parquet")
    (folder / "model_name.txt").write_text(products.model_name, encoding="utf-8")


def _load_model(
    folder: Path, *, load: Callable[[Path], xr.Dataset] = load_dataset
) -> ModelProducts:
    return ModelProducts(
        prediction=load(folder),
        metrics=json.loads((folder / "metrics.json").read_text(encoding="utf-8")),
        validation=json.loads((folder / "validation.json").read_text(encoding="utf-8")),
        model_table=pd.read_parquet(folder / "model_table.parquet"),
        model_name=(folder / "model_name.txt").read_text(encoding="utf-8"),
    )


def model_stage(
    context: BuildContext,
    stack: xr.Dataset,
    training: gpd.GeoDataFrame,
    *,
    settings: BuildSettings,
) -> ModelProducts:
    """Fit, validate and predict the recipe's model (or read the results back).

    The model, its parameters and the validation settings come from ``settings``; the
    region, grid, chunks and seed from ``context``.
    """
    from geomap.pipeline.model_stage import effective_mode, model_region

    recipe = context.recipe
    default = recipe.model_for(context.region.id)
    name = settings.model or default.name
    mode = effective_mode(recipe, settings.mode)
    # greenfield keeps the cache key it always had; brownfield is a different model
    brownfield = {"mode": mode} if mode != "greenfield" else {}
    effective = (
        settings.params
        if settings.params is not None
        else (dict(default.params) if name == default.name else {})
    )
    inputs = stage_inputs(
        context,
        evidence=context.keys["evidence"],
        training=context.keys["training"],
        model=name,
        params=effective,
        n_splits=settings.n_splits,
        max_cells=settings.max_cells,
        random_state=context.random_state,
        validation={
            "block_size_m": settings.block_size_m,
            "buffer_m": settings.buffer_m,
            "study_area": settings.study_area,
            "test_regions": list(settings.test_regions),
            "normalize": settings.normalize,
        },
        **brownfield,
    )

    def compute() -> ModelProducts:
        result = model_region(
            recipe,
            context.region.id,
            settings,
            model=name,
            params=effective,
            resolution_m=context.resolution_m,
            chunks=context.chunks,
            random_state=context.random_state,
            catalog=context.catalog,
            stack=stack,
            training=training,
            leave_one_out=True,  # the build runs the hold-outs (geomap.models.holdout)
            mode=mode,
        )
        return ModelProducts(
            prediction=result.prediction,  # lazy when chunked: computed block by block on save
            metrics=result.metrics(),
            validation=result.validation.to_dict(),
            model_table=result.model_table(),
            model_name=name,
        )

    products, key = context.cache.get_or_compute(
        "model",
        inputs,
        compute,
        save=functools.partial(_save_model, save=context.dataset_saver("prediction blocks")),
        load=functools.partial(_load_model, load=context.dataset_loader()),
    )
    context.keys["model"] = key
    return products


# ---- context layers: occurrences, faults, geology, boundaries ------------------------------


def occurrences_stage(context: BuildContext) -> gpd.GeoDataFrame:
    """Return known occurrences of the recipe's commodities in the region (maps, targets)."""
    from geomap.io.occurrences import occurrence_dataset_ids, read_occurrences

    datasets = occurrence_dataset_ids(context.catalog)
    inputs = stage_inputs(
        context,
        commodities=list(context.recipe.commodities),
        countries=list(context.region.countries),
        datasets=context.dataset_hashes(datasets),
    )
    frame, key = context.cache.get_or_compute(
        "occurrences",
        inputs,
        lambda: read_occurrences(
            region=context.region.id,
            country=list(context.region.countries),  # not the neighbours inside the bbox
            commodities=list(context.recipe.commodities),
            catalog=context.catalog,
        ),
        save=save_frame,
        load=load_frame,
    )
    context.keys["occurrences"] = key
    return frame


def _read_clipped(context: BuildContext, dataset_id: str, layer: str | None) -> gpd.GeoDataFrame:
    from geomap.io import read

    return read(dataset_id, region=context.region.id, layer=layer, catalog=context.catalog)


def vector_stage(
    context: BuildContext, name: str, dataset_id: str, layer: str | None = None
) -> gpd.GeoDataFrame:
    """Return a context vector layer clipped to the region, in its CRS."""
    inputs = stage_inputs(context, dataset=context.dataset_hashes([dataset_id]), layer=layer)
    frame, key = context.cache.get_or_compute(
        f"context-{name}",
        inputs,
        lambda: _read_clipped(context, dataset_id, layer),
        save=save_frame,
        load=load_frame,
    )
    context.keys[f"context-{name}"] = key
    return frame


def admin_areas(context: BuildContext) -> gpd.GeoDataFrame:
    """Country and state/prefecture polygons of the region, columns ``country`` and ``state``.

    The finest level available is used for each country (Japanese prefectures; Natural Earth
    admin-1 for the US, Canada, Australia and Brazil), country outlines for the others, so
    the polygons do not overlap and each target gets one country and one state.
    """
    countries = vector_stage(context, "countries", "natural-earth", "50m_admin_0_countries")
    parts: list[gpd.GeoDataFrame] = []
    finer: set[str] = set()
    if "JPN" in context.region.countries:
        prefectures = vector_stage(context, "prefectures", "japan-prefectures-globalmap")
        parts.append(_admin_frame(prefectures, "Japan", prefectures["name"]))
        finer.add("JPN")
    states = vector_stage(context, "states", "natural-earth", "50m_admin_1_states_provinces")
    if len(states):
        states = states[~states["adm0_a3"].isin(finer)]
        parts.append(_admin_frame(states, states["admin"], states["name"]))
        finer.update(states["adm0_a3"].unique())
    rest = countries[~countries["ADM0_A3"].isin(finer)]
    parts.append(_admin_frame(rest, rest["ADMIN"], ""))
    crs = countries.crs
    return gpd.GeoDataFrame(pd.concat([p.to_crs(crs) for p in parts], ignore_index=True), crs=crs)


def _admin_frame(frame: gpd.GeoDataFrame, country: Any, state: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"country": country, "state": state}, geometry=frame.geometry.values, crs=frame.crs
    )


def targets_stage(
    context: BuildContext,
    products: ModelProducts,
    occurrences: gpd.GeoDataFrame,
    admin: gpd.GeoDataFrame,
    *,
    top_percent: float | None,
    min_area_km2: float,
    threshold: float | None = None,
    n_layers: int | None = None,
    max_target_km2: float | None = None,
    max_targets: int | None = None,
) -> gpd.GeoDataFrame:
    """Return ranked target polygons from the prospectivity surface.

    The targets are the top ``top_percent`` % of the area with data, or every cell with
    prospectivity >= ``threshold`` (exactly one of the two is given; see
    :func:`geomap.targets.select_targets`).
    """
    from geomap.harmonize.commodities import expand_selector
    from geomap.targets import select_targets

    codes = sorted(
        {c for selector in context.recipe.commodities for c in expand_selector(selector)}
    )
    inputs = stage_inputs(
        context,
        model=context.keys["model"],
        occurrences=context.keys.get("occurrences"),
        admin=[context.keys.get(f"context-{n}") for n in ("countries", "states", "prefectures")],
        top_percent=top_percent,
        min_area_km2=min_area_km2,
        n_layers=n_layers,
        commodities=codes,
        threshold=threshold,
        max_target_km2=max_target_km2,
        max_targets=max_targets,
    )
    prediction = products.prediction

    def compute() -> gpd.GeoDataFrame:
        coverage = prediction.get("coverage")
        return select_targets(
            prediction["prospectivity"],
            top_percent=top_percent,
            threshold=threshold,
            min_area_km2=min_area_km2,
            uncertainty=prediction.get("uncertainty"),
            coverage=coverage,
            n_layers=n_layers or _n_layers(coverage),
            occurrences=occurrences,
            commodities=codes,
            admin_areas=admin,
            max_target_km2=max_target_km2,
            max_targets=max_targets,
        )

    frame, key = context.cache.get_or_compute(
        "targets", inputs, compute, save=save_frame, load=load_frame
    )
    context.keys["targets"] = key
    return frame


def _n_layers(coverage: xr.DataArray | None) -> int | None:
    if coverage is None:
        return None
    layers = coverage.attrs.get("geomap_layers")
    if isinstance(layers, str):
        try:
            return len(json.loads(layers))
        except json.JSONDecodeError:
            return None
    return len(layers) if isinstance(layers, list) else None
