"""Seamless V2 legend: the published column names, every fixture unit classified, 非アルカリ."""

from __future__ import annotations

import pytest

import geomap.testing as fx
from geomap.harmonize.lithology import classify_text
from geomap.io.gsj_seamless import LEGEND_COLUMNS, read_seamless_legend


def test_the_legend_has_the_columns_of_the_download_readme():
    # readme.txt of seamlessV2.zip: ser, symbol, r, g, b, formationAge_ja, formationAge_en,
    # group_ja, group_en, lithology_ja, lithology_en
    assert LEGEND_COLUMNS[:2] == ("ser", "symbol") and len(LEGEND_COLUMNS) == 11


def test_a_first_column_called_no_reads_the_same(tmp_path):
    folder = fx.seamless_files(tmp_path / "ser")
    published = read_seamless_legend(folder / "legend.tsv")
    other = tmp_path / "legend.tsv"
    text = (folder / "legend.tsv").read_text(encoding="utf-8")
    other.write_text("no" + text.removeprefix("ser"), encoding="utf-8")
    assert read_seamless_legend(other).equals(published)


def test_every_distinct_lithology_of_the_fixture_legend_is_classified(tmp_path):
    legend = read_seamless_legend(fx.seamless_files(tmp_path) / "legend.tsv")
    assert set(legend["lithology_en"]) == {row[10] for row in fx.SEAMLESS_LEGEND}
    unknown = legend.loc[legend["lithology"] == "unknown", "lithology_en"].tolist()
    assert unknown == []
    assert legend["age_older_ma"].notna().all()
    fuji = legend.set_index("symbol").loc["H_vbs_al"]  # the published record
    assert fuji["lithology"] == "mafic_volcanic" and fuji["color"] == "#70658f"
    assert (fuji["age_older_ma"], fuji["age_younger_ma"]) == (0.0117, 0.0)


@pytest.mark.parametrize(
    ("age", "bounds"),
    [  # formationAge_en values the Seamless V2 legend publishes (era, period, epoch, stage)
        ("Cenozoic Quaternary Holocene", (0.0117, 0.0)),
        ("Cenozoic Quaternary Late Pleistocene", (0.129, 0.0117)),
        ("Mesozoic Early Triassic - Late Triassic", (251.9, 201.4)),
        ("Mesozoic Jurassic Early - Middle", (201.4, 161.5)),
        ("Paleozoic Ordovician Late - Early Devonian", (458.4, 393.3)),
        ("Paleozoic Cambrian - Ordovician", (538.8, 443.8)),
        ("Neogene and Paleogene", (66.0, 2.58)),
        ("Cenozoic Neogene Miocene late Burdigalian - late Serravallian", (17.4667, 11.63)),
        ("Paleozoic Late Devonian - Permian Cisuralian", (382.7, 273.01)),
        ("Cenozoic Quaternary late Late Pleistocene - Holocene", (0.0508, 0.0)),
        ("Mesozoic Early Cretaceous Aptian - Albian", (121.4, 100.5)),
        ("Paleozoic Cambrian Series 3 - Ordovician Middle", (506.5, 458.4)),
        # the older single names still read
        ("Late Cretaceous", (100.5, 66.0)),
        ("Lower Cretaceous", (145.0, 100.5)),
        ("Middle Miocene to Late Miocene", (15.98, 5.333)),
    ],
)
def test_published_stacked_ages_read_as_numbers(age, bounds):
    from geomap.harmonize.ages import age_range_ma

    assert age_range_ma(age) == pytest.approx(bounds, abs=1e-4)


@pytest.mark.parametrize("age", ["Middle", "not an age", "Cenozoic Quaternary Atlantis"])
def test_unknown_or_empty_ages_stay_unknown(age):
    from geomap.harmonize.ages import age_range_ma

    assert all(v != v for v in age_range_ma(age))  # NaN


@pytest.mark.parametrize(
    ("text", "alkaline"),
    [
        ("非アルカリ苦鉄質火山岩類", False),
        ("非アルカリ珪長質火山岩類", False),
        ("Non-alkaline intrusive complex", False),
        ("non alkaline granite", False),
        ("アルカリ花崗岩", True),
        ("アルカリ岩", True),
        ("Alkaline intrusive complex", True),
    ],
)
def test_non_alkaline_is_not_read_as_alkaline_by_the_shared_vocabulary(text, alkaline):
    assert (classify_text(text) == "carbonatite_alkaline") is alkaline
