"""Model vs baseline vs control, every shipped recipe: `python -m benchmarks.trust_validation`.

For each shipped recipe and region (coarse grids, the recipe's own model) this runs
:func:`geomap.pipeline.model_region` with leave-one-state-out and records side by side:
the spatial-CV held-out AUC, the fold-aware distance-to-training-sites baseline, their
margin, the specificity control (training sites against Au-Ag or other unrelated sites) for
the model and the baseline, the leave-one-state-out AUC and its baseline; for weights of
evidence the number of classes without a training cell that carry a positive weight (must
be 0) and the conditional-independence test; and the deposit types of the training sites
(no heavy-mineral-sand, placer or phosphorite site may train a carbonatite recipe).  For
``carbonatite-ree`` / ``conus`` it also records the conditional-independence remedies
(``on_dependence`` ``"warn"`` = none, ``"drop"``, ``"hybrid"``) side by side.  Writes
``benchmarks/results/trust_validation.json`` (with ``--only``, the rows of the recipes run
replace theirs and the others are kept) and prints the markdown table of
``benchmarks/README.md``.  Not part of the test suite (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "trust_validation.json"

RUNS: list[tuple[str, str, float]] = [
    ("carbonatite-ree", "conus", 20_000.0),
    ("carbonatite-ree", "us-southwest", 10_000.0),
    ("ree-placer-hms", "conus", 20_000.0),
    ("kuroko-vms", "japan", 10_000.0),
    ("granite-sn-w", "japan", 10_000.0),
    ("granite-sn-w", "conus", 25_000.0),
    ("lithium-southwest", "us-southwest", 25_000.0),
    ("ni-co-mafic-laterite", "south-australia", 20_000.0),
    ("ni-co-mafic-laterite", "australia", 25_000.0),
    ("ree-geochem-anomaly", "capricorn-wa", 10_000.0),
]
CARBONATITE = {"carbonatite-ree"}
NOT_CARBONATITE = {"heavy_mineral_sand", "placer", "phosphorite"}


def _f(value: Any) -> str:
    return "n/a" if not isinstance(value, int | float) else f"{value:.3f}"


def _empty_positive(estimator: Any) -> int | None:
    weights = getattr(estimator, "weights_", None)
    if weights is None:
        return None
    real = weights[weights["class"] != "(no data)"]
    return int(((real["deposits"] <= 0) & (real["weight"] > 0)).sum())


def run_one(recipe: str, region: str, resolution: float) -> dict[str, Any]:
    """Validate one recipe in one region; return the row of the table."""
    from geomap.pipeline import model_region
    from geomap.recipes import training_occurrences

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model_region(recipe, region, resolution_m=resolution, leave_one_out=True)
        training = training_occurrences(recipe, region)
    cv = result.validation.auc
    loso = result.holdouts[0].auc if result.holdouts else {}
    classes = training["deposit_class"].value_counts().to_dict()
    row: dict[str, Any] = {
        "recipe": recipe,
        "region": region,
        "resolution_m": resolution,
        "model": result.model_name,
        "n_training_sites": len(training),
        "training_deposit_classes": {str(k): int(v) for k, v in classes.items()},
        "held_out": cv.get("held_out"),
        "baseline": cv.get("baseline_held_out"),
        "margin": cv.get("baseline_margin"),
        "control": cv.get("control_held_out"),
        "baseline_control": cv.get("baseline_control"),
        "n_control_cells": result.validation.counts.get("n_control_cells"),
        "loso_held_out": loso.get("held_out"),
        "loso_baseline": loso.get("baseline_held_out"),
        "empty_classes_with_positive_weight": _empty_positive(result.estimator),
        "independence": getattr(result.estimator, "independence_", None),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if recipe in CARBONATITE:
        row["non_carbonatite_training_sites"] = int(
            training["deposit_class"].isin(sorted(NOT_CARBONATITE)).sum()
        )
    return row


def remedy(recipe: str, region: str, resolution: float) -> dict[str, Any]:
    """The conditional-independence remedies side by side: none, drop, hybrid."""
    from geomap.pipeline import model_region

    out: dict[str, Any] = {"recipe": recipe, "region": region, "resolution_m": resolution}
    for choice in ("warn", "drop", "hybrid"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model_region(
                recipe,
                region,
                resolution_m=resolution,
                params={"on_dependence": choice},
            )
        auc = result.validation.auc
        out[choice] = {
            "held_out": auc.get("held_out"),
            "baseline": auc.get("baseline_held_out"),
            "control": auc.get("control_held_out"),
            "independence": result.estimator.independence_,
            "layers": list(result.estimator.layers_),
            "steps": result.estimator.independence_steps_.to_dict("records"),
        }
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """Return the markdown table of the rows."""
    lines = [
        "| recipe | region | cells | sites | held-out AUC | baseline | margin | control "
        "(model) | control (baseline) | leave-one-state-out (model / baseline) | empty "
        "classes > 0 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | {r['region']} | {r['resolution_m'] / 1000:g} km | "
            f"{r['n_training_sites']} | {_f(r['held_out'])} | {_f(r['baseline'])} | "
            f"{_f(r['margin'])} | {_f(r['control'])} | {_f(r['baseline_control'])} | "
            f"{_f(r['loso_held_out'])} / {_f(r['loso_baseline'])} | "
            f"{r['empty_classes_with_positive_weight']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every case, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", help="recipe ids to run")
    parser.add_argument("--region", nargs="*", help="region ids to run (default: all)")
    args = parser.parse_args(argv)
    partial = bool(args.only or args.region)
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    rows = []
    for recipe, region, resolution in RUNS:
        if (args.only and recipe not in args.only) or (args.region and region not in args.region):
            continue
        rows.append(run_one(recipe, region, resolution))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    if partial:  # replace the rows that were run, keep the others (and their order)
        fresh = {(r["recipe"], r["region"]): r for r in rows}
        kept = [fresh.pop((r["recipe"], r["region"]), r) for r in old.get("rows", [])]
        rows = kept + list(fresh.values())
    rerun_remedy = not partial or "carbonatite-ree" in (args.only or [])
    payload = {
        "rows": rows,
        "remedy": (
            remedy("carbonatite-ree", "conus", 20_000.0) if rerun_remedy else old.get("remedy")
        ),
    }
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
