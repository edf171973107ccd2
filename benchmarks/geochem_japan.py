"""Japan geochemistry: layer build times, validation with and without it, REE context.

``python -m benchmarks.geochem_japan`` writes ``benchmarks/results/geochem_japan.json``:

1. **build times** of every GSJ geochemistry layer of the Japan recipes on the 1 km Japan grid
   (2,472 × 2,524 cells), each next to the baseline of the same run: the existing IDW
   ``geochem_surface`` of La on the same grid (ratio = layer / baseline);
2. **validation** (spatial block CV, :func:`geomap.pipeline.model_region`) of ``kuroko-vms`` and
   ``granite-sn-w`` in Japan at 5 km, each recipe as shipped and as it was before the GSJ layers
   (the same recipe with its ``geochem_anomaly`` layers removed: the control), each with the
   fold-aware distance-to-occurrences baseline and the unrelated-commodity control of
   :mod:`geomap.models.baselines`;
3. **REE context**: how the per-sample REE scores of ``ree-japan-geochem`` relate to granite
   terrains (GLiM felsic intrusive cells split by the sign of the EMAG2 anomaly: a magnetic low
   is the ilmenite-series proxy) and to the known Sn–W and Kuroko VMS districts (samples within
   20 km of a training occurrence of those recipes), with a Mann–Whitney test against the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "geochem_japan.json"
GSJ = "gsj-geochemical-map-japan"
RECIPES = ("kuroko-vms", "granite-sn-w", "ree-japan-geochem")


def _geochem_specs() -> list[tuple[str, str, dict[str, Any]]]:
    from geomap.recipes import load_recipe

    out = []
    for recipe in RECIPES:
        for spec in load_recipe(
            recipe, end_use="all" if recipe == "ree-japan-geochem" else None
        ).evidence:
            if spec.function == "geochem_anomaly":
                out.append((recipe, spec.name, dict(spec.params)))
    return out


def build_times(resolution_m: float = 1000.0) -> list[dict[str, Any]]:
    """Time each GSJ layer on the Japan grid next to the IDW baseline."""
    import geomap
    from geomap import evidence as ev
    from geomap.grid import region_grid

    grid = region_grid("japan", resolution_m)
    samples = geomap.read(GSJ, region="japan")
    start = time.perf_counter()
    baseline = ev.geochem_surface(
        samples, grid, elements=["La_ppm"], log=True, search_radius_m=9000, min_samples=1
    )
    base_s = time.perf_counter() - start
    rows = []
    for recipe, name, params in _geochem_specs():
        start = time.perf_counter()
        layer = ev.geochem_anomaly(samples, grid, name=name, **params)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "recipe": recipe,
                "layer": name,
                "cells": int(grid.shape[0] * grid.shape[1]),
                "seconds": round(seconds, 2),
                "baseline_idw_la_seconds": round(base_s, 2),
                "ratio_to_baseline": round(seconds / base_s, 2),
                "cells_with_data_pct": round(100 * float(np.isfinite(layer.values).mean()), 2),
            }
        )
        print(f"{recipe:<18} {name:<28} {seconds:6.1f} s  ({seconds / base_s:.2f} x IDW La)")
    del baseline
    return rows


def _without_geochem(recipe: str, folder: Path) -> Path:
    import yaml

    from geomap._paths import layers_dir

    raw = yaml.safe_load((layers_dir() / f"{recipe}.yaml").read_text(encoding="utf-8"))
    raw["evidence"] = [s for s in raw["evidence"] if s["function"] != "geochem_anomaly"]
    raw["datasets"] = [d for d in raw["datasets"] if d != GSJ]
    path = folder / f"{recipe}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def validation(resolution_m: float = 5000.0) -> list[dict[str, Any]]:
    """Spatial-CV AUC and capture of the Japan recipes, shipped and without the GSJ layers."""
    from geomap.pipeline import model_region

    runs = [
        ("kuroko-vms", None),
        ("kuroko-vms", "rf"),
        ("granite-sn-w", None),  # Japan's own model (model.regions.japan: logistic)
        ("granite-sn-w", "wofe"),  # the recipe's default elsewhere
        ("granite-sn-w", "rf"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for recipe, model in runs:
            for variant in ("with GSJ geochemistry", "control: without it"):
                source: Any = (
                    recipe if variant.startswith("with") else _without_geochem(recipe, Path(tmp))
                )
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = model_region(source, "japan", resolution_m=resolution_m, model=model)
                metrics = result.metrics()
                cv = metrics["spatial_cv"]
                capture = {k: round(v["held_out_pct"], 1) for k, v in cv["capture"].items()}
                row = {
                    "recipe": recipe,
                    "variant": variant,
                    "model": result.model_name,
                    "resolution_m": resolution_m,
                    "auc_training": cv["auc"]["training"],
                    "auc_held_out": cv["auc"]["held_out"],
                    "auc_held_out_se": cv["auc"]["held_out_se"],
                    "baseline_held_out": cv["auc"].get("baseline_held_out"),
                    "control_held_out": cv["auc"].get("control_held_out"),
                    "baseline_control": cv["auc"].get("baseline_control"),
                    "capture_held_out_pct": capture,
                    "n_positive_cells": cv["counts"]["n_positive_cells"],
                    "layer_auc": metrics["diagnostics"].get("layer_auc"),
                    "weak_result_reasons": metrics["diagnostics"]["weak_result_reasons"],
                    "seconds": round(time.perf_counter() - start, 1),
                }
                rows.append(row)
                print(
                    f"{recipe:<14} {row['model']:<10} {variant:<24} AUC held-out "
                    f"{row['auc_held_out']:.3f} ± {row['auc_held_out_se']:.3f} "
                    f"(training {row['auc_training']:.3f}; baseline {row['baseline_held_out']}, "
                    f"control {row['control_held_out']}); top 1/5/10/20 %: "
                    f"{' / '.join(f'{v:.0f}' for v in capture.values())}"
                )
    return rows


def ree_context(radius_m: float = 20_000.0) -> dict[str, Any]:
    """Per-sample REE scores against granite terrains and the Sn–W and VMS districts."""
    from scipy.spatial import cKDTree
    from scipy.stats import mannwhitneyu

    import geomap
    from geomap import evidence as ev
    from geomap.grid import region_grid
    from geomap.harmonize.lithology import glim_to_lithology
    from geomap.recipes import training_occurrences

    samples = geomap.read(GSJ, region="japan")
    xy = np.column_stack([samples.geometry.x, samples.geometry.y])
    scores = {
        "lree_z": ev.sample_scores(samples, index="lree")[0],
        "hree_y_z": ev.sample_scores(samples, expression="HREE + Y")[0],
        "la_yb_z": ev.sample_scores(samples, index="la_yb")[0],
        "th_z": ev.sample_scores(samples, index="th")[0],
        "nb_ta_z": ev.sample_scores(samples, index="nb_ta")[0],
        "ree_suite_mahalanobis": ev.sample_scores(samples, index="ree_suite")[0],
        "sn_bi_cs_z": ev.sample_scores(samples, index="sn_bi_cs")[0],
    }
    grid = region_grid("japan", 5000)
    lith = ev.class_layer(glim_to_lithology(geomap.read("glim-lithology-0.5deg")), grid)
    labels = ev.class_labels(lith)
    mag = ev.continuous(geomap.read("emag2-v2-1deg"), grid)
    a = grid.affine
    cols = np.clip(((xy[:, 0] - a.c) / a.a).astype(int), 0, grid.shape[1] - 1)
    rows = np.clip(((xy[:, 1] - a.f) / a.e).astype(int), 0, grid.shape[0] - 1)
    codes = lith.values[rows, cols]
    mag_at = mag.values[rows, cols]
    felsic_code = [k for k, v in labels.items() if v == "felsic_intrusive"]
    felsic = np.isin(codes, felsic_code)
    groups: dict[str, np.ndarray] = {
        "all samples": np.ones(len(samples), dtype=bool),
        "granite terrain, magnetic low (ilmenite-series proxy)": felsic & (mag_at < 0),
        "granite terrain, magnetic high (magnetite-series proxy)": felsic & (mag_at >= 0),
    }
    for recipe, label in (("granite-sn-w", "Sn-W"), ("kuroko-vms", "Kuroko VMS")):
        occ = training_occurrences(recipe, "japan")
        occ = occ[occ["country"].astype(str).str.upper() == "JPN"]
        pts = np.column_stack([occ.geometry.x, occ.geometry.y])
        near = np.isfinite(cKDTree(pts).query(xy, distance_upper_bound=radius_m)[0])
        groups[f"within {radius_m / 1000:g} km of a {label} occurrence ({len(pts)} sites)"] = near
    table = []
    for group, mask in groups.items():
        row: dict[str, Any] = {"group": group, "n_samples": int(mask.sum())}
        for key, values in scores.items():
            inside = values[mask & np.isfinite(values)]
            outside = values[~mask & np.isfinite(values)]
            row[f"{key}_median"] = round(float(np.median(inside)), 2) if inside.size else None
            anomalous = 2.0 if key.endswith("_z") else 4.0
            row[f"{key}_pct_anomalous"] = (
                round(100 * float((inside > anomalous).mean()), 1) if inside.size else None
            )
            if 0 < mask.sum() < len(mask) and inside.size and outside.size:
                row[f"{key}_mannwhitney_p"] = float(
                    mannwhitneyu(inside, outside, alternative="greater").pvalue
                )
        table.append(row)
        print(
            f"{group:<60} n={row['n_samples']:>5}  LREE z median {row['lree_z_median']}, "
            f"{row['lree_z_pct_anomalous']}% > 2; REE suite > 4: "
            f"{row['ree_suite_mahalanobis_pct_anomalous']}%"
        )
    finite = np.isfinite(scores["lree_z"]) & np.isfinite(scores["sn_bi_cs_z"])
    rho = float(
        np.corrcoef(
            np.argsort(np.argsort(scores["lree_z"][finite])),
            np.argsort(np.argsort(scores["sn_bi_cs_z"][finite])),
        )[0, 1]
    )
    return {
        "radius_m": radius_m,
        "anomalous_thresholds": {"robust_z": 2.0, "mahalanobis": 4.0},
        "groups": table,
        "spearman_lree_vs_sn_bi_cs": round(rho, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--skip", nargs="*", default=[], choices=["times", "validation", "context"])
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    if args.out.exists():
        result = json.loads(args.out.read_text())
    if "times" not in args.skip:
        result["build_times_1km"] = build_times()
    if "validation" not in args.skip:
        result["validation_5km"] = validation()
    if "context" not in args.skip:
        result["ree_context"] = ree_context()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, allow_nan=False, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
