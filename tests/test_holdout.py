"""Hold-outs that are hold-outs: nested regions refused or clipped, leave one state out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from geomap.errors import ModelError
from geomap.models.holdout import disjoint_tables, leave_one_unit_out, region_relation

RES = 25_000.0


@pytest.fixture(scope="module")
def tables(data_root):
    from geomap.pipeline.model_stage import _region_table

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for region in ("conus", "us-southwest"):
            _, table, _ = _region_table(
                "carbonatite-ree",
                region,
                RES,
                chunks=None,
                max_cells=None,
                random_state=0,
                study_area="country",
                catalog=None,
            )
            out[region] = table
    return out


def test_region_relation(catalog):
    conus, southwest, japan = (catalog.region(r) for r in ("conus", "us-southwest", "japan"))
    assert region_relation(conus, southwest) == "b_in_a"
    assert region_relation(southwest, conus) == "a_in_b"
    assert region_relation(conus, japan) == "disjoint"


def test_nested_region_hold_out_is_refused(tables):
    with pytest.raises(ModelError, match="lies inside training region 'conus'"):
        disjoint_tables(
            "conus", tables["conus"], "us-southwest", tables["us-southwest"], overlap="refuse"
        )


def test_nested_region_hold_out_is_clipped_and_says_so(tables):
    conus, sw = tables["conus"], tables["us-southwest"]
    train, test, notes = disjoint_tables("conus", conus, "us-southwest", sw)
    assert test is sw and len(train) < len(conus)
    assert "training cells inside 'us-southwest' were removed" in notes[0]
    # no training cell is left inside the test region's box, so no test site trains
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(train.crs, 4326, always_xy=True).transform(
        train.coords[:, 0], train.coords[:, 1]
    )
    from geomap.catalog import load_catalog

    west, south, east, north = load_catalog().region("us-southwest").bbox
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    assert not inside.any()
    # the reverse pair clips the test region instead
    train2, test2, notes2 = disjoint_tables("us-southwest", sw, "conus", conus)
    assert train2 is sw and len(test2) < len(conus)
    assert "test cells inside 'us-southwest' were removed" in notes2[0]


def test_model_region_reports_clipped_transfer_with_baseline(data_root):
    from geomap.pipeline import model_region

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model_region(
            "carbonatite-ree",
            "conus",
            resolution_m=RES,
            test_regions=["us-southwest"],
            leave_one_out=True,
            control=None,
        )
    first = result.transfer[0]
    assert (first.train_region, first.test_region) == ("conus", "us-southwest")
    assert "were removed" in first.notes[0]
    assert first.auc["baseline_held_out"] is not None
    # leave one state out: one fold per state with training sites, baseline per fold
    loso = result.holdouts[0]
    assert loso.method == "leave_one_state_out"
    assert loso.folds["unit"].str.startswith("USA-").all()
    assert {"USA-CA", "USA-CO", "USA-WY"} <= set(loso.folds["unit"])
    assert loso.folds["baseline_auc"].notna().sum() >= len(loso.folds) - 2
    assert loso.auc["held_out"] is not None and loso.auc["baseline_held_out"] is not None
    metrics = result.metrics()
    assert metrics["holdouts"][0]["method"] == "leave_one_state_out"


def test_leave_one_out_needs_two_units(tables):
    import geopandas as gpd
    import shapely

    table = tables["us-southwest"]
    box = gpd.GeoDataFrame(
        {"code": ["all"]}, geometry=[shapely.box(-1e8, -1e8, 1e8, 1e8)], crs=table.crs
    )
    from geomap.models.wofe import WeightsOfEvidence

    positives = int((table.y > 0).sum())
    with pytest.raises(ModelError, match=rf"at least two states.*the {positives} .* in: all$"):
        leave_one_unit_out(WeightsOfEvidence(), table, units=box)
    assert np.isfinite(table.coords).all()
