"""Readable reprs for Jupyter: short text reprs and HTML that escapes whatever the data hold."""

from __future__ import annotations

import dataclasses
import warnings
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import geomap
from geomap.core.report import IngestReport
from geomap.pipeline import BuildResult

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    """Collect the tags of an HTML fragment (to check that no data became markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _assert_escaped(html: str) -> None:
    parsed = _parse(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert HOSTILE in "".join(parsed.text)  # shown as text, intact


@pytest.fixture(scope="module")
def snw_result():
    """Sn–W in Japan at 50 km with the US as the other region: a small real model result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return geomap.model_region(
            "granite-sn-w", "japan", resolution_m=50_000, test_regions=["conus"], model="wofe"
        )  # Japan's own model is logistic (model.regions); WofE shows the weights tables


# ----------------------------------------------------------------------------- IngestReport


def test_ingest_report_repr_is_one_short_line() -> None:
    report = IngestReport("minmod-usgs-mrdata", records_in=10, records_out=7)
    report.drop("no location", 3)
    report.normalize("commodity names mapped", 5)
    report.unmapped["Unobtainium"] += 2
    text = repr(report)
    assert text == (
        "<IngestReport minmod-usgs-mrdata: 10 read, 7 kept; 5 normalized, 3 dropped, "
        "2 unmapped names>"
    )
    assert repr(IngestReport("empty")) == "<IngestReport empty: 0 read, 0 kept>"


def test_ingest_report_html_escapes_every_field() -> None:
    report = IngestReport(HOSTILE, records_in=2, records_out=1)
    report.drop(HOSTILE)
    report.repair(HOSTILE, 4)
    report.unmapped[HOSTILE] += 1
    report.notes.append(HOSTILE)
    html = report._repr_html_()
    _assert_escaped(html)
    assert html.count("&lt;script&gt;") == 5  # id, two reasons, unmapped name, note
    assert "<td style='text-align:right'>4</td>" in html


def test_ingest_report_html_caps_unmapped_names() -> None:
    report = IngestReport("x")
    for i in range(15):
        report.unmapped[f"name{i}"] += 15 - i
    html = report._repr_html_()
    assert "name0" in html and "name9" in html and "name10" not in html
    assert "and 5 more" in html
    assert "nothing normalized, repaired or dropped" in html


def test_ingest_report_from_a_reader_round_trips() -> None:
    frame = geomap.read("natural-earth", layer="110m_coastline")
    payload = frame.attrs["geomap_report"]
    report = IngestReport.from_dict(payload)
    assert report.to_dict() == payload
    assert report.records_in == payload["records_in"] > 0
    assert "natural-earth" in repr(report) and "<b>ingest report</b>" in report._repr_html_()


def test_ingest_report_from_occurrences_ignores_the_per_dataset_list() -> None:
    frame = geomap.read_occurrences(region="japan", country="JPN", commodities="W")
    payload = frame.attrs["geomap_report"]
    report = IngestReport.from_dict(payload)
    assert report.records_out == len(frame)
    assert report.to_dict() == {k: v for k, v in payload.items() if k != "datasets"}


# ----------------------------------------------------------------------------- validation


def test_validation_report_html(snw_result) -> None:
    report = snw_result.validation
    html = report._repr_html_()
    assert html.startswith("<b>validation</b> WeightsOfEvidence on japan (spatial_block_cv)")
    assert f"{report.auc['held_out']:.3f}" in html and f"{report.auc['training']:.3f}" in html
    assert "top % of area" in html and "% held out" in html
    assert "P&ndash;A point" in html
    assert repr(report).startswith("<ValidationReport WeightsOfEvidence on japan")


def test_validation_report_html_escapes_and_caps_notes(snw_result) -> None:
    hostile = dataclasses.replace(
        snw_result.validation,
        model=HOSTILE,
        method="region_held_out",
        train_region=HOSTILE,
        test_region="japan",
        notes=[HOSTILE] + [f"note {i}" for i in range(7)],
    )
    html = hostile._repr_html_()
    _assert_escaped(html)
    assert "note 3" in html and "note 4" not in html  # five notes shown
    assert "&hellip; 3 more" in html
    assert "&rarr; japan" in html


def test_validation_report_html_without_occurrences(snw_result) -> None:
    empty = dataclasses.replace(
        snw_result.validation,
        auc={"training": None, "held_out": None},
        pa_intersection={"prediction_rate": None},
        notes=[],
    )
    html = empty._repr_html_()
    assert html.count("n/a") == 2 and "P&ndash;A" not in html and "<ul>" not in html


# ----------------------------------------------------------------------------- model result


def test_model_result_repr_is_one_line(snw_result) -> None:
    text = repr(snw_result)
    assert "\n" not in text and len(text) < 300
    assert text.startswith("<ModelResult granite-sn-w / japan: wofe on ")
    held_out = snw_result.validation.auc["held_out"]
    assert f"held-out AUC {held_out:.3f}" in text
    assert "japan -> conus AUC" in text and "conus -> japan AUC" in text


def test_model_result_html(snw_result) -> None:
    html = snw_result._repr_html_()
    assert "<b>model result</b> granite-sn-w / japan: wofe (WeightsOfEvidence)" in html
    assert "spatial block CV in japan" in html
    assert (
        "trained in japan, tested in conus" in html and "trained in conus, tested in japan" in html
    )
    for reason in snw_result.diagnostics()["weak_result_reasons"]:
        assert reason.split(":")[0] in html
    assert f"{len(snw_result.warnings)} warnings" in html


def test_model_result_html_escapes(snw_result) -> None:
    hostile = dataclasses.replace(snw_result, recipe=HOSTILE, region=HOSTILE, model_name=HOSTILE)
    _assert_escaped(hostile._repr_html_())


def test_recipe_repr_is_short_and_html_escaped():
    from geomap.recipes import load_recipe

    recipe = load_recipe("kuroko-vms")
    text = repr(recipe)
    assert text.startswith("Recipe('kuroko-vms'")
    assert len(text) < 200
    hostile = recipe.model_copy(update={"name": "<script>alert(1)</script>"})
    html = hostile._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "felsic_volcanic_distance" in html


# ----------------------------------------------------------------------------- build result


def _build_result(**changes):
    result = BuildResult(
        recipe="kuroko-vms",
        region="japan",
        out=Path("geomap-out") / "kuroko-vms-japan",
        files={name: Path("geomap-out/kuroko-vms-japan") / name for name in ("map.html", "a.tif")},
        metrics={"spatial_cv": {"auc": {"held_out": 0.81234, "training": 0.9}}},
        targets=gpd.GeoDataFrame(
            {"rank": [1, 2, 3]}, geometry=[shapely.box(0, 0, 1, 1)] * 3, crs="EPSG:5070"
        ),
        cache_hits=["evidence/abc"],
        cache_misses=["targets/def"],
        settings={"resolution_m": 25_000.0, "top_percent": 2.0},
    )
    return dataclasses.replace(result, **changes)


def test_build_result_repr_is_one_short_line() -> None:
    text = repr(_build_result())
    assert text == (
        "<BuildResult kuroko-vms / japan, 25 km cells -> geomap-out/kuroko-vms-japan: "
        "held-out AUC 0.812; 3 targets; 2 files>"
    )
    assert "GeoDataFrame" not in text and "\n" not in text
    bare = repr(_build_result(metrics={}, settings={}, files={}))
    assert bare.endswith(
        "cells of unknown size -> geomap-out/kuroko-vms-japan: held-out AUC n/a; 3 targets; "
        "0 files>"
    )


def test_build_result_html_escapes() -> None:
    html = _build_result()._repr_html_()
    assert html.startswith("<b>geomap build</b> kuroko-vms / japan, 25 km cells &rarr; ")
    assert "held-out AUC: 0.812; 3 targets; cache: 1 hits, 1 computed" in html
    assert "<li>a.tif</li><li>map.html</li>" in html
    hostile = _build_result(
        recipe=HOSTILE, region=HOSTILE, out=Path(HOSTILE), files={HOSTILE: Path("x")}
    )
    _assert_escaped(hostile._repr_html_())
    assert hostile._repr_html_().count("&lt;script&gt;") == 4  # recipe, region, out, file name
