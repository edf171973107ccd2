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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.catalog import Catalog
    from geomap.recipes import Recipe

__all__ = [
    "AUDIT_COLUMNS",
    "audit_layer",
    "audit_markdown",
    "audit_summary",
    "flag_training",
    "mark_study_area",
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


def training_audit(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Return every site the recipe's training selection considered in a region.

    The audit itself is :func:`geomap.recipes.training_candidates` (same parameters and
    result: the occurrence columns plus ``training`` and ``reason``, in the region's CRS);
    this name is the one the pipeline, the notebooks and the top level use.
    """
    from geomap.recipes import training_candidates

    return training_candidates(recipe, region, catalog=catalog)


def mark_study_area(audit: Any, surface: Any, *, countries: Sequence[str] = ()) -> Any:
    """Return the audit with the kept sites that lie outside the study area dropped.

    The training selection reads sites in the region's bounding box, which reaches beyond the
    study area (southern Canada and northern Mexico lie in the box of the conterminous US;
    Korea and the Russian Far East in Japan's); the model leaves sites on cells without a
    prospectivity value out.  This step makes the audit say so, site by site, so that its
    ``training`` sites are exactly the ones the model used.

    Parameters
    ----------
    audit : GeoDataFrame
        :func:`training_audit`'s result.
    surface : xarray.DataArray
        The prospectivity surface (NaN outside the study area), with a CRS.
    countries : sequence of str, optional
        The region's countries (ISO alpha-3): a site recorded in another country says which.

    Returns
    -------
    GeoDataFrame
        A copy; kept sites off the study area get ``training`` False and a ``reason``.
    """
    import numpy as np

    from geomap.export.sites import on_data_cells

    out = audit.copy()
    if not len(out):
        return out
    off = out["training"].to_numpy(dtype=bool) & ~on_data_cells(out, surface)
    if not off.any():
        return out
    wanted = {c.upper() for c in countries}
    country = (
        out["country"].astype("string").fillna("").str.upper().to_numpy(dtype=object)
        if "country" in out
        else np.array([""] * len(out), dtype=object)
    )
    reasons = np.array(out["reason"].astype(object).tolist(), dtype=object)
    for i in np.flatnonzero(off):
        where = country[i]
        reasons[i] = (
            f"outside the study area (recorded in {where}, not in {', '.join(sorted(wanted))})"
            if where and wanted and where not in wanted
            else "outside the study area (no evidence or prospectivity at its cell)"
        )
    out["training"] = out["training"].to_numpy(dtype=bool) & ~off
    out["reason"] = pd.array(reasons.tolist(), dtype="string")
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
    """Return untrusted text as a table cell: Markdown- and HTML-escaped, no table break."""
    from geomap.core.safe_text import markdown_text

    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return markdown_text(text)


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
