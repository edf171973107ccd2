"""Hold-outs that are hold-outs: disjoint regions, and leave one state (prefecture) out.

**Region hold-out** trains in one region and tests in another; a test region that lies
inside (or overlaps) the training region is not held out at all (``conus`` tested on
``us-southwest`` tests the model on its own training sites).  :func:`disjoint_tables`
therefore either refuses such a pair (``overlap="refuse"``) or clips it (default
``"clip"``): the cells of the *larger* region that fall inside the smaller region's box are
removed — from the training table when the test region is nested in it, from the test table
in the reverse pair — so train and test areas are disjoint, and a note says how many cells
were removed.

**Leave one state out** (:func:`leave_one_unit_out`): every state (US), province or
prefecture (Japan) holding at least one training cell is held out in turn; the model is
fitted on the cells of all other units and scores the held-out unit's cells.  The pooled
out-of-unit scores give one held-out AUC, reported like spatial CV (same report, method
``"leave_one_state_out"``) with the distance baseline computed inside each fold and the
specificity control (:mod:`geomap.models.baselines`).  Cells of units without any training
cell are never tested (they stay in every training set).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError

__all__ = ["cell_units", "disjoint_tables", "leave_one_unit_out", "region_relation"]


def region_relation(a: Any, b: Any) -> str:
    """Return how two catalog regions' boxes relate: disjoint, a_in_b, b_in_a or overlap.

    >>> from types import SimpleNamespace as R
    >>> region_relation(R(bbox=(-125, 24, -66, 50)), R(bbox=(-120, 31, -102, 42)))
    'b_in_a'
    """
    aw, as_, ae, an = a.bbox
    bw, bs, be, bn = b.bbox
    if ae <= bw or be <= aw or an <= bs or bn <= as_:
        return "disjoint"
    if aw <= bw and as_ <= bs and ae >= be and an >= bn:
        return "b_in_a"
    if bw <= aw and bs <= as_ and be >= ae and bn >= an:
        return "a_in_b"
    return "overlap"


def _subset(table: Any, rows: np.ndarray) -> Any:
    """Return the table restricted to ``rows`` (same class, arrays sliced)."""
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


def _inside_box(table: Any, bbox: tuple[float, float, float, float]) -> np.ndarray:
    from pyproj import Transformer

    transformer = Transformer.from_crs(table.crs, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(table.coords[:, 0], table.coords[:, 1])
    west, south, east, north = bbox
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def disjoint_tables(
    train_id: str,
    train: Any,
    test_id: str,
    test: Any,
    *,
    overlap: str = "clip",
    catalog: Any = None,
) -> tuple[Any, Any, list[str]]:
    """Return the train and test tables of a region hold-out with disjoint areas.

    Parameters
    ----------
    train_id, test_id : str
        Catalog region ids.
    train, test : CellTable
        Their cell tables.
    overlap : {"clip", "refuse"}, default "clip"
        What to do when the regions' boxes overlap or nest (see the module doc).
    catalog : Catalog, optional

    Returns
    -------
    train, test, notes
        The (clipped) tables and the notes saying what was done.

    Raises
    ------
    ModelError
        ``overlap="refuse"`` and the regions overlap, or clipping leaves no training or no
        test occurrence.
    """
    from geomap.catalog import load_catalog

    if overlap not in ("clip", "refuse"):
        raise ModelError(f"overlap={overlap!r}; choose 'clip' or 'refuse'")
    cat = catalog or load_catalog()
    a, b = cat.region(train_id), cat.region(test_id)
    relation = region_relation(a, b)
    if relation == "disjoint":
        return train, test, []
    words = {
        "b_in_a": f"test region {test_id!r} lies inside training region {train_id!r}",
        "a_in_b": f"training region {train_id!r} lies inside test region {test_id!r}",
        "overlap": f"regions {train_id!r} and {test_id!r} overlap",
    }[relation]
    if overlap == "refuse":
        raise ModelError(
            f"region hold-out {train_id} -> {test_id} is not a hold-out: {words}, so the test "
            "sites are training sites; pick disjoint regions or use overlap='clip'"
        )
    if relation == "a_in_b":  # clip the test region: drop its cells inside the training box
        inside = _inside_box(test, a.bbox)
        test = _subset(test, np.flatnonzero(~inside))
        note = (
            f"{words}: {int(inside.sum())} test cells inside {train_id!r} were removed so the "
            "test area is disjoint from the training area"
        )
    else:  # nested test or partial overlap: clip the training region
        inside = _inside_box(train, b.bbox)
        train = _subset(train, np.flatnonzero(~inside))
        note = (
            f"{words}: {int(inside.sum())} training cells inside {test_id!r} were removed so "
            "the training area is disjoint from the test area"
        )
    if not train.y.any() or not test.y.any():
        raise ModelError(
            f"region hold-out {train_id} -> {test_id}: {words}; after clipping, the "
            f"{'training' if not train.y.any() else 'test'} area holds no occurrence"
        )
    return train, test, [note]


def cell_units(table: Any, units: Any, column: str = "code") -> np.ndarray:
    """Return the unit (state/prefecture code) of every cell centre ('' outside every unit)."""
    import geopandas as gpd

    points = gpd.GeoDataFrame(
        {"row": np.arange(len(table.X))},
        geometry=gpd.points_from_xy(table.coords[:, 0], table.coords[:, 1]),
        crs=table.crs,
    ).to_crs(units.crs)
    hits = gpd.sjoin(points, units[[column, "geometry"]], how="left", predicate="within")
    hits = hits.drop_duplicates("row").sort_values("row")
    return hits[column].fillna("").astype(str).to_numpy()


def _region_units(table: Any, countries: list[str] | None) -> Any:
    from geomap.io.admin import admin_units

    units = admin_units()
    if countries:
        units = units[units["country"].isin(countries)]
    units = units.assign(code=units["country"] + "-" + units["code"])
    return units


def leave_one_unit_out(
    model: Any,
    table: Any,
    *,
    units: Any = None,
    countries: list[str] | None = None,
    control: Any = None,
    well_covered: float = 0.75,
) -> Any:
    """Validate by holding out each state/prefecture with training cells in turn.

    Parameters
    ----------
    model : estimator
        Cloned for each fold.
    table : CellTable
        The region's cells.
    units : GeoDataFrame, optional
        Polygons with a ``code`` column; default the states/prefectures of ``countries``
        (:func:`geomap.io.admin.admin_units`, codes ``"USA-ID"``, ``"JPN-05"``).
    countries : list of str, optional
        ISO3 codes to take the units from (default all).
    control : GeoDataFrame, optional
        Specificity control occurrences (table CRS).
    well_covered : float, default 0.75

    Returns
    -------
    ValidationReport
        ``method="leave_one_state_out"``; ``folds`` has one row per held-out unit
        (``unit`` column) with the model and baseline AUC.

    Raises
    ------
    ModelError
        Fewer than two units hold training cells.
    """
    from geomap.models.baselines import proximity_for_fold
    from geomap.models.validate import (
        _assemble,
        _fit,
        _record_warnings,
        _score,
        _warning_notes,
        check_table,
        roc_table,
    )

    if units is None:
        units = _region_units(table, countries)
    unit = cell_units(table, units)
    held = [u for u in pd.unique(unit[table.y > 0]) if u]
    if len(held) < 2:
        positives = int((np.asarray(table.y) > 0).sum())
        found = ", ".join(map(str, held)) if held else "none"
        raise ModelError(
            f"leave-one-state-out needs training cells in at least two states/prefectures; "
            f"the {positives} training cell(s) lie in: {found}"
        )
    sub = table
    X = check_table(sub.X)
    all_rows = np.arange(len(X))
    fitted = _fit(model, sub, all_rows, proximity_for_fold(X, sub, all_rows))
    train_score = _score(fitted, X)
    out_of_fold = np.full(len(X), np.nan)
    splits, fold_rows = [], []
    seen: dict[str, tuple[str, list[str]]] = {}
    for k, name in enumerate(sorted(held)):
        test_rows = np.flatnonzero(unit == name)
        train_rows = np.flatnonzero(unit != name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X_fold = proximity_for_fold(X, sub, train_rows)
            fold_model = _fit(model, sub, train_rows, X_fold)
        _record_warnings(caught, f"unit {name}", seen)
        out_of_fold[test_rows] = _score(fold_model, X_fold.iloc[test_rows])
        splits.append((train_rows, test_rows))
        _, auc = roc_table(
            sub.y[test_rows], out_of_fold[test_rows], sample_weight=sub.sample_weight[test_rows]
        )
        fold_rows.append(
            {
                "fold": k,
                "unit": name,
                "n_train_cells": int(train_rows.size),
                "n_test_cells": int(test_rows.size),
                "n_test_positive_cells": int(sub.y[test_rows].sum()),
                "auc": auc,
            }
        )
    keep = np.flatnonzero(np.isfinite(out_of_fold))
    test = _subset(sub, keep)
    notes = [
        f"{len(held)} states/prefectures with training cells held out in turn; "
        f"{int((~np.isfinite(out_of_fold)).sum())} cells of units without training cells "
        "were never tested"
    ]
    notes += _warning_notes(seen)
    report = _assemble(
        model=model,
        fitted=fitted,
        method="leave_one_state_out",
        train=sub,
        test=test,
        X_test=X.iloc[keep],
        train_score=train_score,
        test_score=out_of_fold[keep],
        folds=pd.DataFrame(fold_rows),
        settings={"units": len(held), "well_covered": well_covered},
        notes=notes,
        well_covered=well_covered,
    )
    # the baseline and the control on the tested cells only (positions in ``test``)
    position = np.full(len(X), -1)
    position[keep] = np.arange(keep.size)
    test_splits = [(tr, position[te]) for tr, te in splits]
    return _attach_on_tested(report, sub, test, test_splits, out_of_fold[keep], control)


def _attach_on_tested(
    report: Any, full: Any, test: Any, splits: list[Any], scores: np.ndarray, control: Any
) -> Any:
    """Baseline per held-out unit: distance from its cells to the other units' positives."""
    from geomap.models.baselines import _auc, _baseline_note, _control, distance_scores

    baseline = np.full(len(test.X), np.nan)
    fold_auc = []
    for train_rows, test_pos in splits:
        positives = full.coords[train_rows[full.y[train_rows] > 0]]
        baseline[test_pos] = distance_scores(test.coords[test_pos], positives)
        fold_auc.append(_auc(test.y[test_pos], baseline[test_pos], test.sample_weight[test_pos]))
    report.folds["baseline_auc"] = fold_auc
    base_auc = _auc(test.y, baseline, test.sample_weight)
    model_auc = report.auc.get("held_out")
    report.auc["baseline_held_out"] = base_auc
    report.auc["baseline_margin"] = (
        None if base_auc is None or model_auc is None else float(model_auc - base_auc)
    )
    _control(report, test, scores, baseline, control)
    _baseline_note(report)
    return report
