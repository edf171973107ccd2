"""Markdown tables of benchmark results: ``python -m benchmarks.summary results/*.json``.

One table of the harness cases (time, ratio against the bare call, throughput, peak memory)
with the scaling exponent of each operation, one of the end-to-end builds, and one of the
recipes' validation (``model_validation.json`` from :mod:`benchmarks.validate_recipes`), and one
of the recipes' evidence stacks (``recipe_stacks.json`` from :mod:`benchmarks.build_recipes`).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any


def _rows(paths: list[Path]) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    rows: list[dict[str, Any]] = []
    exponents: dict[str, float | None] = {}
    for path in paths:
        payload = json.loads(path.read_text())
        for row in payload.get("results", []):
            if "error" not in row:
                rows.append({**row, "_file": path.name})
        exponents.update(payload.get("scaling_exponent", {}))
    return rows, exponents


def _fmt(value: Any, pattern: str = "{:.3g}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return pattern.format(value)


def cases_table(rows: list[dict[str, Any]], exponents: dict[str, float | None]) -> str:
    """The harness cases, one line per operation and size."""
    lines = [
        "| operation | size | geomap s | bare s | ratio | throughput /s | peak traced MB | "
        "exponent | file |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "geomap_peak_traced_mb" not in row:
            continue
        lines.append(
            f"| {row['operation']} | {row['size']} | {_fmt(row['geomap_s'])} | "
            f"{_fmt(row.get('baseline_s'))} | {_fmt(row.get('ratio'), '{:.2f}')} | "
            f"{_fmt(row.get('throughput_per_s'))} | {_fmt(row['geomap_peak_traced_mb'], '{:.0f}')} "
            f"| {_fmt(exponents.get(row['operation']), '{:.2f}')} | {row['_file']} |"
        )
    return "\n".join(lines)


def builds_table(rows: list[dict[str, Any]]) -> str:
    """The end-to-end builds: wall time, peak memory, stage times, output sizes."""
    lines = [
        "| build | cells | chunks | wall | peak RSS | evidence | model | targets | outputs "
        "(COGs / GeoPackage / map / hashes) | outputs size | product cache |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "peak_rss_mb" not in row:
            continue
        stages, outputs = row.get("stages_s", {}), row.get("outputs_s", {})
        parts = " / ".join(
            _fmt(outputs.get(k), "{:.0f} s")
            for k in ("cogs", "geopackage", "html_map", "manifest_hashes")
        )
        lines.append(
            f"| {row['operation']} {row['size']} | {row['n'] / 1e6:.1f} M | {row['chunks']} | "
            f"{row['geomap_s'] / 60:.1f} min | {row['peak_rss_gib']:.2f} GiB | "
            f"{_fmt(stages.get('evidence'), '{:.0f} s')} | {_fmt(stages.get('model'), '{:.0f} s')} "
            f"| {_fmt(stages.get('targets'), '{:.0f} s')} | "
            f"{_fmt(stages.get('outputs'), '{:.0f} s')} ({parts}) | "
            f"{row['output_bytes'] / 2**30:.1f} GiB | {row['cache_bytes'] / 2**30:.1f} GiB |"
        )
    return "\n".join(lines)


def validation_table(paths: list[Path]) -> str:
    """Spatial-CV and region-held-out AUC with the held-out capture table, per recipe run.

    *baseline*: distance to the training occurrences, fitted inside each fold; *control*: the
    model's AUC of training sites against sites of unrelated commodities (both from
    :mod:`geomap.models.baselines`; empty in runs recorded before they existed).
    """
    lines = [
        "| recipe | trained on | tested on | model | cell m | AUC training | AUC held-out (se) "
        "| baseline | control | held-out % in top 1 / 5 / 10 / 20 % of area | occurrences |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        for run in json.loads(path.read_text()).get("runs", []):
            for result in [run["spatial_cv"], *run.get("region_held_out", [])]:
                auc, capture = result["auc"], result["capture"]
                held = " / ".join(
                    _fmt(capture[f"top_{k}pct"]["held_out_pct"], "{:.0f}") for k in (1, 5, 10, 20)
                )
                lines.append(
                    f"| {run['recipe']} | {result['train_region']} | {result['test_region']} | "
                    f"{result['model']} | {run['resolution_m']:.0f} | "
                    f"{_fmt(auc['training'], '{:.2f}')} | {_fmt(auc['held_out'], '{:.2f}')} "
                    f"({_fmt(auc.get('held_out_se'), '{:.2f}')}) | "
                    f"{_fmt(auc.get('baseline_held_out'), '{:.2f}')} | "
                    f"{_fmt(auc.get('control_held_out'), '{:.2f}')} | {held} | "
                    f"{result['counts']['test_n_occurrences']} |"
                )
    return "\n".join(lines)


def stacks_table(paths: list[Path]) -> str:
    """The recipes' evidence stacks (``recipe_stacks.json`` from :mod:`benchmarks.build_recipes`).

    One line per (recipe, region): cell size, grid cells, evidence layers, chunking, wall time,
    peak RSS, whether the coverage layer is in the stack, the share of cells with every layer,
    and each layer's % of cells with data.
    """
    lines = [
        "| recipe | region | cell m | cells | layers | chunks | wall | peak RSS | coverage layer "
        "| all layers % | % cells with data per layer |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        for stack in json.loads(path.read_text()).get("stacks", []):
            if "error" in stack:
                lines.append(
                    f"| {stack['recipe']} | {stack['region']} | {stack['resolution_m']:.0f} | "
                    f"failed: {stack['error'].splitlines()[-1][:80]} | | | | | | | |"
                )
                continue
            per_layer = ", ".join(
                f"{layer['layer']} {layer['cells_with_data_pct']:.0f}"
                for layer in stack["layers"]
                if layer.get("role") != "coverage"
            )
            coverage = stack.get("coverage") or {}
            lines.append(
                f"| {stack['recipe']} | {stack['region']} | {stack['resolution_m']:.0f} | "
                f"{stack['cells'] / 1e6:.2f} M | {stack['n_layers']} | {stack['chunks'] or 'none'} "
                f"| {_fmt(stack['wall_s'], '{:.0f} s')} | "
                f"{_fmt(stack['peak_rss_mb'] / 1024, '{:.2f} GiB')} | "
                f"{'yes' if stack['coverage_layer'] else 'NO'} | "
                f"{_fmt(coverage.get('all_layers_pct'), '{:.0f}')} | {per_layer} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    validation = [p for p in paths if "runs" in json.loads(p.read_text())]
    stacks = [p for p in paths if "stacks" in json.loads(p.read_text())]
    rows, exponents = _rows([p for p in paths if p not in validation and p not in stacks])
    print(cases_table(rows, exponents))
    print()
    print(builds_table(rows))
    if validation:
        print()
        print(validation_table(validation))
    if stacks:
        print()
        print(stacks_table(stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
