"""Recipes: validation of layers/*.yaml, evidence stacks from the mirrored data, the CLI."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from typer.testing import CliRunner

from geomap.cli import app
from geomap.errors import ParameterError, RecipeError, UnknownNameError
from geomap.grid import check_same_grid, region_grid
from geomap.recipes import (
    MODEL_NAMES,
    build_evidence,
    evidence_functions,
    load_recipe,
    recipe_names,
    training_occurrences,
)

SHIPPED = recipe_names()
BUILDS = [(name, region) for name in SHIPPED for region in load_recipe(name).regions]
SMALL_REGIONS = {"capricorn-wa", "central-lapland", "mount-isa", "ne-wisconsin"}


def build_resolution(region: str) -> float:
    """Coarse enough to keep the suite fast, fine enough for the small geochemistry regions."""
    return 10_000.0 if region in SMALL_REGIONS else 50_000.0


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_the_required_mineral_systems_are_shipped():
    assert {
        "carbonatite-ree",
        "kuroko-vms",
        "granite-sn-w",
        "lithium-southwest",
        "ni-co-mafic-laterite",
        "ree-geochem-anomaly",
    } <= set(SHIPPED)
    regions = {name: set(load_recipe(name).regions) for name in SHIPPED}
    assert "conus" in regions["carbonatite-ree"] and regions["kuroko-vms"] == {"japan"}
    assert {"japan", "conus"} <= regions["granite-sn-w"]
    assert regions["lithium-southwest"] == {"us-southwest"}
    assert {"capricorn-wa", "central-lapland"} <= regions["ree-geochem-anomaly"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipe_is_documented(name):
    recipe = load_recipe(name)
    assert len(recipe.rationale) > 400 and "limit" in recipe.rationale.lower()
    assert len(recipe.references) >= 3
    assert recipe.model.name in MODEL_NAMES
    assert all(spec.description for spec in recipe.evidence)


@pytest.mark.parametrize(("name", "region"), BUILDS)
def test_shipped_recipe_builds_its_stack(name, region):
    recipe = load_recipe(name)
    stack = build_evidence(recipe, region, build_resolution(region))
    grid = region_grid(region, build_resolution(region))
    layers = [v for v in stack.data_vars if v != "coverage"]
    assert len(layers) == len(stack.data_vars) - 1 >= 5
    check_same_grid(grid, *(stack[v] for v in stack.data_vars))
    for v in layers:
        layer = stack[v]
        assert layer.dtype == np.float32, v
        assert layer.attrs["geomap_role"] == "evidence" and layer.attrs["geomap_kind"], v
        assert layer.attrs["geomap_source"], v
        assert np.isfinite(layer.values).any(), f"{v} has no data in {region}"
    coverage = stack["coverage"]
    assert coverage.attrs["geomap_role"] == "coverage"
    assert json.loads(coverage.attrs["geomap_layers"]) == layers
    assert int(coverage.max()) == len(layers) and int(coverage.min()) >= 1
    assert stack.attrs["geomap_recipe"] == recipe.id and stack.attrs["geomap_region"] == region
    assert json.loads(stack.attrs["geomap_model"])["name"] == recipe.model_for(region).name


def test_fuzzy_recipes_give_memberships():
    for name, region in [
        ("ni-co-mafic-laterite", "south-australia"),
        ("ree-geochem-anomaly", "capricorn-wa"),
    ]:
        stack = build_evidence(name, region, build_resolution(region))
        for v in stack.data_vars:
            if v != "coverage":
                values = stack[v].values[np.isfinite(stack[v].values)]
                assert values.min() >= 0 and values.max() <= 1, (name, v)


def test_chunked_build_equals_in_memory_build():
    mem = build_evidence("kuroko-vms", "japan", 50_000)
    lazy = build_evidence("kuroko-vms", "japan", 50_000, chunks=24)
    assert all(lazy[v].chunks is not None for v in lazy.data_vars)
    for v in mem.data_vars:
        np.testing.assert_allclose(lazy[v].values, mem[v].values, rtol=1e-6, equal_nan=True)


def test_training_occurrences_follow_the_selector():
    kuroko = training_occurrences("kuroko-vms", "japan")
    assert len(kuroko) >= 20
    assert kuroko["deposit_type"].str.lower().str.contains("felsic").all()
    assert kuroko.crs.equals(region_grid("japan", 1000).crs.to_wkt()) or kuroko.crs.is_projected
    snw = training_occurrences("granite-sn-w", "conus")
    assert snw["commodities"].str.contains(r"(?:^|;)(?:Sn|W)(?:;|$)").all()
    with pytest.raises(RecipeError, match="not supported"):
        training_occurrences("kuroko-vms", "conus")


def test_evidence_functions_are_described():
    described = evidence_functions()
    assert {"distance", "density", "class_scores", "geochem", "tilt_derivative"} <= set(
        described["functions"]
    )
    assert described["functions"]["density"]["params"]["bandwidth_m"] is True  # required
    assert "fuzzy_small" in described["transforms"]


# --------------------------------------------------------------------------- bad recipes

BASE = {
    "id": "test-recipe",
    "name": "Test",
    "mineral_system": "test",
    "commodities": ["REE"],
    "regions": ["japan"],
    "datasets": ["gem-global-active-faults-2017", "minmod-usgs-mrdata", "glim-lithology-0.5deg"],
    "rationale": "test",
    "references": ["none"],
    "evidence": [
        {
            "name": "faults",
            "function": "distance",
            "source": {"dataset": "gem-global-active-faults-2017"},
            "params": {"cap_m": 50000},
        }
    ],
    "training": {"commodities": ["Cu"]},
    "model": {"name": "wofe"},
}


def write(tmp_path: Path, recipe: dict | str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(recipe if isinstance(recipe, str) else yaml.safe_dump(recipe), encoding="utf-8")
    return path


def variant(**changes) -> dict:
    out = json.loads(json.dumps(BASE))
    for dotted, value in changes.items():
        target = out
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return out


def test_a_minimal_recipe_loads_and_builds(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    stack = build_evidence(recipe, "japan", 50_000)
    assert list(stack.data_vars) == ["faults", "coverage"]


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (variant(colour="red"), r"colour: unknown key"),
        (variant(evidence__0__weight=2), r"evidence\[0\]\.weight: unknown key"),
        (variant(evidence__0__source__datset="x"), r"evidence\[0\]\.source\.datset: unknown key"),
        (
            variant(datasets=["gem-global-active-faults-2017", "no-such-data"]),
            r"datasets\[1\].*'no-such-data'",
        ),
        (
            variant(evidence__0__source__dataset="natural-earth"),
            r"evidence\[0\] \(faults\)\.source\.dataset.*not listed",
        ),
        (
            variant(evidence__0__function="proximity"),
            r"evidence\[0\] \(faults\)\.function: unknown evidence function 'proximity'",
        ),
        (variant(evidence__0__params={"cap": 5}), r"params\.cap: unknown parameter 'cap'.*cap_m"),
        (
            variant(evidence__0__function="density", evidence__0__params={}),
            r"params\.bandwidth_m: required",
        ),
        (
            variant(evidence__0__transforms=[{"function": "sigmoid"}]),
            r"transforms\[0\]\.function: unknown transform 'sigmoid'",
        ),
        (
            variant(evidence__0__transforms=[{"function": "fuzzy_small", "params": {"mid": 1}}]),
            r"transforms\[0\]\.params\.mid",
        ),
        (
            variant(commodities=["unobtainium"]),
            r"commodities: unknown commodity selector 'unobtainium'",
        ),
        (
            variant(training={"deposit_classes": ["kuroko"]}),
            r"training\.deposit_classes: unknown deposit class 'kuroko'",
        ),
        (variant(model={"name": "svm"}), r"model\.name.*unknown model 'svm'"),
        (variant(regions=["atlantis"]), r"regions\[0\]: unknown region 'atlantis'"),
        (variant(regions=["central-lapland"]), r"does not cover region 'central-lapland'"),
        (variant(evidence__0__regions=["conus"]), r"'conus' is not one of the recipe's regions"),
        (
            variant(evidence__0__source__where={"slip_type": {"near": 1}}),
            r"where\.slip_type: unknown condition",
        ),
    ],
)
def test_bad_recipes_name_the_file_and_the_key(tmp_path, recipe, message):
    path = write(tmp_path, recipe)
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path)
    assert str(path) in str(info.value)


def test_unsafe_and_malformed_yaml_is_refused(tmp_path):
    evil = write(tmp_path, "id: !!python/object/apply:os.system ['echo hacked']\n", "evil.yaml")
    with pytest.raises(RecipeError, match="evil.yaml"):
        load_recipe(evil)
    dup = write(tmp_path, "id: a\nid: b\n", "dup.yaml")
    with pytest.raises(RecipeError, match="duplicate key"):
        load_recipe(dup)
    with pytest.raises(RecipeError, match="expected a mapping"):
        load_recipe(write(tmp_path, "- a\n- b\n", "list.yaml"))


def test_unknown_recipe_name_suggests_the_known_ones():
    with pytest.raises(UnknownNameError, match="kuroko-vms"):
        load_recipe("kuroko")


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (
            variant(evidence__0__source__where={"slip_typ": "normal"}),
            r"evidence\[0\] \(faults\)\.source\.where\.slip_typ: unknown column",
        ),
        (
            variant(evidence__0__source__where={"slip_class": "sideways"}),
            r"evidence\[0\] \(faults\).*empty",
        ),
        (
            variant(
                evidence__0__function="class_scores",
                evidence__0__source={"dataset": "glim-lithology-0.5deg", "vocabulary": "lithology"},
                evidence__0__params={"scores": {"granite": 1.0}},
            ),
            r"evidence\[0\] \(faults\).*no class 'granite'.*felsic_intrusive",
        ),
        (
            variant(
                evidence__0__function="density",
                evidence__0__source={
                    "dataset": "gem-global-active-faults-2017",
                    "geometry": "centroid",
                },
                evidence__0__params={"bandwidth_m": -5},
            ),
            r"evidence\[0\] \(faults\).*bandwidth_m=-5",
        ),
        (
            variant(
                evidence__0__function="geochem",
                evidence__0__params={"elements": ["La"], "search_radius_m": 1000},
            ),
            r"evidence\[0\] \(faults\)\.function: 'geochem' needs points",
        ),
    ],
)
def test_build_errors_name_the_file_and_the_key(tmp_path, recipe, message):
    path = write(tmp_path, recipe)
    with pytest.raises(RecipeError, match=message) as info:
        build_evidence(load_recipe(path), "japan", 50_000)
    assert str(path) in str(info.value)


def test_unsupported_region_and_bad_resolution():
    with pytest.raises(RecipeError, match=r"region 'conus' is not supported.*japan"):
        build_evidence("kuroko-vms", "conus", 25_000)
    with pytest.raises(ParameterError, match="resolution_m"):
        build_evidence("kuroko-vms", "japan", 0)


# --------------------------------------------------------------------------- CLI


def test_cli_writes_cogs_pngs_and_a_table(tmp_path):
    out = tmp_path / "kuroko"
    runner = CliRunner()
    args = [
        "evidence",
        "kuroko-vms",
        "--region",
        "japan",
        "--resolution",
        "50000",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, [*args, "--chunks", "20"])
    assert result.exit_code == 0, result.output
    assert "lithology_score" in result.output and "% data" in result.output
    stack = build_evidence("kuroko-vms", "japan", 50_000)
    for name in stack.data_vars:
        with rasterio.open(out / f"{name}.tif") as src:
            assert src.crs is not None and src.shape == stack[name].shape
            np.testing.assert_allclose(src.read(1), stack[name].values, equal_nan=True)
        assert (out / f"{name}.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["attrs"]["geomap_recipe"] == "kuroko-vms"
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(app, [*args, "--overwrite", "--chunks", "big"])
    assert bad.exit_code == 2 and "--chunks 'big'" in bad.output  # usage error, as in build
    wrong = runner.invoke(
        app,
        [
            "evidence",
            "kuroko-vms",
            "--region",
            "conus",
            "--resolution",
            "25000",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert wrong.exit_code == 1 and "not supported" in wrong.output
    assert not (tmp_path / "x").exists()


def test_recipe_paths_work_from_any_folder(tmp_path):
    shipped = Path(load_recipe("kuroko-vms").path)
    copy = tmp_path / "my-kuroko.yaml"
    copy.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_recipe(copy).id == "kuroko-vms"
    assert load_recipe(str(copy)).path == str(copy)


def test_recipe_text_stays_readable():
    # the rationale and references are for geologists: no tabs, no very long lines
    for name in SHIPPED:
        text = Path(load_recipe(name).path).read_text(encoding="utf-8")
        assert "\t" not in text
        assert max(len(line) for line in textwrap.dedent(text).splitlines()) < 260
