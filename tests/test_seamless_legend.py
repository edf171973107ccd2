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
