"""The README's main command, ``geomap demo``, run as a user runs it, and its real outputs read
back: the maps in headless Chromium with the network blocked, the GeoPackages and COGs with
GDAL (pyogrio, rasterio, rio-cogeo), and an export served from the same product cache.
"""

from __future__ import annotations

import html
from pathlib import Path

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
