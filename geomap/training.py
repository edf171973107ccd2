"""The training audit: every site a recipe considered, kept or dropped, and why.

A recipe's ``training`` section selects its known deposits in steps; :func:`training_audit`
applies them one by one and records, for every site the commodity selection reached, the
first step that dropped it (or ``kept``):

1. ``commodities`` — the candidate set: sites with any of the recipe's training commodities
   in the region's box (sites without them are not listed: they were never candidates);
2. ``exclude_commodities`` — e.g. an REE recipe that leaves out uranium sites;
3. ``deposit_classes`` — only these deposit types (``geomap/data/deposit_types.yaml``);
4. ``exclude_deposit_classes`` — e.g. heavy-mineral sands, placers and phosphorites out of a
   carbonatite recipe; the reason names the rule that typed the site and its confidence;
5. ``where`` — column filters.

:func:`geomap.recipes.training_occurrences` returns exactly the ``training`` rows, so the
audit and the model can never disagree.  The pipeline writes the audit to ``report.md``
(a table), to the GeoPackage (layer ``training_sites``) and to the map, and flags
``training`` on the occurrences.

Examples
--------
>>> from geomap.training import AUDIT_COLUMNS
>>> AUDIT_COLUMNS[:3]
('site_id', 'name', 'state')
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geomap.errors import RecipeError

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.catalog import Catalog
    from geomap.recipes import Recipe

__all__ = [
    "AUDIT_COLUMNS",
    "audit_layer",
    "audit_markdown",
    "audit_sites",
    "audit_summary",
    "flag_training",
    "training_audit",
]

AUDIT_COLUMNS: tuple[str, ...] = (
    "site_id",
    "name",
    "state",
    "commodities",
    "deposit_class",
    "deposit_class_rule",
    "deposit_class_confidence",
    "sources",
    "training",
    "reason",
)
"""Columns of the audit (then ``geometry``)."""


def _lower(series: Any) -> Any:
    return series.astype("string").str.strip().str.lower()


def audit_sites(frame: Any, spec: Any, key: str) -> Any:
    """Return ``frame`` with ``training`` and ``reason`` from a recipe's selection spec.

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences (with ``deposit_class`` and, when classified, its rule and confidence).
    spec : TrainingSpec or SourceSpec
        ``commodities``, ``exclude_commodities``, ``deposit_classes``,
        ``exclude_deposit_classes`` and ``where``.
    key : str
        Where the spec is, for error messages (``recipe x.yaml: training``).

    Returns
    -------
    GeoDataFrame
        The candidate rows (those matching ``commodities``), with ``training`` (bool) and
        ``reason`` (``"kept"`` or the first step that dropped the site).
    """
    from geomap.harmonize.occurrences import select_commodities
    from geomap.recipes import _apply_where

    if spec.commodities:
        frame = frame.loc[np.asarray(select_commodities(frame, spec.commodities), dtype=bool)]
    out = frame.copy()
    n = len(out)
    reason = np.array(["kept"] * n, dtype=object)
    open_ = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, text: Any) -> None:
        hit = open_ & mask
        if isinstance(text, str):
            reason[hit] = text
        else:
            reason[hit] = np.asarray(text, dtype=object)[hit]
        open_[hit] = False

    if spec.exclude_commodities:
        mask = np.asarray(select_commodities(out, spec.exclude_commodities), dtype=bool)
        drop(mask, f"has an excluded commodity ({', '.join(spec.exclude_commodities)})")
    cls = _lower(out["deposit_class"]).fillna("").to_numpy(dtype=object)
    rule = (
        out["deposit_class_rule"].astype("string").fillna("").to_numpy(dtype=object)
        if "deposit_class_rule" in out
        else np.array([""] * n, dtype=object)
    )
    conf = (
        out["deposit_class_confidence"].to_numpy(dtype=float)
        if "deposit_class_confidence" in out
        else np.full(n, np.nan)
    )
    typed = [
        f"deposit class {c!r}" + (f" (rule {r}, confidence {p:.2f})" if r else "")
        for c, r, p in zip(cls, rule, conf, strict=True)
    ]
    if spec.deposit_classes:
        mask = ~np.isin(cls, [c.lower() for c in spec.deposit_classes])
        drop(mask, [f"{t} is not one of {list(spec.deposit_classes)}" for t in typed])
    if spec.exclude_deposit_classes:
        mask = np.isin(cls, [c.lower() for c in spec.exclude_deposit_classes])
        drop(mask, [f"{t} is excluded by the recipe" for t in typed])
    if spec.where:
        kept = _apply_where(out, spec.where, key).index
        drop(~out.index.isin(kept), f"fails the recipe's where filter {dict(spec.where)}")
    out["training"] = open_
    out["reason"] = pd.array(reason.tolist(), dtype="string")
    return out


def training_audit(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Return every site the recipe's training selection considered in a region.

    Parameters
    ----------
    recipe : Recipe, str or Path
        A loaded recipe, a recipe name from ``layers/`` or a YAML path.
    region : str
        A region the recipe supports.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    GeoDataFrame
        In the region's analysis CRS: the occurrence columns plus ``training`` (True for the
        sites that train and validate the model) and ``reason`` (:data:`AUDIT_COLUMNS` are
        the ones a reader needs); ``attrs["geomap_report"]`` is the occurrence reader's
        report.

    Raises
    ------
    RecipeError
        The region is not supported or a ``where`` column is unknown.
    """
    from geomap.catalog import load_catalog
    from geomap.io.occurrences import read_occurrences
    from geomap.recipes import Recipe, load_recipe

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    if region not in recipe.regions:
        raise RecipeError(
            f"recipe {recipe.path}: region {region!r} is not supported; use one of "
            f"{', '.join(recipe.regions)}"
        )
    spec = recipe.training
    datasets = spec.datasets or [d for d in recipe.datasets if cat.dataset(d).kind == "occurrences"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        frame = read_occurrences(datasets, region=region, catalog=cat)
    out = audit_sites(frame, spec, f"recipe {recipe.path}: training")
    for column in AUDIT_COLUMNS:
        if column not in out.columns:
            out[column] = ""
    out = out.reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def audit_summary(audit: Any) -> pd.DataFrame:
    """Count the audited sites by decision and reason (``training``, ``reason``, ``sites``)."""
    if len(audit) == 0:
        return pd.DataFrame({"training": [], "reason": [], "sites": []})
    reasons = audit["reason"].astype(str).str.replace(r" \(rule .*?\)", "", regex=True)
    table = (
        pd.DataFrame({"training": audit["training"].to_numpy(), "reason": reasons.to_numpy()})
        .groupby(["training", "reason"], sort=False)
        .size()
        .rename("sites")
        .reset_index()
        .sort_values(["training", "sites"], ascending=[False, False])
        .reset_index(drop=True)
    )
    return table


def flag_training(occurrences: Any, audit: Any) -> Any:
    """Return ``occurrences`` with a boolean ``training`` column (site trains the model).

    A merged site is matched on ``site_id``; occurrences that the audit never considered
    (other commodities, outside the training datasets) are False.
    """
    out = occurrences.copy()
    kept = set(audit.loc[audit["training"].to_numpy(dtype=bool), "site_id"].astype(str))
    out["training"] = out["site_id"].astype(str).isin(kept).to_numpy()
    return out


def audit_layer(audit: Any) -> Any:
    """Return the audit with the columns a GIS user reads (for the ``training_sites`` layer)."""
    columns = [c for c in (*AUDIT_COLUMNS, "dataset_id") if c in audit.columns]
    out = audit[[*columns, audit.geometry.name]].copy()
    out["training"] = out["training"].astype(bool)
    return out


def _cell(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def audit_markdown(audit: Any, *, heading: str = "## Training sites (audit)") -> str:
    """Return the report.md section listing every site considered, kept or dropped and why."""
    if audit is None:
        return ""
    n_kept = int(audit["training"].sum()) if len(audit) else 0
    lines = [
        heading,
        "",
        f"{len(audit)} sites matched the recipe's training commodities in the region; "
        f"{n_kept} train and validate the model, {len(audit) - n_kept} were dropped. Deposit "
        "types come from `geomap/data/deposit_types.yaml` (the rule that fired and its "
        "confidence are listed; `unknown` means no field of the sources tells the type).",
        "",
        "| decision | reason | sites |",
        "|---|---|---:|",
    ]
    for row in audit_summary(audit).itertuples(index=False):
        decision = "kept" if row.training else "dropped"
        lines.append(f"| {decision} | {_cell(row.reason)} | {row.sites} |")
    lines += [
        "",
        "| site | state | deposit type | rule (confidence) | decision | reason |",
        "|---|---|---|---|---|---|",
    ]
    order = audit.sort_values(["training", "deposit_class", "name"], ascending=[False, True, True])
    for row in order.itertuples(index=False):
        rule = getattr(row, "deposit_class_rule", "") or ""
        conf = getattr(row, "deposit_class_confidence", float("nan"))
        rule_text = f"{rule} ({conf:.2f})" if rule else ""
        decision = "kept" if row.training else "dropped"
        reason = "" if row.training else str(row.reason).split(" (rule ")[0]
        lines.append(
            f"| {_cell(row.name)} | {_cell(row.state)} | {_cell(row.deposit_class)} | "
            f"{_cell(rule_text)} | {decision} | {_cell(reason)} |"
        )
    return "\n".join(lines) + "\n"
