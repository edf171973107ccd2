"""A recipe may give a region its own model (``model.regions``): schema, resolution, use."""

from __future__ import annotations

import warnings

import pytest
import yaml

from geomap.errors import RecipeError
from geomap.recipes import load_recipe


def _variant(tmp_path, **model):
    from geomap._paths import layers_dir

    raw = yaml.safe_load((layers_dir() / "granite-sn-w.yaml").read_text(encoding="utf-8"))
    raw["model"] = {"name": "wofe", "params": {}, **model}
    path = tmp_path / "granite.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_sn_w_recipe_models_japan_with_its_own_model():
    recipe = load_recipe("granite-sn-w")
    japan = recipe.model_for("japan")
    assert (japan.name, japan.params) == ("logistic", {"C": 0.1})
    assert "nested spatial CV" in recipe.model.regions["japan"].reason
    for region in ("conus", "us-southwest", None):
        default = recipe.model_for(region)
        assert (default.name, default.params, default.regions) == ("wofe", {}, {})
    assert japan.mode == recipe.model.mode and japan.regions == {}


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ({"mars": {"name": "wofe"}}, "model.regions names ['mars']"),
        ({"japan": {"name": "deep_magic"}}, "unknown model 'deep_magic'"),
        ({"japan": {"name": "logistic", "colour": 1}}, "colour"),
    ],
)
def test_bad_model_regions_name_the_key(tmp_path, regions, message):
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_recipe(_variant(tmp_path, regions=regions))


def test_model_region_and_the_stack_use_the_region_model():
    from geomap.pipeline import model_region

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        japan = model_region("granite-sn-w", "japan", resolution_m=50_000, control=None)
        forced = model_region(
            "granite-sn-w", "japan", resolution_m=50_000, control=None, model="wofe"
        )
    assert japan.model_name == "logistic" and japan.settings["params"]["C"] == 0.1
    assert type(japan.estimator).__name__ == "LogisticProspectivity"
    assert forced.model_name == "wofe" and "C" not in forced.settings["params"]
    assert '"name": "logistic"' in japan.stack.attrs["geomap_model"]
    assert '"regions"' not in japan.stack.attrs["geomap_model"]


def test_kuroko_reads_the_seven_pathfinders_in_two_indices():
    from geomap.evidence.geochem import layer_elements

    recipe = load_recipe("kuroko-vms")
    geochem = {s.name: s for s in recipe.evidence if s.function == "geochem_anomaly"}
    assert set(geochem) == {"base_metal_anomaly", "volatile_anomaly"}
    assert layer_elements(dict(geochem["base_metal_anomaly"].params)) == {"Zn", "Pb", "Cu", "Cd"}
    assert layer_elements(dict(geochem["volatile_anomaly"].params)) == {"As", "Sb", "Hg"}
    assert recipe.model_for("japan").params == {"n_thresholds": 3}
    assert "inner spatial CV" in recipe.rationale
