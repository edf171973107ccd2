"""One recipe, one region, one model: evidence -> table -> validation -> prospectivity rasters.

:func:`model_region` is the model stage of the flow as a plain call (the ``geomap model``
command and the pipeline write its result to files).  It

1. builds the recipe's evidence stack for the region (:func:`geomap.recipes.build_evidence`),
2. restricts the study area to the region's countries where the evidence has data
   (:func:`~geomap.pipeline.study_area.country_mask`; open sea and neighbouring countries
   would make any model look good),
3. puts the recipe's training occurrences on the grid (:func:`~geomap.models.cell_table`;
   a seeded sample of cells when the study area exceeds ``max_cells``),
4. validates the model by spatial block cross-validation and, for each ``test_regions``
   entry, by region hold-out in both directions,
5. predicts prospectivity and uncertainty on the whole grid (chunk by chunk on Dask stacks).

Its :class:`ModelResult` also carries the numbers needed to *explain* a weak result
(:meth:`ModelResult.diagnostics`, built by :mod:`geomap.models.diagnose`): how many
occurrences, the standard error of the held-out AUC, the gap between training and held-out
AUC, how much of the area is well covered, how well each layer alone separates the training
cells, dependent layers, a tied (degenerate) prospectivity surface, and for each region
hold-out the layers left out, reversed or shifted between the regions.  Every AUC below 0.7
(or undefined) comes with at least one such reason.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.errors import ModelError
from geomap.models._base import ModelWarning
from geomap.models.diagnose import explain_transfer, explain_validation, layer_auc
from geomap.models.raster import CellTable, cell_table, predict_raster
from geomap.models.registry import make_model
from geomap.models.validate import region_held_out, spatial_cross_validate
from geomap.models.validation_report import ValidationReport
from geomap.pipeline.settings import BuildSettings, settings_from
from geomap.pipeline.study_area import country_mask

__all__ = ["ModelResult", "default_block_size", "model_region"]


def default_block_size(resolution_m: float) -> float:
    """Spatial-CV block side used when none is given: ``max(50 km, 5 cells)``."""
    return max(50_000.0, 5.0 * float(resolution_m))


@dataclass
class ModelResult:
    """Everything the model stage produced for one region.

    Attributes
    ----------
    recipe, region, model_name : str
    estimator : fitted estimator
        Fitted on every training cell of the region.
    stack : xarray.Dataset
        The evidence stack.
    table : CellTable
        The cells the model was fitted and validated on.
    prediction : xarray.Dataset
        ``prospectivity``, ``uncertainty`` and ``coverage`` on the grid (NaN outside the study
        area).
    validation : ValidationReport
        Spatial block cross-validation.
    transfer : list of ValidationReport
        Region hold-out results (train here -> test there, and the reverse).
    settings : dict
        How it was run.
    warnings : list of str
        Warnings raised while building and fitting (also recorded, not only printed).
    transfer_diagnostics : list of dict
        One :func:`~geomap.models.diagnose.explain_transfer` result per ``transfer`` report
        (same order): why a region hold-out AUC is low.
    holdouts : list of ValidationReport
        Leave-one-state-out (prefecture) validation (:mod:`geomap.models.holdout`).
    """

    recipe: str
    region: str
    model_name: str
    estimator: Any
    stack: xr.Dataset
    table: CellTable
    prediction: xr.Dataset
    validation: ValidationReport
    transfer: list[ValidationReport] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    transfer_diagnostics: list[dict[str, Any]] = field(default_factory=list)
    holdouts: list[ValidationReport] = field(default_factory=list)
    _explained: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        held_out, training = (
            self.validation.auc.get("held_out"),
            self.validation.auc.get("training"),
        )
        auc = (f"held-out AUC {held_out:.3f}" if held_out is not None else "held-out AUC n/a") + (
            f" (training {training:.3f})" if training is not None else ""
        )
        transfer = "".join(
            f"; {r.train_region} -> {r.test_region} AUC "
            + ("n/a" if r.auc.get("held_out") is None else f"{r.auc['held_out']:.3f}")
            for r in self.transfer
        )
        return (
            f"<ModelResult {self.recipe} / {self.region}: {self.model_name} on "
            f"{len(self.table)} cells x {self.table.n_layers} layers, "
            f"{int(self.table.y.sum())} positive cells; {auc}{transfer}>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        rows = "".join(
            f"<tr><td>{escape(label)}</td><td style='text-align:right'>"
            f"{fmt(r.auc.get('training'))}</td><td style='text-align:right'>"
            f"{fmt(r.auc.get('held_out'))}</td><td style='text-align:right'>"
            f"{fmt(r.auc.get('held_out_se'))}</td></tr>"
            for label, r in [
                (f"spatial block CV in {self.region}", self.validation),
                *(
                    (f"trained in {r.train_region}, tested in {r.test_region}", r)
                    for r in self.transfer
                ),
            ]
        )
        diagnostics = self.diagnostics()
        reasons = list(diagnostics["weak_result_reasons"])
        reasons += [
            f"{t['train_region']} -> {t['test_region']}: {reason}"
            for t in diagnostics["transfer"]
            for reason in t["weak_result_reasons"]
        ]
        weak = "".join(f"<li>{escape(str(reason))}</li>" for reason in reasons)
        return (
            f"<b>model result</b> {escape(self.recipe)} / {escape(self.region)}: "
            f"{escape(self.model_name)} ({escape(type(self.estimator).__name__)}), "
            f"{len(self.table)} cells of {self.table.cell_size_m / 1000:g} km &times; "
            f"{self.table.n_layers} layers, {int(self.table.y.sum())} cells with training "
            "occurrences"
            "<table><tr><th>validation</th><th>training AUC</th><th>held-out AUC</th>"
            f"<th>&plusmn; s.e.</th></tr>{rows}</table>"
            + (f"<p>what limits this result:</p><ul>{weak}</ul>" if weak else "")
            + (
                f"<p>{len(self.warnings)} warnings recorded in <code>.warnings</code>; "
                "tables: <code>.model_table()</code>, <code>.validation</code>, "
                "<code>.diagnostics()</code></p>"
            )
        )

    def model_table(self) -> pd.DataFrame:
        """Return the weights (weights of evidence) or importance table of the fitted model."""
        for name in ("weights_", "importance_table_"):
            table = getattr(self.estimator, name, None)
            if isinstance(table, pd.DataFrame):
                return table
        return pd.DataFrame(
            {
                "layer": list(self.estimator.feature_names_in_),
                "importance": getattr(self.estimator, "feature_importances_", np.nan),
            }
        )

    def layer_auc(self) -> dict[str, float | None]:
        """ROC AUC of each continuous layer alone (cells with data), oriented to be >= 0.5.

        A layer near 0.5 does not separate training cells from the rest at all.
        """
        return layer_auc(self.table)

    def diagnostics(self) -> dict[str, Any]:
        """Numbers that explain a weak (or suspiciously strong) validation result.

        Returns
        -------
        dict
            ``auc_training``, ``auc_held_out``, ``auc_held_out_se``, ``auc_gap``,
            ``n_positive_cells``, ``n_occurrences``, ``well_covered_fraction``, ``layer_auc``
            (oriented), ``layer_auc_raw``, ``best_layer``, ``fold_auc_range``,
            ``dependent_layers``, ``surface`` (the share of the study area tied at one
            prospectivity value and the layers constant there, see
            :func:`~geomap.models.diagnose.tied_surface`), ``weak_result_reasons`` (never
            empty when the held-out AUC is undefined or below 0.7) and ``transfer`` (one
            entry per region hold-out, each with its own ``weak_result_reasons``).
        """
        if "validation" not in self._explained:
            self._explained["validation"] = explain_validation(
                self.validation, self.table, self.estimator
            )
        explained = self._explained["validation"]
        report = self.validation
        auc = report.auc
        training, held_out = auc.get("training"), auc.get("held_out")
        n_cells = max(report.counts.get("test_n_cells", 0), 1)
        return {
            "auc_training": training,
            "auc_held_out": held_out,
            "auc_held_out_se": auc.get("held_out_se"),
            "auc_gap": None if training is None or held_out is None else training - held_out,
            "n_positive_cells": report.counts.get("n_positive_cells", 0),
            "n_occurrences": report.counts.get("n_occurrences"),
            "well_covered_fraction": report.counts.get("test_n_well_covered_cells", 0) / n_cells,
            "layer_auc": explained["layer_auc"],
            "layer_auc_raw": explained["layer_auc_raw"],
            "best_layer": explained["best_layer"],
            "fold_auc_range": explained["fold_auc_range"],
            "dependent_layers": explained["dependent_layers"],
            "surface": explained["surface"],
            "weak_result_reasons": list(explained["reasons"]),
            "transfer": [dict(t) for t in self.transfer_diagnostics],
        }

    def metrics(self) -> dict[str, Any]:
        """JSON-ready headline numbers: validation, transfer, diagnostics, settings."""
        from geomap.models.validation_report import _jsonable

        out: dict[str, Any] = {
            "recipe": self.recipe,
            "region": self.region,
            "model": self.model_name,
            "estimator": type(self.estimator).__name__,
            "settings": self.settings,
            "spatial_cv": self.validation.metrics(),
            "region_held_out": [r.metrics() for r in self.transfer],
            "holdouts": [r.metrics() for r in self.holdouts],
            "diagnostics": self.diagnostics(),
            "table": self.table.report,
            "dropped_layers": getattr(self.estimator, "dropped_layers_", {}),
            "warnings": self.warnings,
        }
        independence = getattr(self.estimator, "independence_", None)
        if independence is not None:
            out["conditional_independence"] = independence
        steps = getattr(self.estimator, "independence_steps_", None)
        if steps is not None and len(steps) > 1:  # the remedy acted: before/after
            out["independence_remedy"] = steps.to_dict("records")
        return _jsonable(out)


def _usable_block_size(table: CellTable, block: float) -> tuple[float, str | None]:
    """Shrink the CV block until at least two blocks hold occurrences (never below 2 cells)."""
    from geomap.models.splitters import block_labels

    positives = table.y > 0
    if positives.sum() < 2:
        return block, None
    size = block
    while size / 2 >= 2 * table.cell_size_m:
        held = np.unique(block_labels(table.coords, size)[positives]).size
        if held >= 2:
            break
        size /= 2
    if size == block:
        return block, None
    return size, (
        f"spatial-CV blocks reduced from {block / 1000:g} km to {size / 1000:g} km: with larger "
        "blocks fewer than two blocks hold training occurrences"
    )


def _estimator(name: str, params: dict[str, Any], table: CellTable) -> Any:
    estimator = make_model(name, params)
    settable = estimator.get_params(deep=False)
    if "kinds" in settable and settable["kinds"] is None:
        estimator.set_params(kinds=dict(table.kinds))
    return estimator


def _region_table(
    recipe: Any,
    region: str,
    resolution_m: float,
    *,
    chunks: Any,
    max_cells: int | None,
    random_state: int,
    study_area: str,
    catalog: Any,
    stack: xr.Dataset | None = None,
    points: Any = None,
    mode: str = "greenfield",
) -> tuple[xr.Dataset, CellTable, xr.DataArray | None]:
    from geomap.recipes import build_evidence, training_occurrences

    if stack is None:
        stack = build_evidence(recipe, region, resolution_m, chunks=chunks, catalog=catalog)
    if points is None:
        points = training_occurrences(recipe, region, catalog=catalog)
    if mode == "brownfield":
        from geomap.models.baselines import add_proximity_layer

        stack = add_proximity_layer(stack, points)
    elif mode != "greenfield":
        raise ModelError(f"mode={mode!r}; choose 'greenfield' or 'brownfield'")
    mask = None
    if study_area == "country":
        from geomap.catalog import load_catalog

        countries = (catalog or load_catalog()).region(region).countries
        mask = country_mask(stack, list(countries), catalog=catalog)
    elif study_area != "coverage":
        raise ModelError(f"study_area={study_area!r}; choose 'country' or 'coverage'")
    table = cell_table(
        stack,
        points,
        study_area=mask,
        max_cells=max_cells,
        random_state=random_state,
        region=region,
    )
    return stack, table, mask


def model_region(
    recipe: Any,
    region: str | None = None,
    settings: BuildSettings | None = None,
    *,
    catalog: Any = None,
    stack: xr.Dataset | None = None,
    training: Any = None,
    control: Any = "auto",
    overlap: str = "clip",
    leave_one_out: bool = False,
    mode: str | None = None,
    **options: Any,
) -> ModelResult:
    """Fit, validate and map a recipe's prospectivity model in one region.

    Parameters
    ----------
    recipe : Recipe or str
        A loaded recipe or a recipe name / path.
    region : str, optional
        A region the recipe supports (default: ``settings.region``, else the recipe's first).
    settings : BuildSettings, optional
        The model, validation and grid settings (default: the
        :class:`~geomap.pipeline.settings.BuildSettings` defaults: the recipe's model and
        parameters, about 150,000 cells over the region, 5 spatial-CV folds on blocks of
        :func:`default_block_size`, at most 2,000,000 cells in the table, the region's
        countries as study area, seed 0).
    catalog : Catalog, optional
    stack : xarray.Dataset, optional
        A prebuilt evidence stack of this recipe, region and resolution (e.g. from the
        pipeline's cache); built when not given.
    training : GeoDataFrame, optional
        The training occurrences in the region CRS; read from the recipe when not given.
    control : GeoDataFrame, "auto" or None, default "auto"
        Occurrences of unrelated commodities for the specificity control
        (:func:`geomap.models.baselines.control_points` with ``"auto"``; ``None``: none).
    overlap : {"clip", "refuse"}, default "clip"
        Region hold-out between overlapping or nested regions: clip the larger one so the
        areas are disjoint, or refuse (:func:`geomap.models.holdout.disjoint_tables`).
    leave_one_out : bool, default False
        Also validate leaving one state/prefecture out at a time (``holdouts``); not tried
        when the region has no training cell (a knowledge-driven map has nothing to hold out).
    mode : {"greenfield", "brownfield"}, optional
        ``"brownfield"`` adds the known-occurrence proximity layer
        (:data:`geomap.models.baselines.PROXIMITY_LAYER`), recomputed inside every fold
        from the training-fold sites so validation stays honest; ``"greenfield"`` uses the
        evidence layers only.  Default: ``settings.mode``, else the recipe's ``model.mode``,
        else greenfield (recorded in ``settings["mode"]``).
    **options
        Fields of :class:`~geomap.pipeline.settings.BuildSettings` replacing those of
        ``settings``; the model stage uses ``model``, ``params``, ``resolution_m``,
        ``block_size_m``, ``n_splits``, ``buffer_m``, ``test_regions`` (region hold-out in
        both directions, layers matched by name), ``normalize``, ``max_cells``, ``chunks``,
        ``study_area`` and ``random_state``.

    Returns
    -------
    ModelResult

    Raises
    ------
    ParameterError
        An unknown option or an out-of-range value.
    """
    from geomap.catalog import load_catalog
    from geomap.recipes import load_recipe

    run = settings_from(settings, options)
    cat = catalog or load_catalog()
    loaded = load_recipe(recipe, catalog=cat) if not hasattr(recipe, "evidence") else recipe
    region = region or run.region or loaded.regions[0]
    resolution_m = run.resolution_for(cat.region(region))
    random_state, max_cells, chunks, study_area = (
        run.random_state,
        run.max_cells,
        run.chunks,
        run.study_area,
    )
    default = loaded.model_for(region)
    name = run.model or default.name
    params = run.params
    if params is None:
        params = dict(default.params) if name == default.name else {}
    if "random_state" in make_model(name).get_params() and "random_state" not in params:
        params = {**params, "random_state": random_state}
    block = (
        float(run.block_size_m)
        if run.block_size_m is not None
        else default_block_size(resolution_m)
    )
    caught_messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack, table, mask = _region_table(
            loaded,
            region,
            resolution_m,
            chunks=chunks,
            max_cells=max_cells,
            random_state=random_state,
            study_area=study_area,
            catalog=cat,
            stack=stack,
            points=training,
            mode=effective_mode(loaded, mode or run.mode),
        )
        estimator = _estimator(name, params, table)
        block, block_note = _usable_block_size(table, block)
        if block_note:
            warnings.warn(block_note, ModelWarning, stacklevel=2)
        if isinstance(control, str) and control == "auto":
            from geomap.models.baselines import control_points

            control = control_points(loaded, region, catalog=cat)
        validation = spatial_cross_validate(
            estimator,
            table,
            block_size_m=block,
            n_splits=run.n_splits,
            buffer_m=run.buffer_m,
            random_state=random_state,
            control=control,
        )
        fitted = validation.estimator
        transfer: list[ValidationReport] = []
        transfer_diagnostics: list[dict[str, Any]] = []
        for other in run.test_regions:
            _, other_table, _ = _region_table(
                loaded,
                other,
                resolution_m,
                chunks=chunks,
                max_cells=max_cells,
                random_state=random_state,
                study_area=study_area,
                catalog=cat,
            )
            from geomap.models.holdout import disjoint_tables

            base = {region: table, other: other_table}
            for train_id, test_id in ((region, other), (other, region)):
                train_t, test_t, clip_notes = disjoint_tables(
                    train_id, base[train_id], test_id, base[test_id], overlap=overlap, catalog=cat
                )
                tables = {train_id: train_t, test_id: test_t}
                (report,) = region_held_out(
                    estimator, tables, normalize=run.normalize, pairs=[(train_id, test_id)]
                )
                report.notes[:0] = clip_notes
                transfer.append(report)
                transfer_diagnostics.append(explain_transfer(report, train_t, test_t))
        holdouts: list[ValidationReport] = []
        if leave_one_out and (table.y > 0).any():  # nothing to hold out without training cells
            from geomap.models.holdout import leave_one_unit_out

            try:
                holdouts.append(
                    leave_one_unit_out(
                        estimator,
                        table,
                        countries=list(cat.region(region).countries),
                        control=control,
                    )
                )
            except ModelError as exc:
                warnings.warn(f"leave-one-state-out skipped: {exc}", ModelWarning, stacklevel=2)
        prediction = predict_raster(fitted, stack, study_area=mask, sources=table.sources)
    for message in caught:
        if issubclass(message.category, DeprecationWarning | PendingDeprecationWarning):
            continue  # library housekeeping, not about the model
        text = f"{message.category.__name__}: {message.message}"
        if text not in caught_messages:
            caught_messages.append(text)
        warnings.warn_explicit(message.message, message.category, message.filename, message.lineno)
    if block_note:
        validation.notes.insert(0, block_note)
    recorded = {
        "resolution_m": float(resolution_m),
        "block_size_m": block,
        "n_splits": run.n_splits,
        "buffer_m": run.buffer_m,
        "max_cells": max_cells,
        "study_area": study_area,
        "random_state": random_state,
        "params": {k: v for k, v in params.items() if _plain(v)},
        "test_regions": list(run.test_regions),
        "normalize": run.normalize,
        "cell_area_km2": table.cell_area_km2,
        "mode": effective_mode(loaded, mode or run.mode),
    }
    return ModelResult(
        recipe=loaded.id,
        region=region,
        model_name=name,
        estimator=fitted,
        stack=stack,
        table=table,
        prediction=prediction,
        validation=validation,
        transfer=transfer,
        settings=recorded,
        warnings=caught_messages,
        transfer_diagnostics=transfer_diagnostics,
        holdouts=holdouts,
    )


def effective_mode(recipe: Any, mode: str | None) -> str:
    """Return the exploration mode of a run: ``mode``, else the recipe's, else greenfield."""
    return str(mode or getattr(getattr(recipe, "model", None), "mode", None) or "greenfield")


def _plain(value: Any) -> bool:
    if isinstance(value, str | int | bool | type(None)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False
