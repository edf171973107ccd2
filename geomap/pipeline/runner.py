"""``geomap build``: a recipe end to end, from the catalog to the files a survey team shares.

Stages: catalog -> fetch -> ingest -> evidence -> model (with spatial validation) ->
targets -> outputs.  Every intermediate product is cached by the hash of its inputs
(:mod:`geomap.pipeline.cache`), so a second run with one changed parameter recomputes
only what depends on it, and an interrupted run resumes from the finished products.
The output folder appears complete or not at all.

Examples
--------
>>> from geomap.pipeline import build
>>> result = build("kuroko-vms", region="japan", out="vms-japan")  # doctest: +SKIP
>>> result.files["map.html"]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
from tqdm import tqdm

from geomap.catalog import Catalog, load_catalog
from geomap.core.atomic import atomic_dir
from geomap.core.output_guard import check_output_path, check_replaceable, output_lock
from geomap.errors import RecipeError
from geomap.pipeline import stages
from geomap.pipeline.cache import ProductCache, cache_root
from geomap.pipeline.outputs import (
    BuildLayers,
    file_hashes,
    with_centroids,
    write_json,
    write_rasters,
    write_tables,
)
from geomap.pipeline.plan import check_plan
from geomap.pipeline.settings import BuildSettings, settings_from
from geomap.pipeline.trust import validation_lines
from geomap.targets import DEFAULT_MAX_TARGET_KM2, DEFAULT_MAX_TARGETS
from geomap.training import audit_layer, audit_markdown, flag_training, mark_study_area

__all__ = ["STAGES", "BuildResult", "BuildState", "build", "run_stages", "write_outputs"]

STAGES = ("catalog", "fetch", "ingest", "evidence", "model", "targets", "stability", "outputs")
"""The stages, in order; progress is reported per stage."""


@dataclass
class BuildState:
    """The products of every stage up to the targets (before anything is written)."""

    context: stages.BuildContext
    layers: BuildLayers
    model: stages.ModelProducts
    datasets: list[str]
    settings: dict[str, Any]

    @property
    def recipe(self) -> Any:
        """The recipe."""
        return self.context.recipe

    @property
    def region(self) -> Any:
        """The catalog region."""
        return self.context.region


@dataclass
class BuildResult:
    """What :func:`build` wrote, with the headline numbers.

    ``settings`` holds the build's parameters as recorded in ``manifest.json``
    (resolution, model, target selection, seed, ...).
    """

    recipe: str
    region: str
    out: Path
    files: dict[str, Path]
    metrics: dict[str, Any]
    targets: gpd.GeoDataFrame
    cache_hits: list[str] = field(default_factory=list)
    cache_misses: list[str] = field(default_factory=list)
    cache_damaged: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def _held_out_auc(self) -> str:
        auc = self.metrics.get("spatial_cv", {}).get("auc", {}).get("held_out")
        return f"{auc:.3f}" if isinstance(auc, int | float) else "n/a"

    def _cells(self) -> str:
        resolution = self.settings.get("resolution_m")
        return f"{resolution / 1000:g} km cells" if resolution else "cells of unknown size"

    def __repr__(self) -> str:
        return (
            f"<BuildResult {self.recipe} / {self.region}, {self._cells()} -> {self.out}: "
            f"held-out AUC {self._held_out_auc()}; {len(self.targets)} targets; "
            f"{len(self.files)} files>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(f"<li>{escape(name)}</li>" for name in sorted(self.files))
        return (
            f"<b>geomap build</b> {escape(self.recipe)} / {escape(self.region)}, "
            f"{escape(self._cells())} &rarr; <code>{escape(str(self.out))}</code><br>"
            f"held-out AUC: {self._held_out_auc()}; "
            f"{len(self.targets)} targets; cache: {len(self.cache_hits)} hits, "
            f"{len(self.cache_misses)} computed<details><summary>{len(self.files)} files"
            f"</summary><ul>{rows}</ul></details>{_inline_map(self.files)}"
        )


def _inline_map(files: Mapping[str, Path]) -> str:
    """Return the build's interactive map in an iframe (offline page), or "" without one."""
    from geomap.render.explore import files_map_html

    return files_map_html(files)


class _Progress:
    """A progress bar over the stages (silent when disabled)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = tqdm(
            total=len(STAGES), desc=label, unit="stage", disable=not enabled, leave=True
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        yield
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _resolve(recipe: Any, settings: BuildSettings, catalog: Catalog) -> tuple[Any, Any, float]:
    from geomap.recipes import load_recipe

    loaded = load_recipe(recipe, catalog=catalog) if not hasattr(recipe, "evidence") else recipe
    region_id = settings.region or loaded.regions[0]
    if region_id not in loaded.regions:
        catalog.region(region_id)  # unknown region: the catalog's error names the close ids
        raise RecipeError(
            f"recipe {loaded.id!r} does not support region {region_id!r}; "
            f"choose one of {', '.join(loaded.regions)} (--region)"
        )
    region_obj = catalog.region(region_id)
    return loaded, region_obj, settings.resolution_for(region_obj)


def run_stages(
    recipe: Any,
    settings: BuildSettings | None = None,
    *,
    catalog: Catalog | None = None,
    progress: _Progress | None = None,
    **options: Any,
) -> BuildState:
    """Run (or read from the cache) every stage up to the targets.

    Parameters
    ----------
    recipe : str, Path or Recipe
        A recipe name from ``layers/``, a path to a recipe file, or a loaded recipe.
    settings : BuildSettings, optional
        The run's settings (default: :class:`BuildSettings` defaults).
    catalog : Catalog, optional
        Defaults to the project catalog.
    progress : optional
        The progress bar of :func:`build` (silent when not given).
    **options
        Fields of :class:`BuildSettings` replacing those of ``settings``.

    Returns
    -------
    BuildState

    Raises
    ------
    ParameterError
        An unknown option, both ``top_percent`` and ``threshold`` given, or either out of
        range (checked before any work).
    """
    from geomap.fetching import fetch
    from geomap.recipes import resolve_sources

    run = settings_from(settings, options)
    top_percent, threshold = run.target_rule()
    max_target = DEFAULT_MAX_TARGET_KM2 if run.max_target_km2 is None else float(run.max_target_km2)
    max_targets = DEFAULT_MAX_TARGETS if run.max_targets is None else int(run.max_targets)
    progress = progress or _Progress("", enabled=False)
    cat = catalog or load_catalog()
    with progress.stage("catalog"):
        loaded, region_obj, resolution = _resolve(recipe, run, cat)
        loaded = resolve_sources(loaded, region_obj.id, catalog=cat)  # best source present
        store = Path(run.cache_dir) if run.cache_dir else cache_root()
        check_plan(  # cells, memory, disk, blocks and seed: before any allocation
            loaded,
            region_obj,
            resolution,
            chunks=run.chunks,
            random_state=run.random_state,
            store=store if run.use_cache else None,
        )
        cache = ProductCache(store, enabled=run.use_cache)
        context = stages.BuildContext(
            recipe=loaded,
            region=region_obj,
            resolution_m=resolution,
            catalog=cat,
            cache=cache,
            chunks=run.chunks,
            random_state=run.random_state,
            progress=progress.enabled,
        )
        context_ids = list(stages.CONTEXT_DATASETS.values())
        training_ids = loaded.training.datasets or []
        datasets = list(dict.fromkeys([*loaded.datasets, *training_ids, *context_ids]))
    with progress.stage("fetch"):
        for dataset_id in datasets:
            fetch(dataset_id, catalog=cat)
    with progress.stage("ingest"):
        audit = stages.audit_stage(context)
        training = stages.training_stage(context, audit)
        occurrences = flag_training(stages.occurrences_stage(context), audit)
        faults = stages.vector_stage(context, "faults", stages.CONTEXT_DATASETS["faults"])
        geology = stages.vector_stage(
            context, "geology", stages.CONTEXT_DATASETS["geology"], "provinces"
        )
        admin = stages.admin_areas(context)
    with progress.stage("evidence"):
        stack = stages.evidence_stage(context)
    with progress.stage("model"):
        products = stages.model_stage(context, stack, training, settings=run)
        # the audit's training sites are exactly those the model used (inside the study area)
        audit = mark_study_area(
            audit, products.prediction["prospectivity"], countries=context.region.countries
        )
        occurrences = flag_training(occurrences, audit)
    cell_km2 = resolution * resolution / 1e6
    min_area = 2 * cell_km2 if run.min_area_km2 is None else float(run.min_area_km2)
    with progress.stage("targets"):
        targets = stages.targets_stage(
            context,
            products,
            occurrences,
            admin,
            top_percent=top_percent,
            threshold=threshold,
            min_area_km2=min_area,
            max_target_km2=max_target,
            max_targets=max_targets,
            n_layers=sum(
                v.attrs.get("geomap_role") == "evidence" for v in stack.data_vars.values()
            ),
        )
        listing = dict(targets.attrs.get("geomap_targets", {}))
        targets = with_centroids(targets)
    stable = None
    if run.stability and len(targets):
        from geomap.pipeline.cache import load_json, save_json
        from geomap.pipeline.trust import stability_check

        with progress.stage("stability"):
            stable, key = context.cache.get_or_compute(
                "stability",
                stages.stage_inputs(context, targets=context.keys["targets"]),
                lambda: stability_check(
                    loaded,
                    region_obj.id,
                    resolution,
                    targets,
                    model=products.model_name,
                    params=run.params,
                    top_percent=top_percent,
                    threshold=threshold,
                    min_area_km2=min_area,
                    max_target_km2=max_target,
                    random_state=run.random_state,
                    catalog=cat,
                    mode=run.mode,
                ),
                save=save_json,
                load=load_json,
            )
            context.keys["stability"] = key
    from geomap.pipeline.model_stage import effective_mode

    recorded = {
        "recipe": loaded.id,
        "region": region_obj.id,
        "resolution_m": resolution,
        "model": products.model_name,
        "params": run.params,
        "mode": effective_mode(loaded, run.mode),
        "top_percent": top_percent,
        "threshold": threshold,
        "min_area_km2": min_area,
        "max_target_km2": max_target,
        "max_targets": max_targets,
        "max_piece_km2": listing.get("max_piece_km2"),
        "targets_not_listed": int(listing.get("not_listed") or 0),
        "targets_not_listed_km2": float(listing.get("not_listed_area_km2") or 0.0),
        "n_splits": run.n_splits,
        "max_cells": run.max_cells,
        "chunks": run.chunks,
        "random_state": run.random_state,
        "sources": loaded.source_choices,
    }
    layers = BuildLayers(
        stack=stack,
        prediction=products.prediction,
        targets=targets,
        occurrences=occurrences,
        training=training,
        faults=faults,
        geology=geology,
        boundaries={"admin_areas": admin},
        audit=audit,
        stability=stable,
    )
    return BuildState(
        context=context, layers=layers, model=products, datasets=datasets, settings=recorded
    )


def _recipe_sha256(recipe: Any) -> str | None:
    path = Path(recipe.path) if getattr(recipe, "path", "") else None
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else None


def write_outputs(
    state: BuildState, folder: Path, *, parts: frozenset[str] = frozenset({"all"})
) -> dict[str, Path]:
    """Write the requested outputs of a build into ``folder`` (which must exist).

    ``parts`` names what to write: ``cog``, ``tables``, ``png``, ``gpkg``, ``map``, ``report``
    (metrics, report and manifest), or ``all``; ``gpx`` and ``kml`` (targets and occurrences
    for field GPS and Google Earth) only when named.
    """
    from geomap.export.gpkg import export_geopackage
    from geomap.models.validation_report import ValidationReport
    from geomap.pipeline.end_use import end_use_markdown, end_use_record
    from geomap.pipeline.manifest import dataset_provenance, software_versions
    from geomap.pipeline.report import build_report, layer_summary
    from geomap.render import figures
    from geomap.render.maps import prospectivity_map

    def wanted(part: str) -> bool:
        return "all" in parts or part in parts

    recipe, region, layers = state.recipe, state.region, state.layers
    cat = state.context.catalog
    files: dict[str, Path] = {}
    layer_table = layer_summary(state.layers.stack)
    title = f"{recipe.name} — {region.name}"
    parameters = {**state.settings, "recipe_sha256": _recipe_sha256(recipe)}
    if wanted("cog"):
        block_progress = state.context.progress and state.context.chunks is not None
        files.update(
            {
                f"{k}.tif": v
                for k, v in write_rasters(folder, layers, progress=block_progress).items()
            }
        )
    if wanted("tables"):
        files.update(
            write_tables(
                folder,
                targets=layers.targets,
                model_table=state.model.model_table,
                model_name=state.model.model_name,
                validation=state.model.validation,
                layer_table=layer_table,
            )
        )
    if wanted("png"):
        (folder / "figures").mkdir(exist_ok=True)
        report = ValidationReport.from_dict(state.model.validation)
        curves_png = folder / "figures" / "validation_curves.png"
        figures.plot_validation_curves(
            report, curves_png, title=title, datasets=state.datasets, catalog=cat
        )
        files["figures/validation_curves.png"] = curves_png
        figures.plot_prospectivity(
            layers.prediction["prospectivity"],
            folder / "figures" / "prospectivity.png",
            occurrences=layers.training,
            occurrences_label="Training occurrences",
            targets=layers.targets,
            title=title,
            datasets=state.datasets,
            catalog=cat,
        )
        files["figures/prospectivity.png"] = folder / "figures" / "prospectivity.png"
    if wanted("gpkg"):
        path = folder / f"{recipe.id}.gpkg"
        export_geopackage(
            path,
            occurrences=layers.occurrences,
            faults=layers.faults,
            geology=layers.geology,
            boundaries=layers.boundaries,
            targets=layers.targets,
            prospectivity=layers.prediction["prospectivity"],
            uncertainty=layers.prediction.get("uncertainty"),
            coverage=layers.prediction.get("coverage"),
            evidence=layers.evidence(),
            datasets=state.datasets,
            parameters=parameters,
            catalog=cat,
            training_sites=audit_layer(layers.audit) if layers.audit is not None else None,
        )
        files[path.name] = path
        files[path.with_suffix(".qgs").name] = path.with_suffix(".qgs")
    field = [f for f in ("gpx", "kml") if f in parts]  # on request only, not in "all"
    if field:
        from geomap.export.field import write_field_files

        files.update(
            write_field_files(
                folder, targets=layers.targets, occurrences=layers.occurrences, formats=field
            )
        )
    if wanted("map"):
        path = folder / "map.html"
        prospectivity_map(
            layers.prediction["prospectivity"],
            uncertainty=layers.prediction.get("uncertainty"),
            coverage=layers.prediction.get("coverage"),
            occurrences=layers.occurrences,
            faults=layers.faults,
            geology=layers.geology,
            targets=layers.targets,
            evidence=layers.evidence(),
            region=region,
            datasets=state.datasets,
            title=title,
            subtitle=(
                f"model {state.model.model_name}, "
                f"{state.settings['resolution_m'] / 1000:g} km cells"
            ),
            path=path,
            catalog=cat,
            training_sites=layers.audit,
        )
        files["map.html"] = path
    if wanted("report"):
        provenance = dataset_provenance(cat, state.datasets)
        attribution = cat.attribution(state.datasets)
        metrics = {**state.model.metrics, "targets": _targets_summary(layers.targets)}
        if layers.stability is not None:
            metrics["target_stability"] = layers.stability
        files["metrics.json"] = write_json(folder / "metrics.json", metrics)
        text = build_report(
            recipe=recipe,
            region=region,
            resolution_m=state.settings["resolution_m"],
            model_name=state.model.model_name,
            metrics=state.model.metrics,
            layers=layer_table,
            targets=layers.targets,
            coverage=layers.prediction.get("coverage"),
            datasets=provenance,
            attribution=attribution,
            settings=state.settings,
            classes=_map_classes(layers.prediction.get("prospectivity")),
        )
        from geomap.models.baselines import control_commodities
        from geomap.pipeline.trust import stability_section, validation_section

        section = validation_section(
            state.model.metrics, control=", ".join(control_commodities(recipe.commodities))
        )
        section += "\n" + stability_section(layers.stability)
        text = text.rstrip("\n") + "\n\n" + section + "\n" + audit_markdown(layers.audit)
        end_use = end_use_record(recipe, region.id)
        if end_use is not None:
            text = text.rstrip("\n") + "\n\n" + end_use_markdown(end_use)
        report_path = folder / "report.md"
        report_path.write_text(text, encoding="utf-8")
        files["report.md"] = report_path
        manifest = {
            "geomap_manifest": 1,
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "recipe": {"id": recipe.id, "path": recipe.path, "sha256": _recipe_sha256(recipe)},
            "parameters": state.settings,
            "random_seeds": {"model_and_sampling": state.settings["random_state"]},
            "datasets": provenance,
            "software": software_versions(),
            "cache_keys": dict(state.context.keys),
            "outputs": file_hashes(folder),
        }
        if end_use is not None:
            manifest["end_use"] = end_use
        files["manifest.json"] = write_json(folder / "manifest.json", manifest)
    return files


def _map_classes(prospectivity: Any) -> Any:
    """Return the prospectivity classes the products draw (None without a surface)."""
    if prospectivity is None:
        return None
    from geomap.classes import area_share_classes

    return area_share_classes(prospectivity)


def _targets_summary(targets: gpd.GeoDataFrame) -> dict[str, Any]:
    return {
        "count": len(targets),
        "total_area_km2": float(targets["area_km2"].sum()) if len(targets) else 0.0,
        "selection": targets.attrs.get("geomap_targets", {}),
    }


def default_out(recipe_id: str, region_id: str) -> Path:
    """Where a build writes when no ``out`` is given: ``geomap-out/<recipe>-<region>``."""
    return Path("geomap-out") / f"{recipe_id}-{region_id}"


def build(
    recipe: Any,
    settings: BuildSettings | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    catalog: Catalog | None = None,
    **options: Any,
) -> BuildResult:
    """Run a recipe end to end and write its output folder.

    Parameters
    ----------
    recipe : str, Path or Recipe
        A recipe name from ``layers/``, a path to a recipe file, or a loaded recipe.
    settings : BuildSettings, optional
        Region, resolution, model, validation, targets, Dask and cache settings (default:
        the :class:`~geomap.pipeline.settings.BuildSettings` defaults: the recipe's first
        region and model, about 150,000 cells, the top 2 % of the area as targets).
    out : path-like, optional
        Output folder (default ``geomap-out/<recipe>-<region>``).  It must not exist unless
        ``overwrite`` is true; it appears only when complete.
    overwrite : bool, default False
        Replace an existing output folder (after the new one is complete).
    progress : bool, default True
        Show a progress bar per stage (tqdm), one over the blocks of each block-wise step
        when chunked, and, on a Dask cluster, print the link to its dashboard (the
        task-level view).
    catalog : Catalog, optional
        Defaults to the project catalog.
    **options
        Any field of :class:`~geomap.pipeline.settings.BuildSettings`, replacing the one in
        ``settings``: ``region``, ``resolution_m``, ``model``, ``params``, ``top_percent``,
        ``threshold``, ``min_area_km2``, ``n_splits``, ``max_cells``, ``chunks``,
        ``scheduler``, ``random_state``, ``use_cache``, ``cache_dir``, ...  With ``chunks``,
        intermediate products are stored block by block and read back lazily; the model is
        fitted on at most ``max_cells`` cells.

    Returns
    -------
    BuildResult

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false (checked before any work).
    RecipeError
        Unknown recipe, or a region the recipe does not support.
    ParameterError
        Both ``top_percent`` and ``threshold`` given, either out of range, or a
        ``scheduler`` address that does not answer; an unknown option (checked before any
        work).
    """
    from geomap.pipeline.scheduler import dask_scheduler, parse_scheduler

    run = settings_from(settings, options)
    run.target_rule()
    cat = catalog or load_catalog()
    loaded, region_obj, resolution = _resolve(recipe, run, cat)
    if parse_scheduler(run.scheduler) is not None and run.chunks is None:
        run = BuildSettings.from_options(run, chunks="auto")
    check_plan(
        loaded,
        region_obj,
        resolution,
        chunks=run.chunks,
        random_state=run.random_state,
        store=(Path(run.cache_dir) if run.cache_dir else cache_root()) if run.use_cache else None,
    )
    target = check_output_path(out) if out is not None else default_out(loaded.id, region_obj.id)
    check_replaceable(target, overwrite=overwrite)  # before any work; again at the rename
    bar = _Progress(f"{loaded.id}/{region_obj.id}", progress)
    try:
        with (
            output_lock(target),  # a second build into the same folder fails at once
            dask_scheduler(run.scheduler) as client,
            warnings.catch_warnings(),
        ):
            if client is not None and progress:
                bar.bar.write(f"Dask dashboard: {client.dashboard_link}")
            warnings.simplefilter("default")
            warnings.filterwarnings("ignore", category=PendingDeprecationWarning)  # affine's `*`
            state = run_stages(
                loaded,
                BuildSettings.from_options(run, region=region_obj.id),
                catalog=cat,
                progress=bar,
            )
            try:
                with bar.stage("outputs"), atomic_dir(target, overwrite=overwrite) as tmp:
                    written = write_outputs(state, tmp)
            finally:
                state.context.cache.close()  # scratch products of a build without cache
    finally:
        bar.close()
    files = {name: target / path.relative_to(tmp) for name, path in written.items()}
    metrics = json.loads((target / "metrics.json").read_text(encoding="utf-8"))
    return BuildResult(
        recipe=loaded.id,
        region=region_obj.id,
        out=target,
        files=files,
        metrics=metrics,
        targets=state.layers.targets,
        cache_hits=list(state.context.cache.hits),
        cache_misses=list(state.context.cache.misses),
        cache_damaged=list(state.context.cache.damaged),
        settings=dict(state.settings),
    )


def summary_lines(result: BuildResult) -> list[str]:
    """Short text summary of a build (CLI and notebooks)."""
    auc: Mapping[str, Any] = result.metrics.get("spatial_cv", {}).get("auc", {})
    held_out = auc.get("held_out")
    mode = result.metrics.get("settings", {}).get("mode")
    return [
        f"{result.recipe} / {result.region}"
        + (" (brownfield: proximity to known sites is evidence)" if mode == "brownfield" else "")
        + f" -> {result.out}",
        f"  held-out AUC {held_out:.3f}" if isinstance(held_out, float) else "  held-out AUC n/a",
        *validation_lines(result.metrics),
        f"  {len(result.targets)} targets; cache {len(result.cache_hits)} hits, "
        f"{len(result.cache_misses)} computed",
        *(f"  cache entry damaged, recomputed: {what}" for what in result.cache_damaged),
        *(
            f"  {name}"
            for name in ("map.html", f"{result.recipe}.gpkg", "report.md")
            if name in result.files
        ),
    ]
