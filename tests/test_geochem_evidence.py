"""Geochemical evidence: compositional maths, censoring, robust scores, safe expressions,
the stream-sediment support model, NumPy = Dask, end uses and the Japan recipes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geomap
from geomap import evidence as ev
from geomap.errors import DataError, ParameterError, RecipeError, UnknownNameError
from geomap.evidence.compositional import (
    closed_composition,
    clr,
    evaluate_expression,
    expression_elements,
    ilr,
    parse_expression,
    robust_mahalanobis,
    robust_z,
    substitute_censored,
)
from geomap.grid import region_grid
from geomap.recipes import load_recipe, select_end_use

GSJ = "gsj-geochemical-map-japan"


@pytest.fixture(scope="module")
def gsj_japan():
    return geomap.read(GSJ, region="japan")


# --------------------------------------------------------------------------- maths


def test_clr_sums_to_zero_and_is_scale_invariant():
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=(50, 5))
    c = clr(x)
    np.testing.assert_allclose(c.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(clr(x * 37.0), c)  # closure constant does not matter


def test_ilr_is_an_isometry_of_clr():
    rng = np.random.default_rng(2)
    x = rng.lognormal(size=(40, 6))
    z, c = ilr(x), clr(x)
    assert z.shape == (40, 5)
    dz = np.linalg.norm(z[:, None, :] - z[None, :, :], axis=2)
    dc = np.linalg.norm(c[:, None, :] - c[None, :, :], axis=2)
    np.testing.assert_allclose(dz, dc, atol=1e-10)  # Aitchison distances preserved


def test_closed_composition_adds_the_residual_part():
    comp, names = closed_composition({"A": np.array([1e5, 9e5]), "B": np.array([2e5, 2e5])})
    assert names == ["A", "B", "rest"]
    assert comp[0].tolist() == [1e5, 2e5, 7e5]
    assert np.isnan(comp[1, 2])  # parts exceed 10^6 ppm: no valid residual


def test_robust_z_ignores_outliers():
    values = np.r_[np.linspace(9, 11, 99), 1000.0]
    z = robust_z(values)
    assert abs(np.median(z)) < 1e-9 and z[-1] > 100
    with pytest.raises(DataError, match="median absolute deviation is 0"):
        robust_z(np.r_[np.ones(10), 2.0])


def test_robust_mahalanobis_finds_planted_outliers():
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([0, 0, 0], np.eye(3) * [1, 2, 0.5], size=300)
    x[:10] += 8  # planted anomalies, 3 % of the data
    distance, info = robust_mahalanobis(x)
    assert (distance[:10] > info["chi2_975"]).all()
    assert (distance[10:] > info["chi2_975"]).mean() < 0.06
    with pytest.raises(DataError, match="needs at least"):
        robust_mahalanobis(x[:8])


def test_censored_values_are_substituted_and_counted():
    frame = pd.DataFrame(
        {
            "As_ppm": [np.nan, 2.0, 4.0, np.nan],
            "As_censored": [True, False, False, True],
            "As_dl_ppm": [1.0, np.nan, np.nan, np.nan],
        }
    )
    parts, summary = substitute_censored(frame, ["As"], factor=0.65)
    np.testing.assert_allclose(parts["As"], [0.65, 2.0, 4.0, 0.65 * 2.0])
    assert summary.with_limit == {"As": 1} and summary.without_limit == {"As": 1}
    with pytest.raises(ParameterError):
        substitute_censored(frame, ["As"], factor=1.5)
    with pytest.raises(DataError, match="elements present: \\['As'\\]"):
        substitute_censored(frame, ["W"])


# --------------------------------------------------------------------------- expressions


def test_expressions_sums_ratios_and_groups():
    parts = {e: np.array([1.0, 2.0]) for e in ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Yb")}
    np.testing.assert_allclose(evaluate_expression("LREE", parts), [6.0, 12.0])
    np.testing.assert_allclose(evaluate_expression("La / Yb", parts), [1.0, 1.0])
    np.testing.assert_allclose(evaluate_expression("(La + Ce) * 2 - -1", parts), [5.0, 9.0])
    assert np.isnan(evaluate_expression("La / (Ce - Ce)", parts)).all()
    assert expression_elements("Nb + Ta") == {"Nb", "Ta"}
    assert "Lu" in expression_elements("HREE")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "La.real",
        "open('x')",
        "La ** 2",
        "La if Ce else Yb",
        "[La]",
        "La < Ce",
        "lambda: La",
        "'La'",
        "Xx + La",
        "",
        "La +",
    ],
)
def test_unsafe_or_bad_expressions_are_refused(text):
    with pytest.raises(ParameterError):
        parse_expression(text)


# --------------------------------------------------------------------------- on the grid


def _synthetic_samples(n: int = 60) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 100_000, n)
    y = rng.uniform(0, 100_000, n)
    la = rng.lognormal(3, 0.3, n)
    la[0] = 5000.0  # one anomaly at a known place
    frame = pd.DataFrame({"La_ppm": la, "Yb_ppm": rng.lognormal(1, 0.3, n)})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs="EPSG:3857")


def test_support_model_is_exact_at_samples_and_masked_far_away():
    from odc.geo.geobox import GeoBox

    samples = _synthetic_samples()
    grid = GeoBox.from_bbox((-100_000, -100_000, 200_000, 200_000), "EPSG:3857", resolution=2000)
    layer = ev.geochem_anomaly(samples, grid, expression="La", support="nearest", radius_m=10_000)
    values = layer.values
    assert np.isnan(values[0, 0]) and np.isnan(values[-1, -1])  # far from every sample
    x0, y0 = samples.geometry.x[0], samples.geometry.y[0]
    row, col = int((grid.affine.f - y0) / 2000), int((x0 - grid.affine.c) / 2000)
    assert values[row, col] == pytest.approx(values[np.isfinite(values)].max())
    params = layer.attrs["geomap_params"]
    assert '"score": "robust_z"' in params and '"support": "nearest"' in params
    with pytest.raises(ParameterError, match="support"):
        ev.geochem_anomaly(samples, grid, expression="La", support="kriging")
    with pytest.raises(ParameterError, match="either index or expression"):
        ev.geochem_anomaly(samples, grid, expression="La", index="lree")
    with pytest.raises(UnknownNameError, match="unknown geochemical index"):
        ev.geochem_anomaly(samples, grid, index="gold")


@pytest.mark.parametrize(
    "params",
    [
        {"index": "la_yb"},
        {"index": "granite_sn_suite", "spacing_factor": 4},
        {"index": "vms_suite", "spacing_factor": 4},
    ],
)
def test_numpy_equals_dask_on_gsj(gsj_japan, params):
    grid = region_grid("japan", 20_000)
    mem = ev.geochem_anomaly(gsj_japan, grid, **params)
    lazy = ev.geochem_anomaly(gsj_japan, grid, chunks=24, **params)
    assert lazy.chunks is not None and len(lazy.data.chunks[0]) > 1
    np.testing.assert_array_equal(lazy.values, mem.values)
    assert {k: v for k, v in lazy.attrs.items() if k != "_FillValue"} == {
        k: v for k, v in mem.attrs.items() if k != "_FillValue"
    }
    assert np.isfinite(mem.values).any()


def test_gsj_scores_and_density_mask(gsj_japan):
    grid = region_grid("japan", 20_000)
    layer = ev.geochem_anomaly(gsj_japan, grid, index="lree")
    finite = np.isfinite(layer.values)
    assert 0.03 < finite.mean() < 0.2  # land of Japan only, not the sea
    scores, info = ev.sample_scores(gsj_japan, index="vms_suite")
    assert info["n_scored"] == 3024 and info["mcd"]["p"] == 7
    assert (scores >= 0).all()  # enriched side only
    assert info["censored"]["replaced_without_limit_min_measured"]["As"] == 164
    lree, _ = ev.sample_scores(gsj_japan, index="lree")
    assert abs(np.median(lree)) < 1e-6


# --------------------------------------------------------------------------- recipes


def test_end_use_selects_element_sets():
    magnets = load_recipe("ree-japan-geochem")
    names = [s.name for s in magnets.evidence]
    assert magnets.end_use == "magnets"
    assert {"lree_anomaly", "th_anomaly", "lithology_score"} <= set(names)
    assert "li_anomaly" not in names and "sb_anomaly" not in names
    batteries = [s.name for s in load_recipe("ree-japan-geochem", end_use="batteries").evidence]
    assert "li_anomaly" in batteries and "lree_anomaly" not in batteries
    assert "magnetic_low" in batteries  # context is always kept
    assert "sb_anomaly" in [
        s.name for s in load_recipe("ree-japan-geochem", end_use="flame_retardants").evidence
    ]
    with pytest.raises(UnknownNameError, match="unknown end use"):
        load_recipe("ree-japan-geochem", end_use="jewellery")
    with pytest.raises(RecipeError, match="no geochemistry layer serves end use"):
        select_end_use(load_recipe("carbonatite-ree"), "batteries")


def test_recipe_with_unsafe_expression_is_refused(tmp_path):
    from geomap._paths import layers_dir

    text = (layers_dir() / "ree-japan-geochem.yaml").read_text(encoding="utf-8")
    bad = text.replace("{index: lree}", "{expression: \"__import__('os')\"}")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(RecipeError, match="evidence\\[0\\].params.*not allowed"):
        load_recipe(path)


def test_japan_ree_stack_builds_at_coarse_resolution():
    stack = geomap.build_evidence("ree-japan-geochem", "japan", 25_000)
    assert "lree_anomaly" in stack and "li_anomaly" not in stack
    layer = stack["lree_anomaly"]
    assert float(layer.min()) >= 0 and float(layer.max()) <= 1
    assert stack["coverage"].max() == len(stack.data_vars) - 1


# --------------------------------------------------------------------------- the packet


@pytest.fixture(scope="module")
def product_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def packet(tmp_path_factory, product_cache):
    from geomap.pipeline.packet import build_packet

    out = tmp_path_factory.mktemp("packet") / "pk"
    return build_packet(
        [("carbonatite-ree", "conus"), ("ree-japan-geochem", "japan")],  # REE on both sides
        out=out,
        resolutions={"conus": 150_000, "japan": 40_000},
        cache_dir=product_cache,
        progress=False,
    )


@pytest.mark.slow
def test_packet_carries_ree_geochemistry_on_both_sides(packet):
    import pyogrio
    import rasterio

    gpkg = packet.out / "packet.gpkg"
    layers = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"japan_geochem_samples", "conus_geochem_samples"} <= layers
    japan = pyogrio.read_dataframe(gpkg, layer="japan_geochem_samples")
    assert len(japan) == 3024 and {"La_ppm", "Th_ppm", "ree_score", "ree_class"} <= set(japan)
    colorado = pyogrio.read_dataframe(gpkg, layer="conus_geochem_samples")
    assert len(colorado) == 959
    with rasterio.open(f"GPKG:{gpkg}:japan_ree_anomaly") as src:
        values = src.read(1, masked=True)  # the raster table declares its NoData value
        assert "JGD2011" in src.crs.to_wkt()
        data = values.compressed()
        assert data.size and np.nanmin(data) >= 0 and np.nanmax(data) <= 1
    summary = (packet.out / "summary.md").read_text(encoding="utf-8")
    assert "there are no REE deposits to validate it against" in summary
    assert "日本の地球化学図" in summary  # the GSJ credit


@pytest.mark.slow
@pytest.mark.browser
def test_packet_sample_popups_show_values(packet, browser):
    from _browser import _assert_clean, _open

    visit = _open(browser, packet.out / "packet.html")
    names = visit.js(
        "Object.values(window).filter(v => v && v._layers && v.addOverlay)"
        ".flatMap(c => Object.values(c._layers).map(o => o.name))"
    )
    assert any("GSJ stream sediments (3024 samples)" in n for n in names), names
    assert any("REE anomaly" in n for n in names)
    popup = visit.js(
        """(() => {
        const map = __MAP__;
        let found = null;
        const visit = layer => {
            if (found) return;
            if (layer.feature && layer.feature.properties
                && layer.feature.properties.sample_id === '78013#2') { found = layer; return; }
            if (layer.eachLayer) layer.eachLayer(visit);
        };
        const ctl = Object.values(window).find(v => v && v._layers && v.addOverlay);
        Object.values(ctl._layers).forEach(o => visit(o.layer));
        if (!found) return null;
        if (!map.hasLayer(found)) found.addTo(map);
        found.openPopup();
        const el = document.querySelector('.leaflet-popup-content');
        return el ? el.textContent : '(no popup element)';
    })()"""
    )
    assert popup is not None and "78013#2" in popup and "La" in popup, popup
    _assert_clean(visit)
    visit.page.context.close()


EVIDENCE = ["evidence", "ree-japan-geochem", "-r", "japan", "--resolution", "50000"]


def test_cli_evidence_end_use(tmp_path):
    from typer.testing import CliRunner

    from geomap.cli import app

    out = tmp_path / "ev"
    result = CliRunner().invoke(
        app,
        [*EVIDENCE, "-o", str(out), "--end-use", "battery", "--no-png"],
    )
    assert result.exit_code == 0, result.output
    assert "li_anomaly" in result.output and "lree_anomaly" not in result.output
    bad = CliRunner().invoke(
        app,
        [*EVIDENCE, "-o", str(tmp_path / "x"), "--end-use", "jewellery"],
    )
    assert bad.exit_code == 1 and "unknown end use 'jewellery'" in bad.output


def test_japan_ree_build_report_says_it_cannot_be_validated(tmp_path, product_cache):
    from geomap.pipeline.runner import run_stages, write_outputs

    # same settings as the packet's Japan REE anomaly: read back from the product cache
    state = run_stages(
        "ree-japan-geochem", resolution_m=40_000, cache_dir=product_cache, progress=None
    )
    written = write_outputs(state, tmp_path, parts=frozenset({"report"}))
    report = written["report.md"].read_text(encoding="utf-8")
    assert "this map CANNOT be" in report and "validated against deposits" in report
    assert "Why the held-out AUC is undefined" in report
    assert "31.7 %" in report  # REE anomalies and granite types, measured
    assert "出典：産総研地質調査総合センター, 日本の地球化学図" in report


def test_build_manifest_and_report_record_the_end_use(tmp_path, product_cache):
    import json

    from geomap.pipeline.runner import run_stages, write_outputs

    recipe = load_recipe("ree-japan-geochem", end_use="battery")  # an alias of batteries
    state = run_stages(recipe, resolution_m=40_000, cache_dir=product_cache, progress=None)
    written = write_outputs(state, tmp_path, parts=frozenset({"report"}))
    manifest = json.loads(written["manifest.json"].read_text(encoding="utf-8"))
    record = manifest["end_use"]
    assert record["name"] == "batteries" and record["requested"] == "battery"
    assert record["elements"] == ["Be", "Co", "Cs", "Li", "Mn", "Ni", "Rb", "Ta"]
    built = {row["layer"]: row["selected_elements"] for row in record["layers"]}
    assert built == {"nb_ta_anomaly": ["Ta"], "li_anomaly": ["Li"]}
    assert set(built) <= set(state.layers.stack.data_vars)
    left_out = {row["layer"] for row in record["left_out"]}
    assert {"lree_anomaly", "th_anomaly", "sb_anomaly"} <= left_out
    assert not left_out & set(state.layers.stack.data_vars)
    report = written["report.md"].read_text(encoding="utf-8")
    assert "## End use" in report and "End use **batteries**" in report
    assert "| li_anomaly | Li | Li |" in report and "| lree_anomaly |" in report
    # a build without an end use records none
    plain = run_stages("kuroko-vms", resolution_m=50_000, cache_dir=product_cache, progress=None)
    (tmp_path / "plain").mkdir()
    other = write_outputs(plain, tmp_path / "plain", parts=frozenset({"report"}))
    assert "end_use" not in json.loads(other["manifest.json"].read_text(encoding="utf-8"))
    assert "## End use" not in other["report.md"].read_text(encoding="utf-8")
