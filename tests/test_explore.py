"""The interactive map inline in a notebook: geomap.explore and the results' HTML display."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from _render_inputs import region_inputs

import geomap
from geomap.errors import DataError
from geomap.pipeline.runner import BuildResult
from geomap.render.maps import MapBuilder


@pytest.fixture(scope="module")
def saved_map(tmp_path_factory) -> Path:
    japan = region_inputs("japan", 50_000)
    path = tmp_path_factory.mktemp("explore") / "map.html"
    MapBuilder(title="Inline <test>", basemap=False, online_basemaps=False).add_raster(
        japan["prospectivity"]
    ).save(path)
    return path


def _srcdoc(frame: str) -> str:
    assert frame.startswith('<iframe srcdoc="')
    return html.unescape(frame[len('<iframe srcdoc="') : frame.index('" style=')])


def test_explore_shows_a_saved_map_offline(saved_map):
    shown = geomap.explore(saved_map)
    page = _srcdoc(shown._repr_html_())
    assert page == saved_map.read_text(encoding="utf-8")  # the whole offline page, unchanged
    assert not re.search(r"<(script|link)[^>]+(src|href)=.https?:", page)  # nothing from a CDN
    assert geomap.explore(saved_map.parent)._repr_html_() == shown._repr_html_()


def test_build_result_displays_its_map_inline(saved_map):
    result = BuildResult(
        recipe="kuroko-vms",
        region="japan",
        out=saved_map.parent,
        files={"map.html": saved_map},
        metrics={},
        targets=gpd.GeoDataFrame({"rank": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=3857),
    )
    shown = result._repr_html_()
    assert "<b>geomap build</b>" in shown and "<iframe srcdoc=" in shown
    assert "Inline &lt;test&gt;" in _srcdoc(shown[shown.index("<iframe") :])
    missing = dataclasses.replace(result, files={"map.html": saved_map.with_name("no.html")})
    assert "<iframe" not in missing._repr_html_()  # the summary still shows


def test_explore_draws_a_raster_and_refuses_other_things(saved_map):
    japan = region_inputs("japan", 50_000)
    shown = geomap.explore(japan["prospectivity"], basemap=False, online_basemaps=False)
    assert "Top 1 % of the area" in _srcdoc(shown._repr_html_())
    with pytest.raises(DataError, match="cannot show a int"):
        geomap.explore(3)
    with pytest.raises(DataError, match="does not exist"):
        geomap.explore(saved_map.with_name("missing.html"))
