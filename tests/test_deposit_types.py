"""Deposit type of every occurrence, and the training audit of the carbonatite REE recipe."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geomap.errors import CatalogError, RecipeError
from geomap.harmonize import deposit_types
from geomap.harmonize.deposit_types import classify_deposits, deposit_vocabulary

# Sites the issue names: heavy-mineral sands, placers and Phosphoria phosphate mines that
# trained the carbonatite recipe before deposit types were read from every field.
NOT_CARBONATITE = {
    "Trail Ridge": "heavy_mineral_sand",
    "Folkston deposit": "heavy_mineral_sand",
    "Bald Mountain placer": "placer",
    "Long Valley monazite placer": "placer",
    "Conda": "phosphorite",
    "Smokey Canyon": "phosphorite",
    "Maybe Canyon": "phosphorite",
    "Caldwell Canyon": "phosphorite",
}
CARBONATITE_SITES = (
    "Mountain Pass deposit",
    "Bear Lodge prospect",
    "Iron Hill carbonatite complex",
)


@pytest.fixture(scope="module")
def audit(data_root):
    from geomap.training import training_audit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return training_audit("carbonatite-ree", "conus")


def _frame(rows):
    names = ["name", "deposit_type", "commodities", "commodities_raw", "source", "lon", "lat"]
    data = {k: [r[i] for r in rows] for i, k in enumerate(names)}
    geometry = shapely.points(data.pop("lon"), data.pop("lat"))
    return gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:4326")


def test_vocabulary_holds_the_issue_types():
    vocab = deposit_vocabulary()
    wanted = {"carbonatite", "alkaline_intrusion", "pegmatite", "heavy_mineral_sand", "placer"}
    wanted |= {"phosphorite", "ion_adsorption_clay", "vms", "skarn", "greisen_vein", "porphyry"}
    wanted |= {"epithermal", "laterite", "brine", "sediment_hosted", "unknown"}
    assert wanted <= set(vocab)


def test_each_kind_of_rule_fires():
    frame = _frame(
        [
            ("Black sand beach", "", "Au", "", "x", -120.0, 40.0),  # name
            ("A", "Stream Placer", "Au", "", "x", -120.0, 40.0),  # source type text
            ("B", "", "La;Ce;Ti;Zr", "titanium; zirconium", "x", -100.0, 40.0),  # signature
            ("C", "", "P;V", "", "x", -100.0, 40.0),  # phosphate + vanadium
            ("D", "", "La;Ce", "Clay; Pyrite", "x", -111.5, 42.7),  # Phosphoria district
            ("E", "", "Au;Ag", "", "x", -100.0, 40.0),  # nothing tells
            ("F", "", "La;Nb", "monazite", "x", -100.0, 40.0),  # Nb vetoes the HMS signature
        ]
    )
    result = classify_deposits(frame)
    assert result["deposit_class"].tolist() == [
        "placer",
        "placer",
        "heavy_mineral_sand",
        "phosphorite",
        "phosphorite",
        "unknown",
        "unknown",
    ]
    assert result["deposit_class_rule"].tolist()[:5] == [
        "name-placer",
        "type-placer",
        "signature-detrital-heavy-minerals",
        "signature-phosphate-vanadium",
        "signature-phosphoria-ree",
    ]
    conf = result["deposit_class_confidence"].to_numpy()
    assert conf[5] == 0 and conf[6] == 0 and ((conf[:5] > 0) & (conf[:5] <= 1)).all()
    # the name outranks the weaker signature rules
    assert conf[0] > conf[2]


def test_bad_rule_table_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "deposit_types.yaml"
    bad.write_text(
        "version: 1\nvocabulary: {placer: p}\nrules:\n"
        "  - {id: r1, type: placer, confidence: 0.5, colour: red}\n"
    )
    monkeypatch.setattr(deposit_types, "_PATH", bad)
    deposit_types._table.cache_clear()
    try:
        with pytest.raises(CatalogError, match=r"rule 'r1': unknown keys \['colour'\]"):
            deposit_types.deposit_rules()
    finally:
        deposit_types._table.cache_clear()


def test_every_occurrence_has_a_type_rule_and_confidence(audit):
    assert audit["deposit_class"].notna().all()
    assert set(audit["deposit_class"]) <= set(deposit_vocabulary())
    known = audit["deposit_class"] != "unknown"
    assert (audit.loc[known, "deposit_class_rule"] != "").all()
    assert (audit.loc[known, "deposit_class_confidence"] > 0).all()
    assert (audit.loc[~known, "deposit_class_confidence"] == 0).all()


def test_carbonatite_recipe_drops_sands_placers_and_phosphorites(audit):
    by_name = audit.drop_duplicates("name").set_index("name")
    for name, kind in NOT_CARBONATITE.items():
        assert by_name.loc[name, "deposit_class"] == kind, name
        assert not by_name.loc[name, "training"], name
        assert "excluded by the recipe" in by_name.loc[name, "reason"]
    for name in CARBONATITE_SITES:
        assert by_name.loc[name, "training"], name
        assert by_name.loc[name, "reason"] == "kept"
    trained = audit.loc[audit["training"].to_numpy(dtype=bool)]
    bad = {"heavy_mineral_sand", "placer", "phosphorite"}
    assert not set(trained["deposit_class"]) & bad


def test_training_occurrences_are_the_audit_kept_rows(audit, data_root):
    from geomap.recipes import training_occurrences

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = training_occurrences("carbonatite-ree", "conus")
    kept = audit.loc[audit["training"].to_numpy(dtype=bool)]
    assert sorted(points["site_id"]) == sorted(kept["site_id"])
    assert points.crs == audit.crs and not points.crs.is_geographic


def test_audit_summary_counts_every_site(audit):
    from geomap.training import audit_summary

    table = audit_summary(audit)
    assert int(table["sites"].sum()) == len(audit)
    assert int(table.loc[table["training"], "sites"].sum()) == int(audit["training"].sum())
    assert np.isin(["kept"], table["reason"]).all()


def test_unknown_excluded_class_in_a_recipe_is_refused(tmp_path):
    from pathlib import Path

    from geomap.recipes import load_recipe

    text = Path(load_recipe("carbonatite-ree").path).read_text()
    text = text.replace("[heavy_mineral_sand, placer,", "[beach_sand, placer,")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match="unknown deposit class 'beach_sand'"):
        load_recipe(path)


def test_placer_recipe_trains_on_exactly_the_sites_carbonatite_excludes(audit, data_root):
    from geomap.training import training_audit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        placer = training_audit("ree-placer-hms", "conus")
    excluded = audit[
        ~audit["training"].astype(bool)
        & audit["deposit_class"].isin(["heavy_mineral_sand", "placer"])
    ]
    trained = placer[placer["training"].astype(bool)]
    assert set(trained["site_id"]) == set(excluded["site_id"])
    assert {"Trail Ridge", "Folkston deposit", "Long Valley monazite placer"} <= set(
        trained["name"]
    )


def _first_rule_per_row(frame):
    """Reference: try every rule on every row, in order (the rules' definition, slowly)."""
    from geomap.harmonize.commodities import split_codes

    def text(value):
        return value if isinstance(value, str) else ""

    x, y = shapely.get_x(frame.geometry.to_numpy()), shapely.get_y(frame.geometry.to_numpy())
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        codes = frozenset(split_codes(text(row.commodities)))
        members = text(getattr(row, "sources", ""))
        sources = {text(row.source)} - {""}
        sources |= {m.split(":", 1)[0].split("/", 1)[-1] for m in members.split(";") if members}
        for rule in deposit_types.deposit_rules():
            checks = [
                rule.name is None or rule.name.search(text(row.name)),
                rule.deposit_type is None or rule.deposit_type.search(text(row.deposit_type)),
                rule.raw is None or rule.raw.search(text(row.commodities_raw)),
                not rule.sources or rule.sources & sources,
                not rule.commodities_any or rule.commodities_any & codes,
                all(group & codes for group in rule.commodities_all),
                not rule.commodities_none & codes,
                not rule.commodities_only or (codes and codes <= rule.commodities_only),
                rule.district is None
                or (
                    rule.district[0] <= x[i] <= rule.district[2]
                    and rule.district[1] <= y[i] <= rule.district[3]
                ),
            ]
            if all(checks):
                out.append((rule.type, rule.id, rule.confidence))
                break
        else:
            out.append(("unknown", "", 0.0))
    return out


def test_each_site_takes_its_first_matching_rule_on_the_mirrored_listing(data_root):
    from geomap.io.occurrences import read_occurrences

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        listing = read_occurrences(region="conus", to_crs=False, annotate=False)
    listing.loc[listing.index[:50], "name"] = None  # missing text reads as empty
    result = classify_deposits(listing)
    expected = _first_rule_per_row(listing)
    got = list(
        zip(
            result["deposit_class"],
            result["deposit_class_rule"],
            result["deposit_class_confidence"],
            strict=True,
        )
    )
    assert got == expected
    assert len({rule for _, rule, _ in expected}) > 20  # most rules decide some site here
