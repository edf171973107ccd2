"""``report.md``: what was run, on which data, how well it validates, and its caveats."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.core.safe_text import markdown_code, markdown_paragraphs, markdown_text

__all__ = ["build_report", "layer_summary"]

LOW_AUC = 0.7


def _block_stats(layers: list[xr.DataArray]) -> list[tuple[float, float, int, int]]:
    """(min, max, finite cells, cells) of each layer, read block by block (one pass)."""
    from geomap.grid.blocks import iter_blocks

    stats = [(math.inf, -math.inf, 0, 0) for _ in layers]
    if not layers:
        return stats
    for block in iter_blocks(layers):
        for k, raw in enumerate(block.values):
            values = np.asarray(raw, dtype="float64")
            finite = values[np.isfinite(values)]
            lo, hi, n_finite, n = stats[k]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            stats[k] = (lo, hi, n_finite + int(finite.size), n + int(values.size))
    return stats


def layer_summary(stack: xr.Dataset) -> pd.DataFrame:
    """Per evidence layer: kind, units, min, max and the share of cells with data.

    Dask-backed stacks are read block by block, in one pass over every layer.
    """
    layers = [layer for layer in stack.data_vars.values() if layer.dims == ("y", "x")]
    stats = dict(zip([str(layer.name) for layer in layers], _block_stats(layers), strict=True))
    rows = []
    for name, layer in stack.data_vars.items():
        if str(name) in stats:
            lo, hi, n_finite, n = stats[str(name)]
        else:
            values = np.asarray(layer.values, dtype="float64")
            finite = values[np.isfinite(values)]
            lo = float(finite.min()) if finite.size else math.inf
            hi = float(finite.max()) if finite.size else -math.inf
            n_finite, n = int(finite.size), int(values.size)
        rows.append(
            {
                "layer": str(name),
                "role": layer.attrs.get("geomap_role", ""),
                "kind": layer.attrs.get("geomap_kind", ""),
                "units": layer.attrs.get("units", ""),
                "min": lo if n_finite else math.nan,
                "max": hi if n_finite else math.nan,
                "cells_with_data_pct": 100.0 * n_finite / n if n else 0.0,
                "description": layer.attrs.get("description", ""),
            }
        )
    return pd.DataFrame(rows)


def _fmt(value: Any, digits: int = 3) -> str:
    """Format a number; any other value is untrusted text, escaped for Markdown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int | np.integer | np.floating):
        return str(value)
    return markdown_text(value)


def _table(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> str:
    frame = frame[list(columns)] if columns is not None else frame
    head = "| " + " | ".join(markdown_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(_fmt(v, 2) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def _coverage_caveat(coverage: xr.DataArray | None, n_layers: int) -> list[str]:
    if coverage is None or n_layers == 0:
        return []
    from geomap.grid.blocks import iter_blocks

    n_inside = n_full = n_half = 0
    for block in iter_blocks([coverage]):
        values = np.asarray(block.values[0], dtype="float64")
        inside = values[np.isfinite(values) & (values > 0)]
        n_inside += int(inside.size)
        n_full += int((inside >= n_layers).sum())
        n_half += int((inside < n_layers / 2).sum())
    if not n_inside:
        return ["No cell has evidence data: the map is empty."]
    full = n_full / n_inside
    half = n_half / n_inside
    notes = [
        f"{100 * full:.0f}% of the cells with any evidence have all {n_layers} layers; "
        f"{100 * half:.0f}% have fewer than half of them."
    ]
    if half > 0.2:
        notes.append(
            "Low data coverage: where layers are missing the model ranks cells on less evidence; "
            "read the coverage layer with the prospectivity, and do not take 'no data' for "
            "'no potential'."
        )
    return notes


def _weak(auc: Any) -> bool:
    """Whether an AUC must be explained: undefined, not finite, or below :data:`LOW_AUC`."""
    return auc is None or not isinstance(auc, int | float) or not auc >= LOW_AUC


def _transfer_lines(metrics: Mapping[str, Any], diagnostics: Mapping[str, Any]) -> list[str]:
    """List the region hold-out results, each low one followed by the reasons behind it."""
    transfers = metrics.get("region_held_out") or []
    if not transfers:
        return []
    explained = {
        (t.get("train_region"), t.get("test_region")): t
        for t in diagnostics.get("transfer") or []
        if isinstance(t, Mapping)
    }
    lines = ["", "### Region hold-out (trained in one region, tested in another)", ""]
    for transfer in transfers:
        pair = (transfer.get("train_region"), transfer.get("test_region"))
        transfer_auc = (transfer.get("auc") or {}).get("held_out")
        lines.append(
            f"- Trained on {markdown_code(pair[0])}, tested on {markdown_code(pair[1])}: "
            f"AUC {_fmt(transfer_auc)} "
            f"(± {_fmt((transfer.get('auc') or {}).get('held_out_se'))})."
        )
        if not _weak(transfer_auc):
            continue
        reasons = [str(r) for r in (explained.get(pair) or {}).get("weak_result_reasons") or []]
        if not reasons:  # metrics written before the transfer diagnostics existed
            reasons = [str(n) for n in transfer.get("notes") or []] or [
                "the controls learned in the training region do not rank the test region's "
                "occurrences"
            ]
        word = "undefined" if transfer_auc is None else "below 0.7"
        lines.append(f"  Why it is {word}:")
        lines += [f"  - {markdown_text(reason)}" for reason in reasons]
    return lines


def _mode_line(mode: Any) -> str:
    """Return the report line that says which exploration mode was run."""
    if mode == "brownfield":
        return (
            "- Mode: **brownfield**: distance to the known (training) occurrences is an "
            "evidence layer; in validation it is recomputed inside every fold from that "
            "fold's training sites only, so held-out sites never vouch for themselves. The "
            "map favours ground near known deposits by design."
        )
    return (
        "- Mode: greenfield: the evidence layers only; the known occurrences train the "
        "model but are not evidence (use `--mode brownfield` to add their proximity)."
    )


def build_report(
    *,
    recipe: Any,
    region: Any,
    resolution_m: float,
    model_name: str,
    metrics: Mapping[str, Any],
    layers: pd.DataFrame,
    targets: pd.DataFrame,
    coverage: xr.DataArray | None,
    datasets: list[dict[str, Any]],
    attribution: str,
    settings: Mapping[str, Any],
    classes: Any = None,
) -> str:
    """Write the Markdown report of one build.

    Parameters
    ----------
    recipe : Recipe
        The recipe run.
    region : Region
        The catalog region.
    resolution_m : float
        Cell size.
    model_name : str
        The model fitted.
    metrics : mapping
        The model stage's metrics (spatial CV, diagnostics, warnings).
    layers : DataFrame
        :func:`layer_summary` of the evidence stack.
    targets : DataFrame
        The ranked targets.
    coverage : DataArray, optional
        The data-coverage layer.
    datasets : list of dict
        Provenance of every dataset used (from the manifest).
    attribution : str
        The attribution block.
    settings : mapping
        Build options (targets rule, seeds, chunks).
    classes : AreaClasses, optional
        The prospectivity classes the maps draw (:func:`geomap.classes.area_share_classes`);
        the report says what they mean, the share each holds and how ties were split.

    Returns
    -------
    str
        Markdown text.
    """
    cv = metrics.get("spatial_cv", {})
    auc = cv.get("auc", {}) if isinstance(cv, Mapping) else {}
    diagnostics = metrics.get("diagnostics", {})
    evidence = layers[layers["role"] == "evidence"] if "role" in layers else layers
    lines = [
        f"# {markdown_text(recipe.name)} — {markdown_text(region.name)}",
        "",
        f"Mineral system: {markdown_text(recipe.mineral_system.strip())}",
        "",
        "## Rationale (from the recipe)",
        "",
        str(getattr(recipe, "rationale", "") or "").strip() or "(none given)",
        "",
        "## What was run",
        "",
        f"- Recipe {markdown_code(recipe.id)} ({markdown_text(recipe.path or 'built-in')}), "
        f"region {markdown_code(region.id)} in its "
        f"equal-area analysis CRS, cells of {resolution_m / 1000:g} km.",
        f"- Model: {markdown_code(model_name)} (estimator "
        f"{_fmt(metrics.get('estimator', '?'))}), random seed "
        f"{_fmt(settings.get('random_state', 0))}; spatial block cross-validation with "
        f"{_fmt(metrics.get('settings', {}).get('n_splits', '?'))} folds of "
        f"{_fmt(metrics.get('settings', {}).get('block_size_m', math.nan) / 1000, 0)} km blocks.",
        _mode_line(settings.get("mode") or metrics.get("settings", {}).get("mode")),
        f"- Targets: {_target_rule_text(settings)}, touching cells "
        f"merged, targets under {_fmt(settings.get('min_area_km2'), 1)} km² dropped"
        + _pieces_text(settings)
        + ", ranked by mean prospectivity minus its uncertainty."
        + _listing_text(settings),
        "",
        *_class_lines(classes),
        "## Evidence layers",
        "",
        _table(evidence, ["layer", "kind", "units", "min", "max", "cells_with_data_pct"]),
        "",
        "## Validation",
        "",
        f"- Held-out (spatial CV) ROC AUC: **{_fmt(auc.get('held_out'))}** "
        f"(± {_fmt(auc.get('held_out_se'))}); in well-covered cells: "
        f"{_fmt(auc.get('held_out_well_covered'))}.",
        f"- Training (success-rate) AUC: {_fmt(auc.get('training'))}; prediction-rate AUC: "
        f"{_fmt(auc.get('prediction_rate'))}.",
        f"- Training occurrences: {_fmt(diagnostics.get('n_occurrences', 'n/a'))} in "
        f"{_fmt(diagnostics.get('n_positive_cells', 'n/a'))} cells.",
    ]
    capture = cv.get("capture") if isinstance(cv, Mapping) else None
    if capture:
        lines += ["", "Share of occurrences captured by the most prospective part of the area:", ""]
        table = pd.DataFrame(capture).T.reset_index(names="most prospective area")
        table["_order"] = (
            table["most prospective area"].str.extract(r"(\d+(?:\.\d+)?)")[0].astype(float)
        )
        table = table.sort_values("_order").drop(columns="_order")
        lines.append(_table(table))
    held_out = auc.get("held_out")
    reasons = [str(r) for r in diagnostics.get("weak_result_reasons") or []]
    weak = _weak(held_out)
    if weak:
        lines += [
            "",
            f"### Why the held-out AUC is {'undefined' if held_out is None else 'below 0.7'}",
            "",
        ]
        lines += [f"- {markdown_text(reason)}" for reason in reasons] or [
            "- The evidence layers do not separate held-out occurrences from the rest of the area."
        ]
    lines += _transfer_lines(metrics, diagnostics)
    lines += ["", "## Caveats", ""]
    caveats = _coverage_caveat(coverage, len(evidence))
    if not weak:  # shown under the validation when the AUC is low
        caveats += [f"Validation: {reason}" for reason in reasons]
    independence = metrics.get("conditional_independence")
    if isinstance(independence, Mapping) and not independence.get("passed", True):
        caveats.append(
            "Conditional independence failed (observed/predicted occurrence ratio "
            f"{_fmt(independence.get('ratio'), 2)}): weights-of-evidence probabilities are "
            "inflated; use the ranking, not the absolute values."
        )
    caveats += [f"Model warning: {w}" for w in (metrics.get("warnings") or [])[:10]]
    lines += [f"- {markdown_text(c)}" for c in caveats] or ["- none recorded"]
    lines += ["", "## Targets", ""]
    if len(targets):
        shown = targets.drop(columns="geometry", errors="ignore").head(10)
        lines.append(
            _table(
                shown,
                [
                    c
                    for c in (
                        "rank",
                        "area_km2",
                        "mean_prospectivity",
                        "mean_uncertainty",
                        "coverage_fraction",
                        "n_occurrences",
                        "nearest_occurrence",
                        "nearest_occurrence_km",
                        "state",
                    )
                    if c in shown
                ],
            )
        )
        lines.append(
            f"\n{len(targets)} targets in total (targets.csv, targets.geojson, the GeoPackage)."
        )
    else:
        lines.append("No target passed the selection rule.")
    lines += ["", "## Data", ""]
    lines += [
        f"- {markdown_code(d['id'])} — {markdown_text(d['title'])} ({markdown_text(d['license'])})"
        for d in datasets
    ]
    lines += _source_choice_lines(settings.get("sources") or {})
    lines += ["", "## Attribution", "", markdown_paragraphs(attribution), ""]
    return "\n".join(lines)


def _pieces_text(settings: Mapping[str, Any]) -> str:
    piece, cap = settings.get("max_piece_km2"), settings.get("max_target_km2")
    if not isinstance(piece, int | float):
        return ""
    text = f", larger ones cut into compact pieces of at most {piece:g} km²"
    if isinstance(cap, int | float) and piece > cap:
        text += f" (the {cap:g} km² survey size is under 4 cells at this cell size)"
    return text


def _listing_text(settings: Mapping[str, Any]) -> str:
    rest = settings.get("targets_not_listed")
    if not isinstance(rest, int) or rest <= 0:
        return ""
    return (
        f" The best {settings.get('max_targets')} are listed; {rest} more targets "
        f"({_fmt(settings.get('targets_not_listed_km2'), 0)} km²) rank below them and are "
        "not listed (raise `--max-targets` to see them)."
    )


def _class_lines(classes: Any) -> list[str]:
    """Describe the map classes: their meaning, the share of the area each holds, the tie rule."""
    if classes is None:
        return []
    held = ", ".join(
        f"{label} {share:.1f} %"
        for label, share in zip(classes.short_labels, classes.cell_shares, strict=True)
    )
    lines = [
        "## Map classes",
        "",
        "Maps, figures, the GeoPackage and prospectivity_classes.tif draw prospectivity in "
        "classes by share of the study area (the top 1, 5, 10, 20 and 50 % of its cells, "
        f"and the rest). Share of the area each class holds: {held}.",
    ]
    if classes.tie_note:
        lines += ["", markdown_text(classes.tie_note)]
    return [*lines, ""]


def _target_rule_text(settings: Mapping[str, Any]) -> str:
    if settings.get("threshold") is not None:
        return f"every cell with prospectivity >= {settings['threshold']:g}"
    return f"top {settings.get('top_percent')} % of the area with data"


def _source_choice_lines(choices: Mapping[str, Any]) -> list[str]:
    """Which source each layer with preferred sources used, and why others were skipped."""
    if not choices:
        return []
    lines = ["", "Sources chosen (preferred sources and your own files):", ""]
    for layer, choice in choices.items():
        skipped = "; ".join(s["reason"] for s in choice.get("skipped", []))
        if "file" in choice:
            note = f" (your file {choice['file']}, sha256 {choice.get('sha256', '?')})"
        else:
            note = f" (skipped: {skipped})" if skipped else " (the preferred source)"
        used = markdown_code(", ".join(choice["used"]))
        lines.append(f"- {markdown_code(layer)}: {used}{markdown_text(note)}")
    return lines
