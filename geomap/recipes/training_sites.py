"""A recipe's training sites: the candidate sites, the audit of each, the kept ones."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomap.errors import RecipeError

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.catalog import Catalog

from geomap.recipes.loading import _user_path, load_recipe
from geomap.recipes.reading import _apply_where, _text
from geomap.recipes.schema import Recipe


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
    import numpy as np
    import pandas as pd

    from geomap.harmonize.occurrences import select_commodities

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
    cls = _text(out["deposit_class"]).fillna("").to_numpy(dtype=object)
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


def training_candidates(
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
        sites that train and validate the model) and ``reason`` (the columns a reader needs
        are :data:`geomap.training.AUDIT_COLUMNS`); ``attrs["geomap_report"]`` is the
        occurrence reader's report.

    Raises
    ------
    RecipeError
        The region is not supported or a ``where`` column is unknown.
    """
    from geomap.catalog import load_catalog
    from geomap.io.occurrences import read_occurrences

    cat = catalog or load_catalog()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, catalog=cat)
    if region not in recipe.regions:
        raise RecipeError(
            f"recipe {recipe.path}: region {region!r} is not supported; use one of "
            f"{', '.join(recipe.regions)}"
        )
    spec = recipe.training
    if spec.path is not None:
        from geomap.harmonize import to_region
        from geomap.io.user_data import read_user_sites

        region_obj = cat.region(region)
        sites, _ = read_user_sites(_user_path(recipe, spec.path), crs=spec.crs, region=region_obj)
        frame = to_region(sites, region_obj)
        if "deposit_class" not in frame.columns:  # the user's own class, when given, stands
            from geomap.harmonize.deposit_types import add_deposit_classes

            frame = add_deposit_classes(frame)
    else:
        datasets = spec.datasets or [
            d for d in recipe.datasets if cat.dataset(d).kind == "occurrences"
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            frame = read_occurrences(datasets, region=region, catalog=cat)
    out = audit_sites(frame, spec, f"recipe {recipe.path}: training")
    for column in ("deposit_class_rule", "sources", "state"):
        if column not in out.columns:
            out[column] = ""
    out = out.reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def training_occurrences(
    recipe: Recipe | str | Path, region: str, *, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Return the recipe's training occurrences in a region, in the region's analysis CRS.

    These are exactly the rows of :func:`training_candidates` (the training audit,
    :func:`geomap.training.training_audit`) marked ``training``.

    Raises
    ------
    RecipeError
        The region is not supported or a ``where`` column is unknown.
    """
    audit = training_candidates(recipe, region, catalog=catalog)
    out = audit.loc[audit["training"].to_numpy(dtype=bool)].reset_index(drop=True)
    out.attrs = dict(audit.attrs)
    return out
