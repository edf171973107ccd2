"""Maps built from test inputs opened in a real browser (headless Chromium), network blocked.

The browser helpers are in ``tests/_browser.py``; the maps of a real build (``geomap demo``)
are opened in ``tests/test_demo.py``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest
from _browser import _assert_clean, _open
from _render_inputs import region_inputs

from geomap.render.maps import MapBuilder, MapPanel, joint_map

pytestmark = [pytest.mark.browser, pytest.mark.network_free]

XSS_NAME = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


@pytest.fixture(scope="module")
def japan_map(tmp_path_factory) -> tuple[Path, list[str]]:
    data = region_inputs("japan", 20_000)
    occurrences = data["occurrences"].copy()
    occurrences.loc[occurrences.index[0], "name"] = XSS_NAME
    faults = data["faults"].copy()
    faults.loc[faults.index[0], "name"] = XSS_NAME
    builder = MapBuilder(title="Kuroko VMS — Japan <i>test</i>", subtitle="browser test")
    builder.add_region("japan")
    builder.add_raster(data["prospectivity"], kind="prospectivity", name="Prospectivity")
    builder.add_raster(data["uncertainty"], kind="uncertainty", name="Uncertainty")
    builder.add_raster(data["coverage"], kind="coverage", name="Data coverage")
    builder.add_occurrences(occurrences)
    builder.add_faults(faults)
    builder.add_targets(data["targets"])
    path = tmp_path_factory.mktemp("maps") / "japan.html"
    builder.save(path)
    return path, builder.layer_names


def test_map_renders_offline_without_errors(browser, japan_map, tmp_path):
    path, _names = japan_map
    visit = _open(browser, path)
    _assert_clean(visit)
    # the data layers are drawn: raster images decoded, vectors and clusters on the map
    images = visit.js(
        "Array.from(document.querySelectorAll('img.leaflet-image-layer'))"
        ".map(i => [i.complete, i.naturalWidth])"
    )
    assert images and all(done and width > 0 for done, width in images)
    assert visit.js("document.querySelectorAll('.geomap-cluster, .leaflet-marker-icon').length") > 0
    assert visit.js("document.querySelectorAll('canvas.leaflet-zoom-animated').length") >= 1
    # title is text, not markup
    assert visit.js("document.querySelector('.geomap-title').textContent").startswith(
        "Kuroko VMS — Japan <i>test</i>"
    )
    assert visit.js("document.querySelectorAll('.geomap-title i').length") == 0
    # controls: layer control, scale, mini-map, measure, full screen, mouse position, draw
    for selector in (
        ".leaflet-control-layers",
        ".leaflet-control-scale",
        ".leaflet-control-minimap",
        ".leaflet-control-measure",
        ".leaflet-control-zoom-fullscreen",
        ".leaflet-control-mouseposition",
        ".leaflet-draw",
        ".geomap-legend",
    ):
        assert visit.js(f"document.querySelectorAll('{selector}').length") >= 1, selector
    # credits: the attribution line and the sources panel
    attribution = visit.js("document.querySelector('.leaflet-control-attribution').textContent")
    assert "GEM Foundation" in attribution
    sources = visit.js(
        "Array.from(document.querySelectorAll('details'))"
        ".find(d => d.textContent.includes('Sources and licences')).textContent"
    )
    assert "CC-BY-4.0" in sources and "Natural Earth" in sources
    # something was actually painted (not a blank page)
    from PIL import Image

    shot = tmp_path / "japan.png"
    visit.page.screenshot(path=str(shot))
    with Image.open(shot) as image:
        colours = len(
            np.unique(np.asarray(image.convert("RGB").resize((200, 130))).reshape(-1, 3), axis=0)
        )
    assert colours > 200
    visit.page.context.close()


def test_each_layer_in_the_control_exists_and_toggles(browser, japan_map):
    path, names = japan_map
    visit = _open(browser, path)
    entries = visit.js(
        """() => {
        const map = __MAP__;
        const ctl = window[Object.keys(window).find(k => k.startsWith('grouped_layers_'))];
        ctl._expand();
        return ctl._layers.map(o => ({
            name: o.name, overlay: !!o.overlay, group: o.group ? o.group.name : null,
            isLayer: o.layer instanceof L.Layer, on: map.hasLayer(o.layer)}));
    }"""
    )
    assert [html.unescape(e["name"]) for e in entries] == names
    assert all(e["isLayer"] for e in entries)
    labels = visit.js(
        "Array.from(document.querySelectorAll('.leaflet-control-layers label span'))"
        ".map(s => s.textContent.trim())"
    )
    for name in names:
        assert name in labels
    groups = {e["group"] for e in entries if e["overlay"]}
    assert {"Model results", "Known occurrences", "Boundaries and reference"} <= groups
    # switching every overlay on and off through its checkbox adds and removes its layer
    toggled = visit.js(
        """() => {
        const map = __MAP__;
        const ctl = window[Object.keys(window).find(k => k.startsWith('grouped_layers_'))];
        const results = [];
        for (const input of document.querySelectorAll('.leaflet-control-layers-overlays input')) {
            const obj = ctl._getLayer(input.layerId);
            const before = map.hasLayer(obj.layer);
            input.click();
            const after = map.hasLayer(obj.layer);
            input.click();
            results.push([obj.name, before !== after, map.hasLayer(obj.layer) === before]);
        }
        return results;
    }"""
    )
    assert toggled and all(changed and restored for _n, changed, restored in toggled), toggled
    _assert_clean(visit)  # switching layers on (incl. hidden rasters) needed no network
    visit.page.context.close()


def test_untrusted_text_in_popups_is_shown_as_text(browser, japan_map):
    path, _names = japan_map
    visit = _open(browser, path)
    # centre the map on the occurrence whose name is hostile, at full zoom (unclustered)
    point = visit.js(
        """() => new Promise((resolve) => {
        const map = __MAP__;
        let target = null, group = null;
        map.eachLayer(l => {
            if (l instanceof L.MarkerClusterGroup && !target) {
                for (const m of l.getLayers()) {
                    if (l.getTooltip()._content(m).textContent.includes('__xss')) {
                        target = m; group = l; break;
                    }
                }
            }
        });
        if (!target) { resolve(null); return; }
        map.setView(target.getLatLng(), map.getMaxZoom(), {animate: false});
        setTimeout(() => {
            if (!target._map && target.__parent && target.__parent.spiderfy) {
                target.__parent.spiderfy();
            }
            setTimeout(() => {
                const p = map.latLngToContainerPoint(target.getLatLng());
                const box = map.getContainer().getBoundingClientRect();
                resolve([box.left + p.x, box.top + p.y]);
            }, 600);
        }, 800);
    })"""
    )
    assert point is not None, "the occurrence with the hostile name is not on the map"
    visit.page.mouse.click(point[0], point[1])  # a real click, as a user would
    visit.page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    popup = visit.js(
        """() => {
        const el = document.querySelector('.leaflet-popup-content');
        return {title: el.querySelector('.geomap-info-title').textContent,
                images: el.querySelectorAll('img').length,
                scripts: el.querySelectorAll('script').length,
                text: el.textContent};
    }"""
    )
    assert popup is not None, "the occurrence popup did not open"
    assert popup["title"] == XSS_NAME
    assert popup["images"] == 0 and popup["scripts"] == 0
    assert "Source dataset" in popup["text"] and "minmod-usgs-mrdata" in popup["text"]
    assert "Record id" in popup["text"]
    # a fault popup (GeoJSON layer) with the same text
    fault = visit.js(
        """() => {
        const map = __MAP__;
        let found = null;
        map.eachLayer(l => {
            if (!found && l.feature && l.feature.properties &&
                String(l.feature.properties.name).includes('__xss')) { found = l; }
        });
        if (!found) return null;
        found.openPopup(found.getCenter ? found.getCenter() : undefined);
        const el = document.querySelector('.leaflet-popup-content');
        return {title: el.querySelector('.geomap-info-title').textContent,
                images: el.querySelectorAll('img').length};
    }"""
    )
    assert fault == {"title": XSS_NAME, "images": 0}
    assert visit.js("window.__xss === undefined")
    _assert_clean(visit)
    visit.page.context.close()


def test_drawn_polygons_export_as_geojson(browser, japan_map, tmp_path):
    path, _names = japan_map
    visit = _open(browser, path)
    visit.js(
        """() => {
        const map = __MAP__;
        const polygon = L.polygon([[36.0, 138.0], [36.5, 138.0], [36.5, 138.6], [36.0, 138.6]]);
        map.fire(L.Draw.Event.CREATED, {layer: polygon, layerType: 'polygon'});
    }"""
    )
    with visit.page.expect_download() as download_info:
        visit.page.click("#export")
    target = tmp_path / "survey_areas.geojson"
    download_info.value.save_as(target)
    assert download_info.value.suggested_filename == "survey_areas.geojson"
    collection = json.loads(target.read_text())
    assert collection["type"] == "FeatureCollection"
    polygons = [f for f in collection["features"] if f["geometry"]["type"] == "Polygon"]
    assert polygons
    ring = np.array(polygons[0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(138.0) and ring[:, 1].max() == pytest.approx(36.5)
    _assert_clean(visit)
    visit.page.context.close()


def test_tiled_rasters_load_from_the_folder_beside_the_page(browser, tmp_path):
    """Both regions tiled; the US lies east of 180° on the Pacific-centred map."""
    us = region_inputs("conus", 50_000)
    jp = region_inputs("japan", 20_000)
    builder = MapBuilder(title="tiles", max_embed_pixels=1_000, online_basemaps=False)
    builder.add_panel(MapPanel("United States", region="conus", prospectivity=us["prospectivity"]))
    builder.add_panel(MapPanel("Japan", region="japan", prospectivity=jp["prospectivity"]))
    path = tmp_path / "tiled.html"
    builder.save(path)
    visit = _open(browser, path, wait_ms=1500)
    for label, folder in (("United States", "01_united_states"), ("Japan", "02_japan")):
        visit.page.click(f"text={label}")
        visit.page.wait_for_timeout(1200)
        tiles = visit.js(
            "Array.from(document.querySelectorAll('img.leaflet-tile'))"
            ".map(i => [i.src, i.complete, i.naturalWidth])"
        )
        mine = [t for t in tiles if f"tiled_tiles/{folder}" in t[0]]
        assert mine, f"no {label} raster tiles on the page"
        assert all(src.startswith("file:") and done and width == 256 for src, done, width in tiles)
    _assert_clean(visit)  # no request for a tile that was not written
    visit.page.context.close()


def test_joint_us_japan_map_renders(browser, tmp_path):
    us = region_inputs("conus", 50_000)
    jp = region_inputs("japan", 20_000)
    path = tmp_path / "packet.html"
    joint_map(
        [
            MapPanel(
                "United States",
                region="conus",
                prospectivity=us["prospectivity"],
                targets=us["targets"],
                occurrences=us["occurrences"],
            ),
            MapPanel(
                "Japan",
                region="japan",
                prospectivity=jp["prospectivity"],
                targets=jp["targets"],
                occurrences=jp["occurrences"],
            ),
        ],
        path=path,
    )
    visit = _open(browser, path)
    buttons = visit.js(
        "Array.from(document.querySelectorAll('.geomap-zoom-to button')).map(b => b.textContent)"
    )
    assert buttons == ["United States", "Japan"]
    visit.page.click("text=Japan")
    visit.page.wait_for_timeout(600)
    center = visit.js("(() => { const c = __MAP__.getCenter(); return [c.lat, c.lng]; })()")
    assert 24 < center[0] < 46 and 122 < center[1] < 147
    # the two regions are drawn across the Pacific (US longitudes + 360), not across Europe
    visit.page.click("text=United States")
    visit.page.wait_for_timeout(600)
    center = visit.js("(() => { const c = __MAP__.getCenter(); return [c.lat, c.lng]; })()")
    assert 24 < center[0] < 50 and 235 < center[1] < 294
    assert visit.js("__MAP__.getBounds().getWest()") > 120  # Japan west, US east, one ocean
    images = visit.js(
        "Array.from(document.querySelectorAll('img.leaflet-image-layer')).map(i => i.naturalWidth)"
    )
    assert len(images) == 2 and all(w > 0 for w in images)
    _assert_clean(visit)
    visit.page.context.close()
