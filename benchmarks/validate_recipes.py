"""Spatial-CV AUC and capture tables of shipped recipes: `python -m benchmarks.validate_recipes`.

Runs :func:`geomap.pipeline.model_region` for each (recipe, region, resolution, model) below on
the mirrored data -- every shipped recipe and every region it declares -- plus the Sn–W region
hold-out (trained on the conterminous US and tested on Japan, and the reverse), and writes
``benchmarks/results/model_validation.json``: per run the AUCs (training, held-out, its
standard error, well covered, fold mean), the capture table, the P–A point, the diagnostics
that explain a weak result (``weak_result_reasons``, and per region hold-out
``diagnostics.transfer[].weak_result_reasons``), and the wall time.  A region without
training occurrences (Central Lapland) gets a map and ``null`` AUCs with the reason.
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
OUT = HERE / "results" / "model_validation.json"

RUNS: list[tuple[str, str, float, str | None]] = [
    ("carbonatite-ree", "conus", 10_000.0, None),
    ("carbonatite-ree", "conus", 10_000.0, "logistic"),
    ("carbonatite-ree", "conus", 10_000.0, "rf"),
    ("kuroko-vms", "japan", 5_000.0, None),
    ("kuroko-vms", "japan", 5_000.0, "rf"),
    ("granite-sn-w", "japan", 5_000.0, None),
    ("granite-sn-w", "conus", 10_000.0, None),
    ("carbonatite-ree", "us-southwest", 10_000.0, None),
    ("granite-sn-w", "us-southwest", 10_000.0, None),
    ("lithium-southwest", "us-southwest", 10_000.0, None),
    ("ni-co-mafic-laterite", "south-australia", 10_000.0, None),
    ("ni-co-mafic-laterite", "australia", 10_000.0, None),
    ("ree-geochem-anomaly", "capricorn-wa", 5_000.0, None),
    ("ree-geochem-anomaly", "central-lapland", 2_000.0, None),
    ("granite-sn-w", "japan", 5_000.0, "wofe"),  # the default elsewhere, for comparison
    ("ree-japan-geochem", "japan", 5_000.0, None),
]
QUICK: list[tuple[str, str, float, str | None]] = [
    ("carbonatite-ree", "conus", 20_000.0, None),
    ("kuroko-vms", "japan", 10_000.0, None),
    ("granite-sn-w", "japan", 10_000.0, None),
    ("granite-sn-w", "conus", 25_000.0, None),
    ("lithium-southwest", "us-southwest", 25_000.0, None),
    ("ni-co-mafic-laterite", "south-australia", 20_000.0, None),
    ("ni-co-mafic-laterite", "australia", 25_000.0, None),
    ("ree-geochem-anomaly", "capricorn-wa", 10_000.0, None),
    ("ree-geochem-anomaly", "central-lapland", 5_000.0, None),
]


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _row(result: Any, seconds: float) -> dict[str, Any]:
    metrics = result.metrics()
    return {
        "recipe": result.recipe,
        "region": result.region,
        "model": result.model_name,
        "resolution_m": result.settings["resolution_m"],
        "params": result.settings["params"],
        "seconds": round(seconds, 1),
        "spatial_cv": metrics["spatial_cv"],
        "region_held_out": metrics["region_held_out"],
        "diagnostics": metrics["diagnostics"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="coarse grids, WofE only")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", help="recipe ids to run (default: all)")
    parser.add_argument("--region", nargs="*", help="region ids to run (default: all)")
    args = parser.parse_args(argv)

    from geomap.pipeline import model_region

    rows = []
    runs = [
        run
        for run in (QUICK if args.quick else RUNS)
        if (not args.only or run[0] in args.only) and (not args.region or run[1] in args.region)
    ]
    for recipe, region, resolution, model in runs:
        start = time.perf_counter()
        tests = ("japan",) if (recipe, region) == ("granite-sn-w", "conus") else ()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model_region(
                recipe, region, resolution_m=resolution, model=model, test_regions=tests
            )
        row = _row(result, time.perf_counter() - start)
        rows.append(row)
        auc = row["spatial_cv"]["auc"]
        capture = row["spatial_cv"]["capture"]
        counts = row["spatial_cv"]["counts"]
        print(
            f"{recipe:<20} {region:<15} {resolution / 1000:>4g} km {row['model']:<8} "
            f"held-out AUC {_auc(auc['held_out'])} ± {_auc(auc['held_out_se'])} "
            f"(training {_auc(auc['training'])})  top 10% area: "
            f"{capture['top_10pct']['held_out_pct']:.0f}% of occurrences "
            f"({counts['n_positive_cells']} cells)  [{row['seconds']:.0f} s]",
            flush=True,
        )
        for reason in row["diagnostics"]["weak_result_reasons"]:
            print(f"    caveat: {reason}", flush=True)
        for transfer in row["diagnostics"]["transfer"]:
            print(
                f"    {transfer['train_region']} -> {transfer['test_region']}: "
                f"AUC {_auc(transfer['auc_held_out'])}",
                flush=True,
            )
            for reason in transfer["weak_result_reasons"]:
                print(f"        caveat: {reason}", flush=True)
    if args.only or args.region:  # replace the runs that were repeated, keep the others

        def key(row: dict[str, Any]) -> tuple[Any, ...]:
            return (row["recipe"], row["region"], row["resolution_m"], row["model"])

        fresh = {key(r): r for r in rows}
        old = json.loads(args.out.read_text()).get("runs", []) if args.out.exists() else []
        rows = [fresh.pop(key(r), r) for r in old] + list(fresh.values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": rows}, indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
