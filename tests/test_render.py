"""Interactive maps and static figures, checked without a browser (see test_browser.py).

Inputs are real: GEM faults and MinMod occurrences from the mirror, and evidence layers
computed from them on the catalog regions' analysis grids (tests/_render_inputs.py).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from _render_inputs import region_inputs

from geomap import styles
from geomap.errors import CRSError, DataError, ExportError, UnknownNameError
from geomap.render._assets import asset_text, inline_assets, remote_references
from geomap.render._elements import safe_json
from geomap.render.maps import MapBuilder, MapPanel, joint_map, prospectivity_map, save_map

XSS_NAME = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


@pytest.fixture(scope="module")
def japan():
    return region_inputs("japan", 20_000)


@pytest.fixture(scope="module")
def conus():
    return region_inputs("conus", 50_000)


def _embedded_json(html: str, marker: str) -> list[str]:
    return re.findall(marker, html)


# -- escaping and assets ---------------------------------------------------------------------


def test_safe_json_cannot_close_a_script_element():
    text = safe_json({"a": "</script><script>alert(1)</script>", "b": "x\u2028y & z"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "x\u2028y & z"}


def test_safe_json_refuses_nan():
    with pytest.raises(ValueError, match="JSON"):
        safe_json({"a": float("nan")})


def test_assets_come_from_the_installed_package_and_inline():
    leaflet = asset_text("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
    assert "Leaflet" in leaflet and len(leaflet) > 100_000
    # another version of the same file resolves to the packaged one
    assert asset_text("https://unpkg.com/leaflet@1.9.9/dist/leaflet.js") == leaflet
    page = (
        '<html><head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
        '</script><link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/'
        'leaflet.css"/></head></html>'
    )
    out = inline_assets(page)
    assert remote_references(out) == []
    assert "L.Map" in out or "Leaflet" in out
    assert "<style>" in out


def test_unknown_asset_is_an_error_not_a_network_dependency():
    with pytest.raises(ExportError, match="does not ship"):
        inline_assets('<script src="https://example.invalid/not-a-library.js"></script>')


def test_relative_css_urls_are_dropped_so_nothing_is_requested():
    css_url = "https://cdnjs.cloudflare.com/ajax/libs/leaflet-minimap/3.6.1/Control.MiniMap.css"
    out = inline_assets(f'<link rel="stylesheet" href="{css_url}"/>')
    assert "images/toggle" not in out
    assert "<style>" in out


# -- styles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "group"),
    [
        ("Nd;Cu", "Rare earth elements"),
        ("REE", "Rare earth elements"),
        ("Li", "Lithium"),
        ("Zn;Pb;Ag", "Zinc–lead"),
        ("graphite", "Battery metals (Co, Ni, Mn, graphite)"),
        ("sand_gravel", styles.OTHER_GROUP[0]),
        (None, styles.UNKNOWN_GROUP[0]),
        (float("nan"), styles.UNKNOWN_GROUP[0]),
        (["W", "Sn"], "Tin–tungsten"),
    ],
)
def test_commodity_groups(codes, group):
    assert styles.commodity_group(codes) == group
    assert re.fullmatch(r"#[0-9a-f]{6}", styles.commodity_group_color(group))


# -- the map -----------------------------------------------------------------------------------


def test_japan_map_has_every_layer_and_needs_no_network(japan, tmp_path):
    occurrences = japan["occurrences"].copy()
    occurrences.loc[occurrences.index[0], "name"] = XSS_NAME
    path = tmp_path / "japan.html"
    prospectivity_map(
        japan["prospectivity"],
        uncertainty=japan["uncertainty"],
        coverage=japan["coverage"],
        occurrences=occurrences,
        faults=japan["faults"],
        targets=japan["targets"],
        region="japan",
        title="Kuroko VMS — Japan",
        path=path,
    )
    html = path.read_text(encoding="utf-8")
    assert remote_references(html) == []
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    # the untrusted name is in the page only as escaped JSON, never as markup
    assert "<script>window.__xss" not in html
    assert "<img src=x onerror" not in html
    assert "\\u003cscript\\u003ewindow.__xss=1" in html
    # data layers embedded: rasters as PNG data URIs, vectors as GeoJSON
    assert html.count("data:image/png;base64,") >= 3
    assert "L.markerClusterGroup" in html
    # tiles are offered, never required
    for url in ("tile.openstreetmap.org", "basemap.nationalmap.gov", "cyberjapandata.gsi.go.jp"):
        assert url in html
    gsi_credit = "地理院タイル"
    assert gsi_credit in html or json.dumps(gsi_credit)[1:-1] in html
    assert path.stat().st_size < 10 * 2**20


def test_layer_control_names_and_groups(japan):
    builder = MapBuilder(title="t")
    builder.add_region("japan")
    builder.add_raster(japan["prospectivity"], kind="prospectivity", name="Prospectivity")
    builder.add_raster(japan["coverage"], kind="coverage", name="Data coverage")
    builder.add_occurrences(japan["occurrences"])
    builder.add_faults(japan["faults"])
    builder.add_targets(japan["targets"])
    builder.to_map()
    names = builder.layer_names
    assert names[0] == "No basemap (offline)"
    for expected in (
        "Prospectivity",
        "Data coverage",
        "Faults",
        "Targets",
        "Coastline",
        "Japanese prefectures",
        "GSI pale map (地理院タイル 淡色地図)",
        "USGS topographic (The National Map)",
        "OpenStreetMap",
    ):
        assert expected in names
    occurrence_layers = [n for n in names if " occurrences (" in n]
    counts = [
        int(re.search(r"\(([\d,]+)\)$", n).group(1).replace(",", "")) for n in occurrence_layers
    ]
    assert sum(counts) == len(japan["occurrences"])  # every occurrence is drawn, none dropped


def test_attribution_lists_every_dataset_with_its_licence(japan, catalog, tmp_path):
    path = tmp_path / "m.html"
    prospectivity_map(
        japan["prospectivity"],
        occurrences=japan["occurrences"],
        faults=japan["faults"],
        region="japan",
        path=path,
    )
    html = path.read_text(encoding="utf-8")
    for dataset_id in (
        "gem-global-active-faults-2017",
        "minmod-usgs-mrdata",
        "natural-earth",
        "japan-prefectures-globalmap",
    ):
        ds = catalog.dataset(dataset_id)
        assert ds.id in html
        assert ds.license.spdx in html
    assert "Sources and licences (4 datasets)" in html


def test_unknown_dataset_is_credited_as_unknown_not_dropped(japan):
    builder = MapBuilder(title="t", basemap=False).add_raster(japan["prospectivity"])
    builder.add_datasets(["no-such-dataset"])
    html = builder.to_map().get_root().render()
    assert "no-such-dataset" in html and "licence unknown" in html


def test_large_raster_switches_to_tiles(japan, tmp_path):
    builder = MapBuilder(title="tiles", max_embed_pixels=2_000, online_basemaps=False)
    builder.add_region("japan").add_raster(japan["prospectivity"], kind="prospectivity")
    path = tmp_path / "tiled.html"
    builder.save(path)
    html = path.read_text(encoding="utf-8")
    tiles = tmp_path / "tiled_tiles"
    pngs = sorted(tiles.rglob("*.png"))
    assert pngs, "no tiles written"
    # the URL template's braces are written as JSON escapes (no "{" reaches the page source)
    assert "tiled_tiles/01_" in html and r"\u007bz\u007d/\u007bx\u007d/\u007by\u007d.png" in html
    assert "L.imageOverlay" not in html  # the raster is not embedded
    from PIL import Image

    with Image.open(pngs[len(pngs) // 2]) as tile:
        assert tile.size == (256, 256)
    # a notebook map without a tile folder shows the raster decimated, and says so
    builder.to_map()
    assert any("reduced resolution" in note for note in builder.notes)


def test_joint_map_shows_both_regions_in_their_own_crs(japan, conus, tmp_path):
    assert japan["prospectivity"].rio.crs != conus["prospectivity"].rio.crs
    summary = pd.DataFrame(
        {
            "region": ["United States", "Japan"],
            "targets": [len(conus["targets"]), len(japan["targets"])],
            "note": ["<b>bold?</b>", "ok"],
        }
    )
    path = tmp_path / "packet.html"
    joint_map(
        [
            MapPanel(
                "United States",
                region="conus",
                prospectivity=conus["prospectivity"],
                occurrences=conus["occurrences"],
                targets=conus["targets"],
            ),
            MapPanel(
                "Japan",
                region="japan",
                prospectivity=japan["prospectivity"],
                occurrences=japan["occurrences"],
                targets=japan["targets"],
            ),
        ],
        summary=summary,
        path=path,
    )
    html = path.read_text(encoding="utf-8")
    assert html.count('"Prospectivity"') >= 2  # one short name per region's group
    assert "United States: Model results" in html and "Japan: Model results" in html
    # the summary table is escaped (HTML entities, inside a JSON string)
    assert "<b>bold?</b>" not in html and "\\u0026lt;b\\u0026gt;bold?" in html
    assert path.stat().st_size < 10 * 2**20


def test_image_bounds_match_the_raster_footprint(japan):
    from geomap.render._raster import prepare_display_raster, source_lonlat_bounds

    shown = prepare_display_raster(japan["prospectivity"], max_pixels=10**6, what="p")
    west, south, east, north = source_lonlat_bounds(japan["prospectivity"])
    bw, bs, be, bn = shown.bounds_lonlat
    cell = 20_000 / 111_000 * 2
    assert abs(bw - west) < cell and abs(be - east) < cell
    assert abs(bs - south) < cell and abs(bn - north) < cell
    # no data stays transparent: the share of valid cells is about the same after reprojection
    source_valid = float(np.isfinite(japan["prospectivity"].values).mean())
    shown_valid = float(np.isfinite(shown.values).mean())
    assert shown_valid == pytest.approx(source_valid, abs=0.25)


def test_antimeridian_raster_stays_continuous():
    from geomap.grid import region_grid
    from geomap.render._raster import prepare_display_raster

    grid = region_grid("alaska", 100_000)
    values = np.linspace(0, 1, grid.shape.y * grid.shape.x, dtype="float32").reshape(grid.shape)
    da = xr.DataArray(
        values, dims=("y", "x"), coords={"y": grid.coords["y"].values, "x": grid.coords["x"].values}
    ).rio.write_crs(grid.crs.to_wkt())
    shown = prepare_display_raster(da, max_pixels=10**6, what="alaska")
    west, _south, east, _north = shown.bounds_lonlat
    assert 150 < west < 180 < east < 270  # one piece across 180°, not a world-wide strip
    assert east - west < 120
    builder = MapBuilder(title="Alaska", online_basemaps=False).add_region("alaska")
    builder.add_raster(da)
    html = builder.to_map().get_root().render()
    assert "Alaska" in html


def test_vectors_without_crs_are_refused(japan):
    frame = japan["faults"].copy()
    frame = frame.set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="no CRS"):
        MapBuilder(basemap=False).add_faults(frame)
    raster = xr.DataArray(japan["prospectivity"].values, dims=("y", "x"))
    with pytest.raises(CRSError, match="no CRS"):
        MapBuilder(basemap=False).add_raster(raster)


def test_bad_options_name_the_value():
    with pytest.raises(DataError, match="'heatmap'"):
        MapBuilder().add_raster(
            xr.DataArray(np.zeros((2, 2)), dims=("y", "x")).rio.write_crs("EPSG:5070"),
            kind="heatmap",
        )
    with pytest.raises(ExportError, match=r"\.html"):
        MapBuilder(basemap=False).save("/tmp/not-a-map.txt")


def test_empty_and_null_geometries_are_counted_not_silently_dropped(japan):
    occ = japan["occurrences"].iloc[:5].copy()
    occ.loc[occ.index[0], "geometry"] = None
    occ.loc[occ.index[1], "geometry"] = shapely.Point()
    builder = MapBuilder(basemap=False).add_occurrences(occ)
    builder.to_map()
    assert any("2 feature(s) without geometry" in note for note in builder.notes)


def test_save_map_is_atomic(japan, tmp_path, monkeypatch):
    path = tmp_path / "m.html"
    path.write_text("previous map")
    m = MapBuilder(basemap=False).add_raster(japan["prospectivity"]).to_map()

    def broken(*_args, **_kwargs):
        raise KeyboardInterrupt

    import geomap.render._html as html_writer

    monkeypatch.setattr(html_writer, "render_html", broken)
    with pytest.raises(KeyboardInterrupt):
        save_map(m, path)
    assert path.read_text() == "previous map"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.html"]


def test_size_budget_warns(japan, tmp_path):
    builder = MapBuilder(basemap=False, size_budget_bytes=50_000).add_raster(japan["prospectivity"])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        builder.save(tmp_path / "big.html")
    assert any("budget" in str(w.message) for w in seen)


# -- figures -----------------------------------------------------------------------------------


def test_prospectivity_figure_at_print_resolution(japan, tmp_path):
    from PIL import Image

    from geomap.render.figures import plot_prospectivity

    path = tmp_path / "prospectivity.png"
    plot_prospectivity(
        japan["prospectivity"],
        path,
        occurrences=japan["occurrences"],
        targets=japan["targets"],
        title="Japan",
    )
    with Image.open(path) as image:
        dpi = image.info["dpi"]
        assert round(dpi[0]) == 300
        assert image.size[0] >= 7 * 300 and image.size[1] >= 5 * 300
        assert "Source" not in image.text  # no datasets given: no credit claimed


def test_figures_credit_their_datasets_in_the_png(japan, catalog, tmp_path):
    from PIL import Image

    from geomap.core.provenance import source_ids
    from geomap.render.figures import plot_prospectivity, plot_validation_curves

    # the ids the readers recorded on the mirrored faults and occurrences
    datasets = [*source_ids(japan["faults"]), *source_ids(japan["occurrences"])]
    assert datasets == ["gem-global-active-faults-2017", "minmod-usgs-mrdata"]
    path = tmp_path / "prospectivity.png"
    fig = plot_prospectivity(japan["prospectivity"], path, datasets=datasets, catalog=catalog)
    line = fig._supxlabel.get_text().replace("\n", " ")
    assert "gem-global-active-faults-2017 (CC-BY-4.0)" in line
    assert "minmod-usgs-mrdata (MIT)" in line
    roc = pd.DataFrame({"fpr": [0, 0.2, 1], "tpr": [0, 0.7, 1]})
    curves = tmp_path / "curves.png"
    plot_validation_curves({"roc": roc}, curves, datasets=datasets, catalog=catalog)
    faults = catalog.dataset("gem-global-active-faults-2017")
    for png in (path, curves):
        with Image.open(png) as image:
            text = dict(image.text)
        assert text["Software"] == "geomap"
        assert text["Source"].splitlines() == [
            f"gem-global-active-faults-2017: {faults.title}",
            f"minmod-usgs-mrdata: {catalog.dataset('minmod-usgs-mrdata').title}",
        ]
        assert text["Copyright"].startswith(
            "gem-global-active-faults-2017: CC-BY-4.0\nminmod-usgs-mrdata: MIT\n\n"
        )
        assert faults.license.attribution in text["Copyright"]
        assert faults.citation in text["Copyright"]
    with pytest.raises(UnknownNameError, match="did you mean"):
        plot_prospectivity(japan["prospectivity"], datasets=["gem-global-active-fault"])


def test_validation_curves_from_the_models_report(tmp_path):
    from PIL import Image

    from geomap.models.curves import prediction_area_curve, rate_curve, roc_table
    from geomap.render.figures import plot_validation_curves

    rng = np.random.default_rng(1)
    score = rng.random(2_000)
    labels = (rng.random(2_000) < score**4).astype(int)
    roc, _auc = roc_table(labels, score, label="held_out")
    pa, point = prediction_area_curve(score, labels)

    class Report:  # the attributes plot_validation_curves reads from a ValidationReport
        model = "WeightsOfEvidence"
        method = "spatial_block_cv"
        train_region = "japan"
        test_region = "japan"
        pa_intersection = point
        curves = {  # noqa: RUF012
            "roc": roc,
            "success_rate": rate_curve(score, labels),
            "prediction_rate": rate_curve(score, labels),
            "pa": pa,
        }

    path = tmp_path / "curves.png"
    fig = plot_validation_curves(Report(), path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["ROC", "Success rate (training)", "Prediction rate (held out)", "P–A plot"]
    assert "WeightsOfEvidence" in fig._suptitle.get_text()
    with Image.open(path) as image:
        assert round(image.info["dpi"][0]) == 300
    # text is drawn literally, so no tick label may carry mathtext source (the P–A log axis)
    pa_axis = fig.axes[3]
    assert pa_axis.get_xscale() == "log"
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert [t for t in ticks if t] and not [t for t in ticks if "$" in t or "mathdefault" in t]


def test_validation_curves_name_missing_columns():
    from geomap.render.figures import plot_validation_curves

    with pytest.raises(DataError, match="fpr"):
        plot_validation_curves({"roc": pd.DataFrame({"x": [0, 1], "y": [0, 1]})})
    with pytest.raises(DataError, match="no validation curves"):
        plot_validation_curves({"other": pd.DataFrame()})


def test_geojson_popup_fields_are_text(japan):
    """Fault popups list attribute names and values; values are data, not markup."""
    faults = japan["faults"].iloc[:3].copy()
    faults["name"] = XSS_NAME
    m = MapBuilder(basemap=False).add_faults(faults).to_map()
    html = m.get_root().render()
    assert XSS_NAME not in html
    assert "geomap.featureInfo" in html


def test_builder_repr_and_notebook_display(japan):
    builder = MapBuilder(title="t", basemap=False).add_raster(japan["prospectivity"], name="P")
    assert "MapBuilder" in repr(builder) and "'P'" in repr(builder)
    m = builder.to_map()
    assert "<iframe" in m._repr_html_()


def test_points_frame_in_projected_crs_is_reprojected_for_display(conus):
    occ = conus["occurrences"].iloc[:20]
    assert occ.crs.to_epsg() == 5070
    m = MapBuilder(basemap=False).add_occurrences(occ).to_map()
    html = m.get_root().render()
    lon = float(occ.to_crs("EPSG:4326").geometry.x.iloc[0])
    assert f"{round(lon, 5)}" in html


def test_geodataframe_in_geographic_crs_works(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["a"], "commodities": ["Li"]}, geometry=[shapely.Point(-117, 36)], crs="EPSG:4326"
    )
    path = tmp_path / "p.html"
    save_map(MapBuilder(basemap=False).add_occurrences(frame), path)
    assert Path(path).exists()


def test_geology_is_coloured_by_class_with_a_legend(tmp_path):
    import geomap

    geology = geomap.read("hasterok-global-geologic-provinces", region="conus")
    classes = sorted(geology["lithology"].dropna().astype(str).unique())
    assert len(classes) > 1
    builder = MapBuilder(title="Geologic provinces", online_basemaps=False)
    builder.add_region("conus").add_geology(geology, show=True)
    path = tmp_path / "geology.html"
    builder.save(path)
    html = path.read_text(encoding="utf-8")
    assert "Geology" in builder.layer_names
    from geomap.harmonize.lithology import load_lithology_vocabulary

    vocabulary = {c.id: c for c in load_lithology_vocabulary().classes}
    for class_id in classes:
        label = vocabulary[class_id].name.split(" (")[0]
        if class_id == "unknown":  # outlined only: no fill over the sea, no legend entry
            assert f"{label}\\u003c/div" not in html
            continue
        assert f"{label}\\u003c/div" in html  # one human legend entry each (HTML in JSON)
        assert vocabulary[class_id].color in html
    legend_labels = [label for kind, label, _ in builder.legend_entries if kind == "geology"]
    assert legend_labels and not any("_" in label for label in legend_labels)
    assert "Lastorogen" not in html and "Conjugate1" not in html
    assert "hasterok-global-geologic-provinces" in html  # credited
    assert path.stat().st_size < 10 * 2**20


def test_builder_displays_offline_in_a_notebook(japan):
    builder = MapBuilder(title="t", basemap=False).add_raster(japan["prospectivity"])
    shown = builder._repr_html_()
    assert shown.startswith("<iframe") and "srcdoc=" in shown
    assert "cdn.jsdelivr.net/npm/leaflet@" not in shown.split("srcdoc=", 1)[1][:2000]


def test_same_inputs_give_a_byte_identical_map(japan, tmp_path):
    def build(path):
        builder = MapBuilder(title="Japan")
        builder.add_region("japan").add_raster(japan["prospectivity"])
        builder.add_occurrences(japan["occurrences"]).add_targets(japan["targets"])
        builder.save(path)
        return path.read_bytes()

    first = build(tmp_path / "a.html")
    assert first == build(tmp_path / "b.html")
    assert b"map_000" in first  # ids numbered in tree order, not random


def test_evidence_layer_names_are_human():
    """Layer list and click panel name evidence in words, never by identifier."""
    import xarray as xr

    from geomap.render._layers import _evidence_name

    def layer(long_name: str) -> xr.DataArray:
        return xr.DataArray(np.zeros((2, 2)), attrs={"long_name": long_name})

    assert _evidence_name("carbonatite_distance", layer("distance to carbonatite_distance")) == (
        "Carbonatite distance"
    )
    assert _evidence_name("lithology_score", layer("lithology_score favourability score")) == (
        "Lithology score"
    )
    assert _evidence_name("gravity", layer("Bouguer gravity anomaly")) == "Bouguer gravity anomaly"
    assert _evidence_name("magnetic_tilt", xr.DataArray(np.zeros((2, 2)))) == "Magnetic tilt"


@pytest.fixture(scope="module")
def us_masked():
    """The US inputs with prospectivity masked to the country, as a build masks it."""
    from geomap.pipeline.study_area import country_mask

    us = region_inputs("conus", 50_000)
    surface = us["prospectivity"]
    inside = country_mask(surface.to_dataset(name="prospectivity"), ["USA"])
    us["prospectivity"] = surface.where(inside.values == 1).rio.write_crs(surface.rio.crs)
    return us


def test_sites_outside_the_study_area_are_found(us_masked):
    from geomap.export.sites import on_data_cells

    sites = us_masked["occurrences"]
    flags = on_data_cells(sites, us_masked["prospectivity"])
    names = dict(zip(sites["name"].tolist(), flags.tolist(), strict=True))
    # carbonatites of Ontario and Quebec lie in the conterminous US box, not in the US
    for name in ("St. Honore (Niobec)", "Prairie Lake", "Lackner Lake", "Nemegosenda Lake"):
        assert names[name] is False, name
    assert any(v for k, v in names.items() if k and k.startswith("Mountain Pass"))
    outside = sites.loc[~flags, "state"]
    assert {"Ontario", "Quebec"} <= set(outside)
    assert flags.sum() > 0.8 * (sites["country"] == "USA").sum()


def test_prospectivity_figure_flags_outside_sites_and_outlines_targets(us_masked, tmp_path):
    from matplotlib.colors import to_hex

    from geomap.export.sites import on_data_cells
    from geomap.render.figures import plot_prospectivity

    sites = us_masked["occurrences"]
    inside = int(on_data_cells(sites, us_masked["prospectivity"]).sum())
    fig = plot_prospectivity(
        us_masked["prospectivity"],
        tmp_path / "us.png",
        occurrences=sites,
        occurrences_label="Training occurrences",
        targets=us_masked["targets"],
        dpi=72,
    )
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"Training occurrences ({inside:,})" in labels
    assert f"Training occurrences\noutside the study area ({len(sites) - inside:,})" in labels
    target_color = styles.LAYER_STYLES["target"]["color"]
    polygons = [c for c in ax.collections if len(c.get_paths()) == len(us_masked["targets"])]
    assert polygons, "targets not drawn"
    targets = polygons[0]
    assert (targets.get_facecolor()[:, 3] == 0).all()  # outlined, not filled
    assert {to_hex(c) for c in targets.get_edgecolor()} == {target_color}
    assert (targets.get_linewidths() <= 0.5).all()  # thin: small targets stay hollow


def test_map_draws_training_sites_outside_the_study_area_apart(us_masked):
    from geomap.export.sites import on_data_cells

    sites = us_masked["occurrences"].copy()
    sites["training"] = np.arange(len(sites)) % 2 == 0  # every other site trains
    inside = on_data_cells(sites, us_masked["prospectivity"])
    used = int((sites["training"] & inside).sum())
    left_out = int((sites["training"] & ~inside).sum())
    assert used and left_out
    m = prospectivity_map(us_masked["prospectivity"], occurrences=sites)
    html = m.get_root().render()
    assert f"Training sites ({used:,})" in html
    assert f"Training sites outside the study area ({left_out:,}, not used)" in html
    assert "outside the study area (no evidence data on its cell)" in html  # popup reason
    plain = prospectivity_map(occurrences=sites)  # no raster: nothing to tell them apart by
    assert "outside the study area" not in plain.get_root().render()


def _geojson_layers(html: str) -> list[tuple[dict, dict]]:
    """Every ``L.geoJSON`` overlay of a written map: (its FeatureCollection, its popup info)."""
    decoder = json.JSONDecoder()
    layers = []
    for match in re.finditer(r"onEachFeature: geomap\.featureInfo\(", html):
        info, _ = decoder.raw_decode(html, match.end())
        data_at = html.rindex("= L.geoJSON(", 0, match.start()) + len("= L.geoJSON(")
        data, _ = decoder.raw_decode(html, data_at)
        layers.append((data, info))
    return layers


def test_map_draws_the_training_rings_once_shown_on_opening(us_masked, tmp_path):
    """A build's map gets flagged occurrences and the audit: one set of rings, visible."""
    from geomap.export.sites import on_data_cells
    from geomap.training import flag_training

    sites = us_masked["occurrences"]
    inside = on_data_cells(sites, us_masked["prospectivity"])
    audit = sites.copy()
    audit["training"] = inside & (np.arange(len(sites)) % 3 == 0)  # trains inside the area
    audit["reason"] = np.where(audit["training"], "kept: known deposit", "dropped: a prospect")
    occurrences = flag_training(sites, audit)
    path = tmp_path / "map.html"
    prospectivity_map(
        us_masked["prospectivity"],
        occurrences=occurrences,
        training_sites=audit,
        path=path,
        online_basemaps=False,
    )
    html = path.read_text(encoding="utf-8")
    rings = [
        (data, info)
        for data, info in _geojson_layers(html)
        if info.get("titlePrefix") == "Training site: "
    ]
    trained = int(audit["training"].sum())
    assert [info["name"] for _, info in rings] == [f"Training sites ({trained:,})"]
    (data, _info), *_ = rings
    assert len(data["features"]) == trained  # each site ringed once
    assert {f["properties"]["reason"] for f in data["features"]} == {"kept: known deposit"}
    # the markers stay: every site in the occurrences' clusters, and again in the audit's
    decoder = json.JSONDecoder()
    clusters = [
        decoder.raw_decode(html, m.end())[0] for m in re.finditer(r"geomap\.columns\(", html)
    ]
    assert sum(len(c["lat"]) for c in clusters) == 2 * len(sites)
    drawn = prospectivity_map(
        us_masked["prospectivity"], occurrences=occurrences, training_sites=audit
    )
    shown = {
        child.layer_name: child.show
        for child in drawn._children.values()
        if "raining sites" in getattr(child, "layer_name", "")
    }
    assert shown.pop(f"Training sites ({trained:,})") is True  # the rings show on opening
    assert shown and not any(shown.values())  # the audit's markers (every site) are hidden
