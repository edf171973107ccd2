"""Recipes that list sources in order of preference use the best one present, and say so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from geomap import testing as fx
from geomap.errors import RecipeError
from geomap.recipes import build_evidence, load_recipe, resolve_sources

SEAMLESS = "gsj-seamless-geology-200k-v2"
GLIM = "{dataset: glim-lithology-0.5deg, vocabulary: lithology}"

RECIPE = """
id: test-preference
name: Source preference test
mineral_system: test
commodities: [Cu]
regions: [japan]
datasets: [gsj-seamless-geology-200k-v2, glim-lithology-0.5deg]
rationale: test
references: [test]
evidence:
  - name: lithology_score
    function: class_scores
    source: [gsj-seamless-geology-200k-v2, {dataset: glim-lithology-0.5deg, vocabulary: lithology}]
    params:
      column: lithology
      scores: {felsic_intrusive: 1.0, intermediate_volcanic: 0.8, ultramafic: 0.6, water: 0.0}
      default: 0.1
training: {}
model: {name: wofe}
"""


@pytest.fixture
def mirror(tmp_path, monkeypatch) -> Path:
    """A mirror folder holding the Seamless V2 fixture at its catalog path."""
    folder = tmp_path / "mirror"
    (folder / SEAMLESS).mkdir(parents=True)
    archive = fx.seamless_zip(tmp_path)
    (folder / SEAMLESS / "seamlessV2.zip").write_bytes(archive.read_bytes())
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def recipe_path(tmp_path) -> Path:
    path = tmp_path / "test-preference.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    return path


def test_the_fallback_is_used_while_the_official_source_is_not_fetched(recipe_path):
    stack = build_evidence(recipe_path, "japan", 100_000)
    choices = json.loads(stack.attrs["geomap_sources"])
    assert choices["lithology_score"]["used"] == ["glim-lithology-0.5deg"]
    assert "geomap fetch gsj-seamless" in choices["lithology_score"]["skipped"][0]["reason"]
    assert stack["lithology_score"].attrs["geomap_source"] == "glim-lithology-0.5deg"


def test_the_official_source_is_used_once_present(recipe_path, mirror):
    stack = build_evidence(recipe_path, "japan", 5_000)
    choices = json.loads(stack.attrs["geomap_sources"])
    assert choices["lithology_score"] == {
        "used": [SEAMLESS],
        "preference": [[SEAMLESS], ["glim-lithology-0.5deg"]],
        "skipped": [],
    }
    layer = stack["lithology_score"]
    assert layer.attrs["geomap_source"] == SEAMLESS
    params = json.loads(layer.attrs["geomap_params"])
    assert params["scores"]["water"] == 0.0  # a class absent from the map window still scores
    values = layer.values[np.isfinite(layer.values)]
    assert {round(float(v), 3) for v in values} <= {1.0, 0.8, 0.6, 0.1} and len(values) >= 10
    assert np.isfinite(layer.values).sum() < 0.01 * layer.size  # only the mapped fixture area


def test_shipped_recipes_prefer_the_official_geology(mirror):
    kuroko = resolve_sources("kuroko-vms", "japan")
    assert kuroko.source_choices["lithology_score"]["used"] == [SEAMLESS]
    assert SEAMLESS in kuroko.datasets
    carbonatite = resolve_sources("carbonatite-ree", "conus")  # SGMC not fetched: GLiM
    assert carbonatite.source_choices["lithology_score"]["used"] == ["glim-lithology-0.5deg"]
    assert "usgs-sgmc" not in carbonatite.datasets  # never fetched by the build
    assert all(not spec.fallbacks for spec in carbonatite.evidence)


def test_a_list_ending_with_an_online_only_source_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        RECIPE.replace(
            f"[{SEAMLESS}, {GLIM}]",
            f"[{GLIM}, {SEAMLESS}]",
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        RecipeError, match=r"source\[1\].dataset: 'gsj-seamless.*online-only.*mirrored fallback"
    ):
        load_recipe(path)


def test_geomap_sources_shows_what_a_download_would_add(mirror):
    from geomap.cli import app

    result = CliRunner().invoke(app, ["sources", "carbonatite-ree", "--region", "conus"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "* used now      glim-lithology-0.5deg" in text
    assert "`geomap fetch usgs-sgmc` would add it" in text and "about 1 GB" in text
    result = CliRunner().invoke(app, ["sources", "kuroko-vms", "--region", "japan"])
    assert f"* used now      {SEAMLESS}" in result.output


def test_emag2v3_fills_the_whole_analysis_grid_when_fetched(tmp_path, monkeypatch):
    """The window read for a region leaves no empty corners in its equal-area grid."""
    folder = tmp_path / "mirror" / "emag2-v3"
    folder.mkdir(parents=True)
    archive = fx.emag2_zip(tmp_path)
    (folder / "EMAG2_V3_20170530.zip").write_bytes(archive.read_bytes())
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(tmp_path / "mirror"))
    recipe = resolve_sources("carbonatite-ree", "conus")
    assert recipe.source_choices["magnetic_anomaly"]["used"] == ["emag2-v3"]
    stack = build_evidence(recipe, "conus", 200_000)
    layer = stack["magnetic_anomaly"]
    assert layer.attrs["geomap_source"] == "emag2-v3"
    assert np.isfinite(layer.values).all()  # corners included: the window was wide enough
