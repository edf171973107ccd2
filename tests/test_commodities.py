"""The commodity vocabulary: aliases seen in the mirrored data, groups, end uses, properties."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geomap.errors import CatalogError, UnknownNameError
from geomap.harmonize.commodities import (
    expand_selector,
    join_codes,
    load_vocabulary,
    normalize_commodity,
    split_codes,
    supply_chains,
)

USGS_2022 = {
    "Al", "Sb", "As", "Ba", "Be", "Bi", "Ce", "Cs", "Cr", "Co", "Dy", "Er", "Eu", "F", "Gd", "Ga",
    "Ge", "graphite", "Hf", "Ho", "In", "Ir", "La", "Li", "Lu", "Mg", "Mn", "Nd", "Ni", "Nb", "Pd",
    "Pt", "Pr", "Rh", "Rb", "Ru", "Sm", "Sc", "Ta", "Te", "Tb", "Tm", "Sn", "Ti", "W", "V", "Yb",
    "Y", "Zn", "Zr",
}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "codes"),
    [
        ("Gold", {"Au"}),
        ("AU", {"Au"}),
        ("PB ZN AG", {"Pb", "Zn", "Ag"}),
        ("WO3", {"W"}),
        ("Li2O", {"Li"}),
        ("gadoliniumn", {"Gd"}),
        ("monazite", {"REE", "Th"}),
        ("spodumene", {"Li"}),
        ("SDG", {"sand_gravel"}),
        ("STN2", {"stone"}),
        ("BRI", {"brine"}),
        ("CLY", {"clay"}),
        ("Crushed", {"stone"}),
        ("Broken", {"stone"}),
        ("Sand and Gravel", {"sand_gravel"}),
        ("Fire Clay (Refractory)", {"clay"}),
        ("CaF2", {"F"}),
        ("Niobium (Columbium)", {"Nb"}),
        ("Coppper", {"Cu"}),
        ("Rare Earth Elements", {"REE"}),
        ("Platinum-Group Elements", {"PGE"}),
        ("BE F U Lanthanum", {"Be", "F", "U", "La"}),
        ("lithium; bromine", {"Li", "Br"}),
        ("boron trioxide (B2O3)", {"B"}),
        ("sulfate of potash", {"K"}),
        ("Côte", set()),  # not a commodity: unmapped, never an exception
    ],
)
def test_aliases_seen_in_the_data(raw, codes):
    assert normalize_commodity(raw) == codes


def test_known_non_commodities_are_not_unmapped():
    vocab = load_vocabulary()
    for raw in ("UNIDENTIFIED", "NONE", "General", "serpentine", "5", "", None, 3.5):
        match = vocab.match(raw)
        assert match.codes == frozenset()
        assert match.unmapped == ()
        assert match.no_commodity


def test_unknown_alias_is_reported_not_dropped():
    match = load_vocabulary().match("Gold; unobtainium ore")
    assert match.codes == {"Au"}
    assert match.unmapped == ("unobtainium ore",)


def test_critical_mineral_lists():
    vocab = load_vocabulary()
    assert vocab.on_list("usgs-2022") >= USGS_2022
    assert {"Li", "Co", "Ni", "W", "Nd", "Dy", "In", "Ga"} <= vocab.on_list("japan")
    with pytest.raises(UnknownNameError, match="unknown list"):
        vocab.on_list("eu-2023")


def test_groups_and_end_uses():
    ree = expand_selector("REE")
    assert {"La", "Ce", "Nd", "Lu", "Y", "Sc", "REE"} <= ree
    light, heavy = expand_selector("LREE"), expand_selector("HREE")
    assert not light & heavy and (light | heavy) < ree
    assert {"Dy", "Tb", "Y"} <= heavy and {"La", "Nd"} <= light
    assert expand_selector("PGE") == {"PGE", "Pt", "Pd", "Rh", "Ru", "Ir", "Os"}
    assert expand_selector("magnets") == {"Nd", "Pr", "Dy", "Tb", "Sm", "Co"}
    assert {"Li", "Co", "Ni", "Mn", "graphite"} <= expand_selector("batteries")
    assert {"Ce", "La", "Pt", "Pd"} <= expand_selector("catalysts")
    assert {"Ga", "Ge", "In", "Er"} <= expand_selector("electronics")
    assert expand_selector("lithium,Co") == {"Li", "Co"}
    assert expand_selector("rare earths") == ree


def test_unknown_selector_suggests_names():
    with pytest.raises(UnknownNameError, match=r"unknown commodity selector 'tungstn'.*tungsten"):
        expand_selector("tungstn")


def test_supply_chains():
    assert supply_chains({"Nd"}) == {"magnets"}
    assert supply_chains({"Co"}) >= {"magnets", "batteries"}
    assert "magnets" in supply_chains({"REE"})  # a group code feeds what its members feed
    assert supply_chains({"Au"}) == frozenset()


def test_codes_round_trip_through_strings():
    assert join_codes(["Zn", "Ag", "Zn"]) == "Ag;Zn"
    assert split_codes("Ag;Zn") == ["Ag", "Zn"]
    assert split_codes("") == [] and split_codes(None) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalizer_never_raises_and_is_idempotent(text):
    codes = normalize_commodity(text)
    for code in codes:
        assert normalize_commodity(code) == {code}
    assert normalize_commodity(join_codes(codes)) == codes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(sorted(load_vocabulary().names)), max_size=6))
def test_every_code_normalizes_to_itself(codes):
    assert normalize_commodity(join_codes(codes)) == set(codes)


def test_joined_codes_are_a_list_never_an_alias():
    """A stored code list ("Na;S") is split, even where its lookup key equals an alias's.

    ``_key`` maps ';' and '_' alike to blanks, so "Na;S" and the Utah alias "NA_S" (salt) share
    the key "na s"; the normalizer must read the stored list as the codes Na and S.  Every pair of
    codes is checked, so a new alias that collides with a joined pair fails here every time
    rather than once in a while in the property test below.
    """
    assert normalize_commodity("Na;S") == {"Na", "S"}
    assert normalize_commodity("NA_S") == {"salt"}
    names = sorted(load_vocabulary().names)
    wrong = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if normalize_commodity(join_codes([a, b])) != {a, b}
    ]
    assert wrong == []


def test_vocabulary_rejects_an_alias_holding_the_code_separator(tmp_path):
    bad = tmp_path / "vocab.yaml"
    bad.write_text(
        "commodities:\n  - {code: Au, name: gold, aliases: ['gold;silver']}\n", encoding="utf-8"
    )
    with pytest.raises(CatalogError, match="'gold;silver' of code Au contains ';'"):
        load_vocabulary(bad)


def test_vocabulary_rejects_clashing_aliases(tmp_path):
    bad = tmp_path / "vocab.yaml"
    bad.write_text(
        "commodities:\n"
        "  - {code: Au, name: gold, aliases: [oro]}\n"
        "  - {code: Ag, name: silver, aliases: [ORO]}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match="'ORO' of code Ag clashes with code Au"):
        load_vocabulary(bad)


def test_vocabulary_rejects_yaml_booleans(tmp_path):
    bad = tmp_path / "vocab.yaml"
    bad.write_text("commodities:\n  - {code: Au, aliases: [NO]}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="quoted strings"):
        load_vocabulary(bad)


def _raw_commodity_names(folder: Path) -> Counter[str]:
    names: Counter[str] = Counter()
    for path in sorted(folder.glob("b*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            for item in record.get("mineral_inventory") or []:
                names[str((item.get("commodity") or {}).get("observed_name") or "")] += 1
    return names


def test_no_frequent_raw_name_in_the_mirror_is_unmapped(data_root):
    """Every distinct commodity name in every MinMod folder; frequent ones must all map."""
    vocab = load_vocabulary()
    folders = sorted(
        p
        for d in ("minmod-usgs-mrdata", "minmod-state-surveys")
        for p in (data_root / d).iterdir()
        if p.is_dir() and p.name != "entities"
    )
    assert len(folders) == 9
    unmapped: dict[str, int] = {}
    total = 0
    for folder in folders:
        for name, count in _raw_commodity_names(folder).items():
            total += count
            if vocab.match(name).unmapped:
                unmapped[f"{folder.name}: {name}"] = count
    assert total > 90_000
    frequent = {k: v for k, v in unmapped.items() if v >= 2}
    assert frequent == {}
    assert sum(unmapped.values()) <= 5, unmapped
