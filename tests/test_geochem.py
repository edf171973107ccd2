"""Geochemistry readers: ppm, censored values, size fractions, dummy rows, encodings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geomap
from geomap.errors import UnknownNameError
from geomap.io.geochem import element_columns, repair_mojibake

CAPRICORN = "csiro-capricorn-regolith-geochem-wa"
LAPLAND = "gtk-till-geochem-central-lapland"


@pytest.fixture(scope="module")
def capricorn_all():
    return geomap.read(CAPRICORN, size_fraction="all")


def test_capricorn_default_fine_fraction(capricorn_all):
    fine = geomap.read(CAPRICORN)
    assert len(fine) == 168
    assert (fine["size_fraction"] == "<75µm").all()
    assert fine.attrs["geomap_size_fraction"] == "<75µm"
    assert fine["sample_id"].is_unique
    assert fine.crs.to_epsg() == 28350
    report = fine.attrs["geomap_report"]
    assert report["records_in"] == 853
    dropped = report["dropped"]
    assert dropped["dummy record at x = y = 0 (geometry is the shapefile no-data point)"] == 1
    assert dropped["no analyses (every element 0 = not analysed: site record)"] == 183
    assert sum(dropped.values()) + len(fine) == 853  # nothing lost without a count


def test_capricorn_all_fractions_and_mojibake(capricorn_all):
    assert len(capricorn_all) == 669
    assert set(capricorn_all["size_fraction"]) == {"<75µm", "75-250µm", "250-2000µm", ">2000µm"}
    assert not capricorn_all["size_fraction"].str.contains("Â").any()
    report = capricorn_all.attrs["geomap_report"]
    assert report["repaired"]["mis-encoded text (UTF-8 read as Latin-1) repaired in Size_fract"] > 0
    assert any("share a sample number and size fraction" in note for note in report["notes"])


def test_capricorn_censored_convention(capricorn_all):
    elements = capricorn_all.attrs["geomap_elements"]
    assert {"La", "Ce", "Nd", "Dy", "Y", "Sc", "Th", "Nb", "Li", "Co"} <= set(elements)
    for element in elements:
        values = capricorn_all[f"{element}_ppm"]
        censored = capricorn_all[f"{element}_censored"]
        limit = capricorn_all[f"{element}_dl_ppm"]
        assert (values.dropna() > 0).all(), element  # no zeros or negatives survive
        assert values[censored].isna().all()
        assert (limit[censored] > 0).all() and limit[~censored].isna().all()
    te = capricorn_all["Te_censored"]
    assert te.sum() > 300
    assert set(capricorn_all.loc[te, "Te_dl_ppm"].round(3)) <= {0.1, 0.2}
    la = capricorn_all["La_ppm"]
    # provenance notes give a median of 12.9 ppm counting the zeros of unanalysed rows
    assert 15 < la.median() < 40 and la.max() == pytest.approx(124, abs=1)
    report = capricorn_all.attrs["geomap_report"]["normalized"]
    assert report["values below detection (negative = -limit) kept as censored"] > 0
    assert report["zero values (element not analysed) set to NaN, not censored"] > 0


def test_capricorn_unknown_size_fraction():
    with pytest.raises(UnknownNameError, match="size_fraction"):
        geomap.read(CAPRICORN, size_fraction="<63µm")


def test_lapland_flags():
    till = geomap.read(LAPLAND)
    assert len(till) == 1112 and till.crs.to_epsg() == 3067
    assert {"La", "Y", "Sc", "Th", "Li", "Co", "Ni", "Cu"} <= set(till.attrs["geomap_elements"])
    assert till["Zr_censored"].sum() >= 166  # the '<' flags
    assert till.loc[till["Zr_censored"], "Zr_ppm"].isna().all()
    assert (till["Th_flag"] == "!").sum() == 153
    flagged = till[(till["Th_flag"] == "!") & ~till["Th_censored"]]
    assert (flagged["Th_ppm"] > 0).all()  # '!' values kept as measured
    for element in till.attrs["geomap_elements"]:
        assert (till[f"{element}_ppm"].dropna() > 0).all()
    report = till.attrs["geomap_report"]["normalized"]
    assert report["values flagged '<' kept as censored (below detection)"] == 188
    assert report["zero values without a '<' flag treated as below detection"] == 25


def test_units_from_column_names():
    columns = element_columns(["La_ppm", "Au_ppb", "Fe_pct", "Easting", "Co_ppm_511", "Xx_ppm"])
    assert columns == {
        "La_ppm": ("La", 1.0),
        "Au_ppb": ("Au", 1e-3),
        "Fe_pct": ("Fe", 1e4),
        "Co_ppm_511": ("Co", 1.0),
    }


def test_mojibake_repair_counts_only_real_repairs():
    series = pd.Series(["<75Âµm", "plain", None, "naïve", "Ã©tude"])
    fixed, count = repair_mojibake(series)
    assert fixed.tolist()[:2] == ["<75µm", "plain"] and pd.isna(fixed.iloc[2])
    assert fixed.iloc[4] == "étude" and fixed.iloc[3] == "naïve"
    assert count == 2
    assert np.array_equal(fixed.isna(), series.isna())
