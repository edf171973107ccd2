"""States and prefectures: one code and name per unit, checked against each point's location."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely

from geomap.harmonize.occurrences import make_occurrences
from geomap.io.admin import check_states, normalize_state


@pytest.fixture(scope="module")
def ree_conus(data_root):
    from geomap.io.occurrences import read_occurrences

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_occurrences(region="conus", commodities="REE", to_crs=False)


def test_written_states_normalize_to_one_code():
    for text in ("ID", "Idaho", "Idaho/Valley County", "idaho", "Idaho/Caribou"):
        assert normalize_state(text, "USA") == "ID", text
    assert normalize_state("New Mexico, Texas", "USA") == "NM"  # the first state named
    assert normalize_state("Ontario", "CAN") == "ON"
    assert normalize_state("Tokyo", "JPN") == "13"
    assert normalize_state("Akita", "JPN") == "05"
    assert normalize_state("秋田県", "JPN") == "05"
    assert normalize_state("Atlantis", "USA") is None


def test_state_is_checked_against_the_location():
    columns = {
        "name": ["Caballo Mountains", "Conda", "Kosaka", "At sea"],
        "dataset_id": ["t"] * 4,
        "source": ["s"] * 4,
        "record_id": ["1", "2", "3", "4"],
        "country": ["USA", "USA", "JPN", "USA"],
        "state": ["New Mexico", "Idaho", "Akita", "Florida"],
    }
    x = [-100.28, -111.53, 140.76, -79.0]
    y = [32.53, 42.73, 40.34, 29.0]
    frame = make_occurrences(columns, x, y, crs="EPSG:4326")
    result = check_states(frame)
    assert result["state_code"].tolist() == ["TX", "ID", "05", "FL"]
    assert result["state_name"].tolist()[:3] == ["Texas", "Idaho", "Akita"]
    assert result["state_as_written"].tolist() == ["NM", "ID", "05", "FL"]
    assert result["state_mismatch"].tolist() == [True, False, False, False]


def test_occurrences_carry_normalized_states_and_flags(ree_conus):
    us = ree_conus[ree_conus["country"] == "USA"]
    assert set(us["state_code"]) <= {c for c in us["state_code"] if len(c) == 2}
    idaho = us[us["state"].str.startswith(("ID", "Idaho"))]
    assert set(idaho["state_as_written"]) == {"ID"}  # "ID", "Idaho", "Idaho/Valley County"
    caballo = ree_conus[ree_conus["name"] == "Caballo Mountains"].iloc[0]
    assert caballo["state_mismatch"] and caballo["state_code"] == "TX"
    report = ree_conus.attrs["geomap_report"]["normalized"]
    flagged = int(ree_conus["state_mismatch"].sum())
    assert report["state written differently from the unit the point lies in (state_mismatch)"]
    assert (
        flagged
        == report["state written differently from the unit the point lies in (state_mismatch)"]
    )


def test_generic_ree_sites_are_kept_under_magnets_with_a_note(data_root):
    from geomap.harmonize.occurrences import select_commodities
    from geomap.io.occurrences import read_occurrences

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        magnets = read_occurrences(region="conus", end_use="magnets", to_crs=False)
    generic = magnets[magnets["end_use_note"] != ""]
    assert len(generic) > 0
    for codes in generic["commodities"]:
        assert "REE" in codes.split(";")
        assert not {"Nd", "Pr", "Dy", "Tb", "Sm"} & set(codes.split(";"))
    assert generic["end_use_note"].str.contains("generic group").all()
    strict = select_commodities(magnets, end_use="magnets", generic_groups=False)
    assert int((~strict).sum()) == len(generic)
    geoms = magnets.geometry.to_numpy()
    assert np.isfinite(shapely.get_x(geoms)).all()
