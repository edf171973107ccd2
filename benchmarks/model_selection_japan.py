"""Model and support-radius choice for a Japan recipe by nested spatial cross-validation.

``python -m benchmarks.model_selection_japan [--recipe granite-sn-w]`` writes
``benchmarks/results/model_selection_japan.json``.

The choice of model (weights of evidence with every threshold tried, with a few quantile
thresholds, logistic regression) and of the stream-sediment support radius (2, 3 or 4 × the
median sample spacing) is made **inside each outer spatial-CV fold, by an inner spatial CV on
that fold's training cells only**; the outer fold's cells never take part in choosing.  The
outer out-of-fold AUC of the chosen candidates is the honest figure for the whole procedure
(selection included).  Folds may choose different models whose scores are on different
scales (a WofE posterior is not a logistic probability), so the pooled out-of-fold AUC is given
both on the raw scores and on each fold's *area rank* (the share of that fold's training cells
scoring lower, the scale a prospectivity map is read on), with the mean of the fold AUCs.
The table also gives every candidate's plain (non-nested) spatial-CV AUC, which is what a
choice made by looking at all sites would report, and the candidate an inner CV over all
cells picks (the one to ship).

Why weights of evidence fails for Sn-W in Japan with its default settings is shown by the
``single_layer`` rows: each geochemistry layer alone, as a continuous ranking (logistic) and
binarized at WofE's maximum-studentized-contrast threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "model_selection_japan.json"
RESOLUTION_M = 5000.0
SPACING_FACTORS = (2.0, 3.0, 4.0)
KUROKO_SPACING_FACTORS = (2.0, 4.0)  # fewer variants: three layer sets, 35 sites (slower fits)
KUROKO_MODELS = ("wofe (every threshold)", "wofe (3 quantile thresholds)", "logistic (C=0.1)")
KUROKO_PATHFINDERS: dict[str, list[dict[str, Any]]] = {
    # one robust Mahalanobis distance of all seven pathfinders (ilr), as shipped before
    "vms_suite": [{"name": "vms_pathfinder_anomaly", "params": {"index": "vms_suite"}}],
    # two additive clr indices: base metals, and the volatile pathfinders apart
    "base_metals + volatiles": [
        {"name": "base_metal_anomaly", "params": {"index": "base_metals"}},
        {"name": "volatile_anomaly", "params": {"index": "volatile_pathfinders"}},
    ],
    # all three: the suite's distance and the two indices
    "vms_suite + base_metals + volatiles": [
        {"name": "vms_pathfinder_anomaly", "params": {"index": "vms_suite"}},
        {"name": "base_metal_anomaly", "params": {"index": "base_metals"}},
        {"name": "volatile_anomaly", "params": {"index": "volatile_pathfinders"}},
    ],
}
CANDIDATE_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "wofe (every threshold)": ("wofe", {}),
    "wofe (3 quantile thresholds)": ("wofe", {"n_thresholds": 3}),
    "wofe (5 quantile thresholds)": ("wofe", {"n_thresholds": 5}),
    "logistic (C=1)": ("logistic", {}),
    "logistic (C=0.1)": ("logistic", {"C": 0.1}),
}


def _variants(recipe_id: str) -> dict[str, Any]:
    """Evidence variants to choose among: support radius (and for Kuroko the pathfinder layers)."""
    from geomap.recipes import load_recipe

    base = load_recipe(recipe_id)
    geochem = [spec for spec in base.evidence if spec.function == "geochem_anomaly"]
    if not geochem:
        raise ValueError(f"{recipe_id} has no geochem_anomaly layer to choose for")
    layer_sets: dict[str, list[dict[str, Any]]] = (
        KUROKO_PATHFINDERS
        if recipe_id == "kuroko-vms"
        else {"as shipped": [{"name": s.name, "params": dict(s.params)} for s in geochem]}
    )
    template = geochem[0]
    first = base.evidence.index(template)
    context = [spec for spec in base.evidence if spec.function != "geochem_anomaly"]
    variants = {}
    for set_label, layers in layer_sets.items():
        factors = KUROKO_SPACING_FACTORS if recipe_id == "kuroko-vms" else SPACING_FACTORS
        for factor in factors:
            specs = [
                template.model_copy(
                    update={
                        "name": layer["name"],
                        "params": {**layer["params"], "spacing_factor": factor},
                    }
                )
                for layer in layers
            ]
            label = f"{factor:g} x spacing" + (
                "" if set_label == "as shipped" else f", {set_label}"
            )
            evidence = [*context[:first], *specs, *context[first:]]
            variants[label] = base.model_copy(update={"evidence": evidence})
    return variants


def _tables(recipe_id: str, region: str) -> dict[str, Any]:
    """One cell table per evidence variant (the same cells; only the GSJ layers differ)."""
    from geomap.pipeline.model_stage import _region_table
    from geomap.recipes import training_occurrences

    variants = _variants(recipe_id)
    points = training_occurrences(next(iter(variants.values())), region)
    tables = {}
    for label, recipe in variants.items():
        _, table, _ = _region_table(
            recipe,
            region,
            RESOLUTION_M,
            chunks=None,
            max_cells=2_000_000,
            random_state=0,
            study_area="country",
            catalog=None,
            points=points,
        )
        table.report["gsj_layers"] = [
            spec.name for spec in recipe.evidence if spec.function == "geochem_anomaly"
        ]
        tables[label] = table
        print(f"{label}: {len(table)} cells, {int(table.y.sum())} with occurrences", flush=True)
    first = next(iter(tables.values()))
    for table in tables.values():
        if not table.X.index.equals(first.X.index) or not np.array_equal(table.y, first.y):
            raise RuntimeError("the evidence variants do not share their cells")
    return tables


def _subset(table: Any, rows: np.ndarray) -> Any:
    return dataclasses.replace(
        table,
        X=table.X.iloc[rows],
        y=table.y[rows],
        occurrences=table.occurrences[rows],
        sample_weight=table.sample_weight[rows],
        coverage=table.coverage[rows],
        rows=table.rows[rows],
        cols=table.cols[rows],
    )


def _oof_scores(model: str, params: dict[str, Any], table: Any, splits: list[Any]) -> np.ndarray:
    from geomap.models.validate import _fit, _score
    from geomap.pipeline.model_stage import _estimator

    estimator = _estimator(model, dict(params), table)
    out = np.full(len(table), np.nan)
    for train_rows, test_rows in splits:
        fitted = _fit(estimator, table, train_rows, table.X)
        out[test_rows] = _score(fitted, table.X.iloc[test_rows])
    return out


def _auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    from geomap.models.curves import roc_table

    keep = np.isfinite(score)
    _, auc = roc_table(y[keep], score[keep], sample_weight=weight[keep])
    return float("nan") if auc is None else float(auc)


def _splits(table: Any, block_m: float, n_splits: int) -> list[Any]:
    from geomap.models.splitters import SpatialBlockKFold

    splitter = SpatialBlockKFold(block_size_m=block_m, n_splits=n_splits, random_state=0)
    return list(splitter.split(table.X, table.y, coords=table.coords))


def _models(recipe_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    if recipe_id == "kuroko-vms":
        return {k: CANDIDATE_MODELS[k] for k in KUROKO_MODELS}
    return dict(CANDIDATE_MODELS)


def _inner_choice(
    tables: dict[str, Any],
    rows: np.ndarray,
    block_m: float,
    models: dict[str, tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """Inner spatial CV on ``rows``: the candidate with the highest out-of-fold AUC."""
    scores = {}
    order = list(tables)
    for evidence, table in tables.items():
        inner = _subset(table, rows)
        splits = _splits(inner, block_m, 4)
        for label, (model, params) in models.items():
            oof = _oof_scores(model, params, inner, splits)
            scores[(evidence, label)] = _auc(inner.y, oof, inner.sample_weight)
    # ties: the earlier (smaller radius, simpler) evidence and the earlier model win
    best = max(scores, key=lambda k: (scores[k], -order.index(k[0]), -list(models).index(k[1])))
    return {
        "evidence": best[0],
        "candidate": best[1],
        "inner_auc": round(scores[best], 4),
        "inner_auc_all": {f"{k[1]}; {k[0]}": round(v, 4) for k, v in scores.items()},
    }


def nested_selection(recipe_id: str, region: str = "japan") -> dict[str, Any]:
    """Outer spatial CV with the model and radius chosen by an inner spatial CV per fold."""
    from geomap.pipeline.model_stage import _usable_block_size, default_block_size

    tables = _tables(recipe_id, region)
    models = _models(recipe_id)
    first = next(iter(tables.values()))
    block_m, _ = _usable_block_size(first, default_block_size(RESOLUTION_M))
    outer = _splits(first, block_m, 5)
    nested_oof = np.full(len(first), np.nan)
    area_rank = np.full(len(first), np.nan)  # share of the fold's training cells scoring lower
    folds = []
    for f, (train_rows, test_rows) in enumerate(outer):
        choice = _inner_choice(tables, train_rows, block_m, models)
        model, params = models[choice["candidate"]]
        table = tables[choice["evidence"]]
        from geomap.models.validate import _fit, _score
        from geomap.pipeline.model_stage import _estimator

        fitted = _fit(_estimator(model, dict(params), table), table, train_rows, table.X)
        nested_oof[test_rows] = _score(fitted, table.X.iloc[test_rows])
        on_train = np.sort(_score(fitted, table.X.iloc[train_rows]))
        area_rank[test_rows] = np.searchsorted(on_train, nested_oof[test_rows], side="right") / len(
            on_train
        )
        fold_auc = _auc(first.y[test_rows], nested_oof[test_rows], first.sample_weight[test_rows])
        folds.append(
            {
                "fold": f,
                "n_test_positive_cells": int(first.y[test_rows].sum()),
                **{k: v for k, v in choice.items() if k != "inner_auc_all"},
                "outer_fold_auc": round(fold_auc, 4),
            }
        )
        print(
            f"fold {f}: chose {choice['candidate']}; {choice['evidence']} "
            f"(inner AUC {choice['inner_auc']:.3f}); outer fold AUC {fold_auc:.3f}",
            flush=True,
        )
    plain = []
    for evidence, table in tables.items():
        for label, (model, params) in models.items():
            oof = _oof_scores(model, params, table, outer)
            plain.append(
                {
                    "candidate": label,
                    "evidence": evidence,
                    "spatial_cv_auc": round(_auc(table.y, oof, table.sample_weight), 4),
                }
            )
    ship = _inner_choice(tables, np.arange(len(first)), block_m, models)
    print(f"inner CV over all cells chooses {ship['candidate']}; {ship['evidence']}")
    return {
        "recipe": recipe_id,
        "region": region,
        "resolution_m": RESOLUTION_M,
        "block_size_m": block_m,
        "n_positive_cells": int(first.y.sum()),
        "candidates": list(models),
        "evidence_variants": list(tables),
        "nested_auc_held_out": round(_auc(first.y, nested_oof, first.sample_weight), 4),
        "nested_auc_held_out_area_rank": round(_auc(first.y, area_rank, first.sample_weight), 4),
        "nested_auc_fold_mean": round(float(np.mean([f["outer_fold_auc"] for f in folds])), 4),
        "outer_folds": folds,
        "plain_spatial_cv": plain,
        "chosen_over_all_cells": ship,
        "single_layer": _single_layers(
            tables[ship["evidence"]],
            outer,
            tables[ship["evidence"]].report["gsj_layers"],
        ),
    }


def _single_layers(table: Any, outer: list[Any], layers: list[str]) -> list[dict[str, Any]]:
    """Each GSJ layer alone: continuous ranking (logistic) against WofE's one threshold."""
    rows = []
    for layer in layers:
        alone = dataclasses.replace(
            table,
            X=table.X[[layer]],
            kinds={layer: table.kinds[layer]},
            coverage=table.X[[layer]].notna().sum(axis=1).to_numpy().astype("int16"),
        )
        row: dict[str, Any] = {"layer": layer}
        for label, model, params in (
            ("logistic", "logistic", {}),
            ("wofe_every_threshold", "wofe", {}),
            ("wofe_3_quantiles", "wofe", {"n_thresholds": 3}),
        ):
            oof = _oof_scores(model, params, alone, outer)
            row[f"{label}_auc"] = round(_auc(alone.y, oof, alone.sample_weight), 4)
        from geomap.pipeline.model_stage import _estimator

        fitted = _estimator("wofe", {}, alone).fit(
            alone.X, alone.y, cell_area_km2=alone.cell_area_km2
        )
        present = fitted.weights_[fitted.weights_["class"].astype(str) == "1"].iloc[0]
        row["wofe_threshold_rule"] = str(present["rule"])
        row["wofe_pattern_area_pct"] = round(100 * float(present["area_cells"]) / len(alone), 2)
        row["wofe_pattern_deposits"] = int(present["deposits"])
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", nargs="*", default=["granite-sn-w"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    for recipe in args.recipe:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry = nested_selection(recipe)
        entry["seconds"] = round(time.perf_counter() - start, 1)
        result[recipe] = entry
        print(
            f"{recipe}: nested spatial-CV AUC {entry['nested_auc_held_out']:.3f} (scores pooled), "
            f"{entry['nested_auc_held_out_area_rank']:.3f} (as area ranks of each fold), "
            f"fold mean {entry['nested_auc_fold_mean']:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
