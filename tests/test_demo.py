"""The README's main command, ``geomap demo``, run as a user runs it, and its real outputs read
back: the maps in headless Chromium with the network blocked, the GeoPackages and COGs with
GDAL (pyogrio, rasterio, rio-cogeo), and an export served from the same product cache.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from _browser import _assert_clean, _open
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from geomap.cli import app

pytestmark = pytest.mark.slow

LAYER_CONTROL_JS = """() => {
    const map = __MAP__;
    const key = Object.keys(window).find(k => k.startsWith('grouped_layers_'));
    const ctl = window[key];
    return ctl._layers.map(o => ({
        name: o.name, group: o.group ? o.group.name : null,
        isLayer: o.layer instanceof L.Layer, drawn: !!o.layer._map || !!o.layer.getLayers}));
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """``geomap demo --out DIR`` on a fresh product cache; (folder, printed output, cache)."""
    cache = tmp_path_factory.mktemp("products")
    out = tmp_path_factory.mktemp("demo") / "geomap-demo"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
        result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output, cache


def test_demo_builds_the_us_and_japan_results_and_the_joint_packet(demo):
    out, printed, _cache = demo
    assert "catalog verified" in printed
    assert f"Open {out / 'packet' / 'packet.html'}" in printed
    for folder, recipe in (("us-ree", "carbonatite-ree"), ("japan-vms", "kuroko-vms")):
        for name in ("map.html", f"{recipe}.gpkg", "report.md", "metrics.json", "targets.csv"):
            assert (out / folder / name).is_file(), f"{folder}/{name} missing"
        for cog in ("prospectivity.tif", "uncertainty.tif", "coverage.tif"):
            assert cog_validate(out / folder / cog)[0], f"{folder}/{cog} is not a valid COG"
        layers = {name for name, _geometry in pyogrio.list_layers(out / folder / f"{recipe}.gpkg")}
        assert {"occurrences", "targets", "layer_styles"} <= layers
    for name in ("packet.html", "packet.gpkg", "summary.md", "targets.csv"):
        assert (out / "packet" / name).is_file(), f"packet/{name} missing"
    packet = out / "packet" / "packet.gpkg"
    summary = pyogrio.read_dataframe(packet, layer="summary", read_geometry=False)
    assert list(summary["region"]) == ["conus", "japan"]
    assert (summary["n_targets"] > 0).all() and summary["held_out_auc"].between(0, 1).all()
    for region, crs_words in (("conus", "Albers"), ("japan", "JGD2011")):
        assert {f"{region}_targets", f"{region}_occurrences"} <= set(
            pyogrio.list_layers(packet)[:, 0]
        )
        with rasterio.open(f"GPKG:{packet}:{region}_prospectivity") as src:
            assert crs_words in src.crs.to_wkt()  # each region in its own analysis CRS
    assert all(p.stat().st_size < 10 * 2**20 for p in out.rglob("*.html"))  # the size budget


def test_demo_refuses_an_existing_folder_unless_overwrite(demo):
    out, _printed, _cache = demo
    before = (out / "us-ree" / "map.html").read_bytes()
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 1
    assert "already exists; pass --overwrite" in result.output
    assert (out / "us-ree" / "map.html").read_bytes() == before


@pytest.mark.browser
@pytest.mark.parametrize("page", ["us-ree/map.html", "japan-vms/map.html", "packet/packet.html"])
def test_real_maps_render_offline_with_every_listed_layer(browser, demo, page):
    out, _printed, _cache = demo
    visit = _open(browser, out / page)
    entries = visit.js(LAYER_CONTROL_JS)
    names = [html.unescape(e["name"]) for e in entries]
    assert entries and all(e["isLayer"] for e in entries), entries
    labels = visit.js(
        "Array.from(document.querySelectorAll('.leaflet-control-layers label span'))"
        ".map(s => s.textContent.trim())"
    )
    assert all(name in labels for name in names)
    joined = " ".join(names).lower()
    for expected in ("prospectivity", "uncertainty", "coverage", "targets", "occurrences"):
        assert expected in joined, f"{page}: no {expected} layer in {names}"
    if page.startswith("japan"):
        assert "prefectures" in joined
    images = visit.js(
        "Array.from(document.querySelectorAll('img.leaflet-image-layer')).map(i => i.naturalWidth)"
    )
    assert images and all(width > 0 for width in images)
    _assert_clean(visit)
    visit.page.context.close()


def test_export_cog_from_the_cli_is_served_from_the_demo_cache(demo, tmp_path, monkeypatch):
    _out, _printed, cache = demo
    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
    target = tmp_path / "export"
    args = ["export", "kuroko-vms", "--region", "japan", "-f", "cog", "--out", str(target)]
    products_before = sorted(cache.glob("*/*"))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(cache.glob("*/*")) == products_before  # all served from the demo's cache
    cogs = [target / "prospectivity.tif", *sorted((target / "evidence").glob("*.tif"))]
    assert len(cogs) > 5
    for cog in cogs:
        assert cog_validate(cog)[0], f"{cog.name} is not a valid COG"
        with rasterio.open(cog) as src:
            assert src.crs is not None and src.overviews(1)
    assert not (target / "map.html").exists()  # only what was asked for


# -- maps that read at a glance and answer a click (issue 15) ---------------------------------

RASTER_ONLY_JS = """(name) => {
    const map = __MAP__;
    const key = Object.keys(window).find(k => k.startsWith('grouped_layers_'));
    const ctl = window[key];
    let kept = null;
    ctl._layers.forEach(o => {
        if (!o.overlay) { return; }
        if (o.name === name && !kept) {
            kept = o.layer; map.addLayer(o.layer); o.layer.setOpacity(1);
        }
        else if (map.hasLayer(o.layer)) { map.removeLayer(o.layer); }
    });
    document.querySelectorAll('.leaflet-control-container').forEach(c => c.style.display = 'none');
    document.querySelectorAll('.geomap-title').forEach(c => c.style.display = 'none');
    window.__kept = kept;
    return !!kept;
}"""


def _pixels(page):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)


@pytest.mark.browser
@pytest.mark.parametrize("page", ["us-ree/map.html", "japan-vms/map.html"])
def test_prospectivity_is_not_one_flat_colour(browser, demo, page):
    """In the study area, no single colour of the prospectivity layer covers more than half.

    The screenshot is in Web Mercator, where a pixel covers less ground the further it is
    from the equator; each pixel is weighted by its ground area (cos² of its latitude) so
    the shares are shares of the study area, as the classes are defined.  The colours must
    hold the classes' nominal shares (1, 4, 5, 10, 30 and 50 % of the area) also where the
    surface ties (the US REE surface has 58 % of its area at one value): "the rest" is half
    the area by definition, so a screenshot of the reprojected raster reads it as half
    within its pixel accuracy (1 percentage point), never as the 54-60 % of untied classes.
    """
    import numpy as np

    out, _printed, _cache = demo
    visit = _open(browser, out / page)
    assert visit.js(RASTER_ONLY_JS, "Prospectivity")
    visit.page.wait_for_timeout(300)
    with_raster = _pixels(visit.page)
    visit.js("() => __MAP__.removeLayer(window.__kept)")
    visit.page.wait_for_timeout(300)
    without = _pixels(visit.page)
    drawn = np.abs(with_raster - without).max(axis=2) > 12  # the study area's pixels
    assert drawn.sum() > 5000, "the prospectivity layer drew almost nothing"
    lats = np.asarray(
        visit.js(
            "(n) => Array.from({length: n}, (_, r) => __MAP__.containerPointToLatLng([0, r]).lat)",
            with_raster.shape[0],
        )
    )
    ground = np.broadcast_to(np.cos(np.radians(lats))[:, None] ** 2, drawn.shape)[drawn]
    colours, inverse = np.unique(with_raster[drawn], axis=0, return_inverse=True)
    areas = np.bincount(inverse.ravel(), weights=ground) / ground.sum()
    shares = sorted(areas[areas > 0.002], reverse=True)
    assert shares == pytest.approx([0.5, 0.3, 0.1, 0.05, 0.04, 0.01], abs=0.01), (page, shares)
    assert areas.max() <= 0.5 + 0.01, (
        f"{page}: colour {colours[areas.argmax()]} covers {areas.max():.1%}"
    )
    visit.page.context.close()


@pytest.mark.browser
def test_a_click_reads_every_layer_value_back(browser, demo):
    """A click answers the value and class drawn there, for the top cell and at random."""
    import rasterio
    from rasterio.warp import transform as warp

    from geomap.styles import PROSPECTIVITY_CLASS_COLORS

    out, _printed, _cache = demo
    folder = out / "us-ree"
    with rasterio.open(folder / "prospectivity.tif") as src:
        values = src.read(1)
        valid = values == values
        rows, cols = (values == values[valid].max()).nonzero()  # the top cell
        rng = np.random.default_rng(5)
        pick = rng.choice(np.flatnonzero(valid), 25, replace=False)
        rows = np.r_[rows[:1], pick // values.shape[1]]
        cols = np.r_[cols[:1], pick % values.shape[1]]
        xs, ys = src.xy(rows, cols)
        lons, lats = warp(src.crs, "EPSG:4326", xs, ys)
    visit = _open(browser, folder / "map.html")
    click = "(ll) => { __MAP__.fire('click', {latlng: L.latLng(ll[1], ll[0])}); return null; }"
    read = (
        "() => Array.from(document.querySelectorAll('.geomap-values tr')).map(r => r.textContent)"
    )
    visit.js(click, [lons[0], lats[0]])
    visit.page.wait_for_timeout(200)
    rows_text = visit.js(read)
    joined = " | ".join(rows_text)
    prospectivity = next(r for r in rows_text if r.startswith("Prospectivity"))
    assert "top 1 %" in prospectivity, joined
    shown = float(prospectivity.removeprefix("Prospectivity").split(" ")[0].replace(",", ""))
    # the value of the drawn cell, at full resolution (3 significant digits shown)
    assert shown == pytest.approx(float(values[valid].max()), rel=5e-3), joined
    for layer in ("Uncertainty", "Coverage"):
        assert any(r.startswith(layer) for r in rows_text), joined
    assert "evidence layers" in joined
    assert len(rows_text) >= 3 + 5  # model layers and the evidence layers
    # at random points, zoomed in so a drawn cell spans many pixels: the class in the popup
    # is the class whose colour is drawn under the click
    palette = np.array(
        [[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in PROSPECTIVITY_CLASS_COLORS]
    )
    labels = ["top 1 %", "1–5 %", "5–10 %", "10–20 %", "20–50 %", "rest"]
    assert visit.js(RASTER_ONLY_JS, "Prospectivity")
    checked = 0
    for lon, lat in zip(lons[1:], lats[1:], strict=True):
        visit.js(
            "(ll) => { __MAP__.setView(L.latLng(ll[1], ll[0]), 10, {animate: false}); }", [lon, lat]
        )
        visit.page.wait_for_timeout(150)
        point = visit.js(
            "(ll) => { const p = __MAP__.latLngToContainerPoint(L.latLng(ll[1], ll[0]));"
            " return [Math.round(p.x), Math.round(p.y)]; }",
            [lon, lat],
        )
        colour = _pixels(visit.page)[point[1], point[0]]
        drawn = labels[int(np.abs(palette - colour).sum(axis=1).argmin())]
        visit.js(click, [lon, lat])
        visit.page.wait_for_timeout(50)
        row = next(r for r in visit.js(read) if r.startswith("Prospectivity"))
        assert f"({drawn})" in row, (lon, lat, drawn, row)
        checked += 1
    assert checked == 25
    _assert_clean(visit)
    visit.page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [412, 1280])
@pytest.mark.parametrize("page", ["us-ree/map.html", "packet/packet.html"])
def test_phone_width_layout(browser, demo, page, width):
    """At 412 px (a phone) and 1280 px the controls, minimap and legend do not overlap; the
    legend folds on the phone."""
    out, _printed, _cache = demo
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": 915 if phone else 860}, is_mobile=phone
    )
    tab = context.new_page()
    tab.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
    )
    tab.goto((out / page).resolve().as_uri())
    tab.wait_for_function("document.querySelector('.leaflet-container') !== null")
    tab.wait_for_timeout(1500)
    html = (out / page).read_text(encoding="utf-8")
    assert 'name="viewport"' in html
    boxes = tab.evaluate(
        """() => Array.from(document.querySelectorAll('.leaflet-control, .geomap-title'))
            .filter(e => e.offsetParent !== null && getComputedStyle(e).display !== 'none')
            .map(e => { const r = e.getBoundingClientRect();
                        return {cls: e.className, l: r.left, t: r.top, r: r.right, b: r.bottom}; })
            .filter(b => b.r > b.l && b.b > b.t)"""
    )
    assert boxes
    for i, a in enumerate(boxes):
        assert a["l"] >= 0 and a["r"] <= width + 1, a
        for b in boxes[i + 1 :]:
            overlap = min(a["r"], b["r"]) - max(a["l"], b["l"]) > 1 and (
                min(a["b"], b["b"]) - max(a["t"], b["t"]) > 1
            )
            assert not overlap, f"{a['cls']} overlaps {b['cls']}"
    legend_open = tab.evaluate("() => document.querySelector('.geomap-legend details').open")
    assert legend_open is not phone  # folded on a phone, open on a desktop
    tab.click(".geomap-legend summary")
    assert tab.evaluate("() => document.querySelector('.geomap-legend details').open") is phone
    context.close()


@pytest.mark.parametrize("page", ["us-ree/map.html", "japan-vms/map.html", "packet/packet.html"])
def test_legend_entries_are_far_apart_in_colour(demo, page):
    """No two legend entries closer than ΔE 10 (CIELAB), nor than 4 under deuteranopia.

    Entries are the kinds (targets, faults, training sites, commodity groups, geology classes)
    and the prospectivity classes; the steps of a sequential ramp (coverage counts, marked
    ``geomap-ramp``) are ordered shades of one colour and are not compared.
    """
    import re

    from geomap.render._colour import closest_pair

    out, _printed, _cache = demo
    text = (out / page).read_text(encoding="utf-8").replace("\\u003c", "<").replace("\\u003e", ">")
    entries = re.findall(
        r'geomap-swatch\\?" style=\\?"background:(#[0-9a-fA-F]{6})[^>]*></span>([^<]+)<', text
    )
    assert len(entries) >= 8, entries
    swapped = [(label, color) for color, label in entries]
    distance, a, b = closest_pair(swapped)
    assert distance >= 10, f"{page}: {a!r} and {b!r} are ΔE {distance:.1f} apart"
    distance, a, b = closest_pair(swapped, deuteranopia=True)
    assert distance >= 4, f"{page}: {a!r} and {b!r} are ΔE {distance:.1f} apart (deuteranopia)"


def test_packet_summary_is_rounded_human_and_states_each_models_caveats(demo):
    import re

    out, _printed, _cache = demo
    text = (out / "packet" / "summary.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| "))
    assert "Held-out AUC" in header and "Target area (km²)" in header
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", header), header  # no raw column names
    assert not re.search(r"\d\.\d{4,}", text.split("## Attribution")[0])  # rounded figures
    caveats = text.split("## Caveats")[1].split("## Attribution")[0]
    for region in ("Conterminous United States", "Japan"):
        assert region in caveats
    assert caveats.count("Conditional-independence test failed") == 2  # both WofE models
    assert "classes compare across regions" in text


def test_targets_carry_the_same_centroid_everywhere(demo, monkeypatch):
    import re

    out, _printed, cache = demo
    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
    folder = out / "japan-vms"
    csv = pd.read_csv(folder / "targets.csv")
    gpkg = pyogrio.read_dataframe(folder / "kuroko-vms.gpkg", layer="targets")
    packet = pd.read_csv(out / "packet" / "targets.csv")
    result = CliRunner().invoke(app, ["targets", "kuroko-vms", "--region", "japan", "-f", "csv"])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(io.StringIO(result.output))
    japan = packet[packet["region"] == "japan"].reset_index(drop=True)
    for frame in (gpkg, japan, cli):
        assert np.allclose(frame["centroid_lon"], csv["centroid_lon"], atol=1e-6)
        assert np.allclose(frame["centroid_lat"], csv["centroid_lat"], atol=1e-6)
    assert (out / "packet" / "packet.qgs").is_file() and (folder / "kuroko-vms.qgs").is_file()
    html_text = (folder / "map.html").read_text(encoding="utf-8")
    assert "Centroid longitude" in html_text
    assert not re.search(r'"-?\d(\.\d+)?e\+\d+"', html_text)  # "28,700", not "2.87e+04"


def test_geopackage_class_tables_are_the_class_cogs_cells(demo):
    out, _printed, _cache = demo
    packet = out / "packet" / "packet.gpkg"
    for folder, recipe, region in (
        ("us-ree", "carbonatite-ree", "conus"),
        ("japan-vms", "kuroko-vms", "japan"),
    ):
        with rasterio.open(out / folder / "prospectivity_classes.tif") as src:
            expected = src.read(1)
        for source in (
            f"GPKG:{out / folder / f'{recipe}.gpkg'}:prospectivity_classes",
            f"GPKG:{packet}:{region}_prospectivity_classes",
        ):
            with rasterio.open(source) as src:
                assert src.nodata == 0
                assert np.array_equal(src.read(1), expected), source  # QGIS shows the map's


def test_us_training_sites_outside_the_us_are_flagged_and_drawn_apart(demo):
    out, _printed, _cache = demo
    gpkg = out / "us-ree" / "carbonatite-ree.gpkg"
    sites = pyogrio.read_dataframe(gpkg, layer="training_sites")
    in_study_area = sites["in_study_area"].astype(bool)
    assert not (sites["training"].astype(bool) & ~in_study_area).any()  # none trains
    outside = sites[sites["reason"].str.startswith("outside the study area")]
    # the conterminous-US box reaches into Ontario, Quebec and Coahuila
    assert len(outside) and set(outside["state"]) <= {"Ontario", "Quebec", "Coahuila"}
    assert outside["reason"].str.contains("recorded in (CAN|MEX), not in USA").all()
    assert not in_study_area[outside.index].any()
    report = (out / "us-ree" / "report.md").read_text(encoding="utf-8")
    # the model left the same sites out that the audit drops
    assert f"{len(outside)} occurrences fall in cells outside the study area" in report
    kept = int(sites["training"].astype(bool).sum())
    assert f"{kept} train and validate the model" in report
