"""Linking the same deposit across compilations, tested on real duplicates from the mirror."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geomap
from geomap.errors import CRSError
from geomap.harmonize.dedup import (
    link_duplicates,
    merge_duplicates,
    name_similarity,
    name_variants,
)
from geomap.harmonize.occurrences import make_occurrences


@pytest.fixture(scope="module")
def linked():
    frames = [
        geomap.read("minmod-usgs-mrdata"),
        geomap.read("minmod-state-surveys", layer="usgs_mrds_california"),
    ]
    frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    from geomap.io.admin import state_codes

    frame["group"] = link_duplicates(frame, state_codes=state_codes(frame))
    return frame


def _group_of(frame, source, record_id):
    row = frame[(frame["source"] == source) & (frame["record_id"] == record_id)]
    assert len(row) == 1, (source, record_id)
    return row["group"].item()


def _members(frame, source, record_id):
    group = _group_of(frame, source, record_id)
    rows = frame[frame["group"] == group]
    return set(zip(rows["source"], rows["record_id"], strict=True))


def test_name_variants_and_similarity():
    assert name_variants("Kosaka (Motoyama)") == ("kosaka motoyama", "kosaka", "motoyama")
    assert name_variants("Mountain Pass Mine and Mill") == ("mountain pass",)
    assert name_variants("Otani; Ohtani") == ("otani ohtani", "otani", "ohtani")
    assert name_variants("") == ()
    assert name_similarity(name_variants("Kosaka"), name_variants("Kosaka (Motoyama)"))[0] == 1.0
    s, _ = name_similarity(name_variants("Bear Lodge"), name_variants("Bear Lodge Mountains"))
    assert s == 0.9
    s, _ = name_similarity(name_variants("Mountain Pass"), name_variants("Ivanpah"))
    assert s < 0.5


def test_mountain_pass_is_one_site_across_five_compilations(linked):
    members = _members(linked, "mrdata_carbonatite", "56")
    assert members == {
        ("mrdata_carbonatite", "56"),
        ("mrdata_major_deposits", "641"),
        ("mrdata_ree", "59"),
        ("earth_mri_usa", "421"),
        ("usgs_mrds_california", "30115"),  # "Mountain Pass Mine and Mill"
        ("usgs_mrds_california", "42704"),  # "Mountain Pass District", 300 m from the deposit
    }
    # an antimony prospect 1.3 km away and a gold prospect called "Mountain Pass" 450 km away
    # stay separate sites
    for record_id in ("37907", "25617"):
        assert ("usgs_mrds_california", record_id) not in members


@pytest.mark.parametrize(
    ("name", "records", "km"),
    [
        ("Hicks Dome", [("earth_mri_usa", "279"), ("mrdata_major_deposits", "642")], 8),
        ("Wet Mountains", [("mrdata_carbonatite", "58"), ("mrdata_ree", "104")], 9),
        ("Blackfoot Bridge", [("earth_mri_usa", "64"), ("mrdata_ree", "719")], 75),
    ],
)
def test_same_name_with_coarse_or_wrong_coordinates_is_one_site(linked, name, records, km):
    """Rounded (Hicks Dome, Wet Mountains) or mistyped (Blackfoot Bridge) coordinates."""
    rows = [linked[(linked["source"] == s) & (linked["record_id"] == r)] for s, r in records]
    assert all(len(r) == 1 and r["name"].item() == name for r in rows)
    assert len({r["group"].item() for r in rows}) == 1
    a, b = (r.geometry.to_crs(5070).iloc[0] for r in rows)
    assert abs(a.distance(b) / 1000 - km) < 2  # the distance the rule had to bridge


def test_same_name_tiers_by_distance_and_state():
    records = [
        ("Big Creek", "a", -114.0, 44.0, "La", "ID", "USA"),
        ("Big Creek", "b", -114.0, 44.6, "Ce;La", "Idaho/Valley County", "USA"),  # 67 km, ID
        ("Big Creek", "c", -111.0, 44.6, "Ce", "Wyoming", "USA"),  # another state
        ("Big Creek", "d", -114.0, 43.7, "Au", "ID", "USA"),  # 33 km, no shared commodity
    ]
    names, sources, x, y, codes, states, countries = zip(*records, strict=True)
    columns = {
        "name": names,
        "dataset_id": ["t"] * 4,
        "source": sources,
        "record_id": ["1", "2", "3", "4"],
        "commodities": codes,
        "state": states,
        "country": countries,
    }
    from geomap.io.admin import state_codes

    frame = make_occurrences(columns, x, y, crs="EPSG:4326")
    group = link_duplicates(frame, state_codes=state_codes(frame))
    assert group.iloc[0] == group.iloc[1]  # same name, same state (ID), 67 km
    # without normalized states, "ID" and "Idaho/Valley County" are not seen as one state
    assert link_duplicates(frame).iloc[1] != link_duplicates(frame).iloc[0]
    assert group.iloc[2] != group.iloc[0]  # Wyoming
    assert group.iloc[3] != group.iloc[0]  # gold vs REE


def test_kuroko_deposits_link_major_deposits_and_vms(linked):
    assert _members(linked, "mrdata_major_deposits", "316") == {
        ("mrdata_major_deposits", "316"),  # Kosaka
        ("mrdata_vms", "808"),  # Kosaka (Motoyama), 0.3 km
    }
    assert _members(linked, "mrdata_vms", "809") == {("mrdata_vms", "809")}  # Uchinotai
    assert _members(linked, "mrdata_major_deposits", "312") == {
        ("mrdata_major_deposits", "312"),  # Hanaoka-Matsumine
        ("mrdata_vms", "748"),  # Hanaoka (Mats-Sha), not Doy-Tsut-Kam at the same distance
    }
    assert _members(linked, "mrdata_major_deposits", "317") == {("mrdata_major_deposits", "317")}


def test_exact_names_link_despite_different_commodity_lists(linked):
    assert _members(linked, "earth_mri_usa", "371") == {  # Magnet Cove: Ti vs REE-Nb lists
        ("earth_mri_usa", "371"),
        ("mrdata_carbonatite", "55"),
        ("mrdata_ree", "128"),
    }


def test_records_of_one_source_are_never_linked(linked):
    assert linked["group"].nunique() < len(linked)  # some records were linked
    deposits = linked[~linked["name"].str.contains("district", case=False)]
    assert not deposits.duplicated(["group", "dataset_id", "source"]).any()


def test_merge_keeps_every_source(linked):
    from geomap.io.admin import state_codes

    frame = linked.drop(columns="group")
    merged = merge_duplicates(frame, state_codes=state_codes(frame))
    assert len(merged) == linked["group"].nunique()
    assert merged["site_id"].is_unique
    assert merged["n_sources"].sum() == len(frame)
    site = merged[merged["sources"].str.contains("mrdata_carbonatite:56")].iloc[0]
    assert site["n_sources"] == 6  # five compilations, MRDS with the mine and the district
    assert site["sources"].count(";") == 5
    assert site["source"] == "earth_mri_usa"  # representative by source priority
    codes = set(site["commodities"].split(";"))
    assert {"Nd", "Ba", "REE", "Nb", "Th"} <= codes  # union over the six records


def _synthetic(records, crs="EPSG:4326"):
    names, sources, x, y, commodities = zip(*records, strict=True)
    columns = {
        "name": names,
        "dataset_id": ["t"] * len(names),
        "source": sources,
        "record_id": [str(i) for i in range(len(names))],
        "commodities": commodities,
    }
    return make_occurrences(columns, x, y, crs=crs)


def test_antimeridian_and_same_source_rules():
    frame = _synthetic(
        [
            ("Chukotka Tin", "a", 179.99, 66.0, "Sn"),
            ("Chukotka Tin", "b", -179.99, 66.0, "Sn"),  # 0.9 km across the antimeridian
            ("Chukotka Tin", "a", 179.98, 66.0, "Sn"),  # same source as the first: separate
            ("Chukotka Tin", "c", 179.0, 66.0, "Sn"),  # 45 km away: separate
        ]
    )
    group = link_duplicates(frame)
    assert group.iloc[0] == group.iloc[1]
    assert group.iloc[2] != group.iloc[0] and group.iloc[3] != group.iloc[0]


def test_projected_input_and_missing_crs():
    frame = _synthetic(
        [
            ("Kings Mountain", "a", -81.3559, 35.2206, "Li"),
            ("Kings Mountain", "b", -81.35, 35.22, "Li"),
        ]
    )
    assert link_duplicates(frame.to_crs(5070)).nunique() == 1
    with pytest.raises(CRSError, match="no CRS"):
        link_duplicates(frame.set_crs(None, allow_override=True))


def test_candidate_pairs_are_every_close_pair_of_different_sources_in_key_order():
    from geomap.harmonize import dedup

    rng = np.random.default_rng(7)
    n = 400
    lon = rng.uniform(-105.0, -104.6, n)
    lat = rng.uniform(39.0, 39.3, n)
    keys = rng.choice(np.array(["usgs/b", "mrds/a", "state/c"], dtype=object), n)
    xyz = dedup._unit_vectors(lon, lat)
    radius_km = 3.0
    found = dedup._candidate_pairs(keys, xyz, radius_km)
    chord = 2 * np.sin(radius_km / (2 * dedup._EARTH_RADIUS_KM))
    distance = np.linalg.norm(xyz[:, None, :] - xyz[None, :, :], axis=-1)
    expected = {
        (i, j) for i in range(n) for j in range(n) if keys[i] < keys[j] and distance[i, j] <= chord
    }
    assert len(found) == len(set(found)) and set(found) == expected
    assert 100 < len(expected) < n * n / 4  # close pairs and far ones both occur
