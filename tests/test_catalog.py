"""The data catalog: the real one validates, and every kind of broken catalog is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from geomap.catalog import catalog_json_schema, load_catalog
from geomap.errors import CatalogError, GeomapError, UnknownNameError

REQUIRED_REGIONS = {
    "conus",
    "us-southwest",
    "alaska",
    "japan",
    "south-australia",
    "capricorn-wa",
    "central-lapland",
}
ONLINE_ONLY = {
    "gsj-seamless-geology-200k-v2",
    "usgs-mrds-full",
    "usgs-mrds-rdbms",
    "usgs-sgmc",
    "usgs-national-geochemical-survey",
    "emag2-v3",
}


def test_every_mirrored_folder_has_one_entry(catalog, data_root):
    folders = {p.name for p in data_root.iterdir() if p.is_dir()}
    mirrored = {d.id for d in catalog.datasets if not d.online_only}
    assert mirrored == folders


def test_every_mirrored_file_is_listed_with_its_hash(catalog, data_root):
    """Each file named in a folder's SHA256SUMS appears in the catalog with the same hash."""
    for dataset in catalog.datasets:
        if dataset.online_only:
            continue
        sums = {}
        for line in (data_root / dataset.id / "SHA256SUMS").read_text().splitlines():
            if line.strip():
                digest, name = line.split(None, 1)
                sums[f"{dataset.id}/{name.strip().removeprefix('./')}"] = digest
        listed = {f.path: f.sha256 for f in dataset.files}
        assert listed == sums, dataset.id


def test_entries_carry_licence_citation_and_urls(catalog):
    for dataset in catalog.datasets:
        assert dataset.license.spdx and dataset.license.attribution, dataset.id
        assert dataset.citation and dataset.landing_page.startswith("http"), dataset.id
        assert dataset.countries, dataset.id
        for entry in dataset.files:
            assert entry.url.startswith("https://"), entry.path
            assert entry.format, entry.path
            if not dataset.online_only:
                assert entry.size is not None and entry.size > 0, entry.path


def test_regions_are_declared_with_projected_equal_area_crs(catalog):
    ids = {r.id for r in catalog.regions}
    assert ids >= REQUIRED_REGIONS
    for region in catalog.regions:
        crs = region.pyproj_crs
        assert crs.is_projected, region.id
        method = crs.coordinate_operation.method_name.lower()
        assert "equal area" in method or "albers" in method, (region.id, method)
    assert catalog.region("alaska").crosses_antimeridian
    assert not catalog.region("japan").crosses_antimeridian


def test_online_only_sources_are_listed(catalog):
    online = {d.id for d in catalog.datasets if d.online_only}
    assert online == ONLINE_ONLY
    for dataset_id in online:
        dataset = catalog.dataset(dataset_id)
        assert dataset.citation and dataset.license.spdx
        assert all(f.sha256 is None for f in dataset.files)


def test_declared_encodings_and_crs(catalog):
    lithium = catalog.dataset("usgs-lithium-deposits-us-2019")
    assert lithium.file("usgs-lithium-deposits-us-2019/GeolMinOcc.csv").encoding == "cp1252"
    kimberlites = catalog.dataset("carbonatites-kimberlites-global").file(
        "carbonatites-kimberlites-global/kimberlites_tappe2018.csv"
    )
    assert kimberlites.encoding == "utf-8-sig"
    assert kimberlites.crs == "EPSG:4326"


def test_unknown_names_suggest_close_matches(catalog):
    with pytest.raises(UnknownNameError, match="did you mean 'natural-earth'"):
        catalog.dataset("natural-eart")
    with pytest.raises(UnknownNameError, match="unknown region 'japn'"):
        catalog.region("japn")
    with pytest.raises(KeyError):
        catalog.dataset("nothing-like-it")


def test_attribution_block_names_every_dataset(catalog):
    block = catalog.attribution(["natural-earth", "gem-global-active-faults-2017"])
    assert "Natural Earth" in block and "CC BY 4.0" in block


def test_json_schema_validates_the_real_catalog(catalog):
    schema = catalog_json_schema()
    raw = yaml.safe_load(Path(catalog.source).read_text(encoding="utf-8"))
    jsonschema.validate(raw, schema)
    json.dumps(schema)


# ---- broken catalogs ------------------------------------------------------------------------

GOOD_DATASET = {
    "id": "demo-set",
    "title": "Demo",
    "publisher": "Nobody",
    "kind": "vector",
    "countries": ["USA"],
    "regions": ["r1"],
    "license": {"spdx": "CC0-1.0", "name": "CC0", "attribution": "None needed."},
    "citation": "Demo 2024",
    "landing_page": "https://example.org",
    "files": [
        {
            "path": "demo-set/a.json",
            "url": "https://example.org/a.json",
            "sha256": "0" * 64,
            "size": 1,
            "format": "geojson",
        }
    ],
}
GOOD_REGION = {
    "id": "r1",
    "name": "Region one",
    "countries": ["USA"],
    "bbox": [-120, 30, -110, 40],
    "crs": "EPSG:5070",
}


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


def _catalog(**changes: object) -> dict:
    doc = {"datasets": [json.loads(json.dumps(GOOD_DATASET))], "regions": [dict(GOOD_REGION)]}
    doc.update(changes)
    return doc


def test_minimal_catalog_loads(tmp_path):
    cat = load_catalog(_write(tmp_path, _catalog()))
    assert cat.dataset("demo-set").files[0].path == "demo-set/a.json"


def test_file_listed_twice(tmp_path):
    doc = _catalog()
    doc["datasets"][0]["files"].append(dict(doc["datasets"][0]["files"][0]))
    with pytest.raises(CatalogError, match=r"datasets\[0\] \(id 'demo-set'\).*listed twice"):
        load_catalog(_write(tmp_path, doc))


def test_missing_required_field_names_entry_and_field(tmp_path):
    doc = _catalog()
    del doc["datasets"][0]["citation"]
    with pytest.raises(CatalogError, match=r"id 'demo-set'.*field 'citation': required field"):
        load_catalog(_write(tmp_path, doc))


def test_unknown_field_is_refused(tmp_path):
    doc = _catalog()
    doc["datasets"][0]["licence_typo"] = "x"
    with pytest.raises(CatalogError, match=r"field 'licence_typo': unknown field"):
        load_catalog(_write(tmp_path, doc))


def test_unknown_region_reference(tmp_path):
    doc = _catalog()
    doc["datasets"][0]["regions"] = ["atlantis"]
    with pytest.raises(CatalogError, match="unknown region 'atlantis'"):
        load_catalog(_write(tmp_path, doc))


def test_duplicate_dataset_id(tmp_path):
    doc = _catalog()
    doc["datasets"].append(json.loads(json.dumps(GOOD_DATASET)))
    with pytest.raises(CatalogError, match="dataset id 'demo-set' is declared twice"):
        load_catalog(_write(tmp_path, doc))


def test_malformed_yaml_names_the_line(tmp_path):
    with pytest.raises(CatalogError, match="malformed YAML.*line"):
        load_catalog(_write(tmp_path, "datasets: [\n  - id: x\nregions: {"))


def test_duplicate_yaml_key_is_refused(tmp_path):
    text = "datasets: []\nregions: []\ndatasets: []\n"
    with pytest.raises(CatalogError, match="duplicate key 'datasets'"):
        load_catalog(_write(tmp_path, text))


def test_python_object_tags_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f"datasets: !!python/object/apply:os.system ['touch {marker}']\nregions: []\n"
    with pytest.raises(CatalogError, match="Python object tags .* not executed"):
        load_catalog(_write(tmp_path, text))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sha256", "abc", "not a 64-character"),
        ("path", "../etc/passwd", "relative POSIX path"),
        ("url", "ftp://example.org/a", "not an http"),
        ("crs", "EPSG:999999", "not a valid CRS"),
        ("encoding", "klingon-8", "unknown text encoding"),
        ("format", "excel", "Input should be"),
    ],
)
def test_bad_file_fields(tmp_path, field, value, message):
    doc = _catalog()
    doc["datasets"][0]["files"][0][field] = value
    with pytest.raises(CatalogError, match=f"field 'files.0.{field}'.*{message}"):
        load_catalog(_write(tmp_path, doc))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("crs", "EPSG:4326", "not a projected CRS"),
        ("bbox", [-120, 50, -110, 40], "south < north"),
        ("bbox", [-200, 30, -110, 40], r"\[-180, 180\]"),
    ],
)
def test_bad_regions(tmp_path, field, value, message):
    doc = _catalog()
    doc["regions"][0][field] = value
    with pytest.raises(CatalogError, match=f"regions\\[0\\].*{message}"):
        load_catalog(_write(tmp_path, doc))


def test_missing_top_level_key(tmp_path):
    with pytest.raises(CatalogError, match="top-level key 'regions' is missing"):
        load_catalog(_write(tmp_path, {"datasets": []}))


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "nope.yaml")


def test_errors_share_one_base_and_builtins():
    assert issubclass(CatalogError, GeomapError) and issubclass(CatalogError, ValueError)
    assert issubclass(UnknownNameError, KeyError)
    assert str(UnknownNameError("plain text")) == "plain text"


def test_committed_json_schema_is_current():
    """`docs/data_catalog.schema.json` (used by editors) matches the pydantic models."""
    from geomap import _paths

    committed = json.loads((_paths.CHECKOUT_ROOT / "docs" / "data_catalog.schema.json").read_text())
    assert committed == catalog_json_schema(), (
        "regenerate: geomap catalog schema --out docs/data_catalog.schema.json"
    )


# ---- the CRS texts PROJ accepted, kept between processes --------------------------------------


def _fresh_crs_memo(monkeypatch):
    from geomap.catalog import _crs_memo

    _crs_memo._known.cache_clear()
    monkeypatch.setattr(_crs_memo, "_pending", {})
    return _crs_memo


def test_accepted_crs_texts_are_not_parsed_again(tmp_path, monkeypatch):
    import geomap.catalog as catalog_module

    memo = _fresh_crs_memo(monkeypatch)
    path = _write(tmp_path, _catalog())
    load_catalog(path)  # parses EPSG:5070 and keeps it
    kept = json.loads((memo._path()).read_text(encoding="utf-8"))
    assert kept["crs"]["EPSG:5070"] is True and kept["stamp"] == memo._stamp()

    def no_parse(value):
        raise AssertionError(f"parsed {value!r} again")

    monkeypatch.setattr(catalog_module, "_parse_crs", no_parse)
    memo._known.cache_clear()
    doc = _catalog()
    doc["regions"][0]["name"] = "Region one, again"  # another document: validated again
    assert load_catalog(_write(tmp_path, doc)).region("r1").name == "Region one, again"


def test_the_memo_never_lets_an_invalid_crs_through(tmp_path, monkeypatch):
    memo = _fresh_crs_memo(monkeypatch)
    memo._path().parent.mkdir(parents=True, exist_ok=True)
    memo._path().write_text(
        json.dumps({"stamp": "pyproj 0.0; another PROJ", "crs": {"EPSG:999999": True}}),
        encoding="utf-8",
    )
    doc = _catalog()
    doc["datasets"][0]["files"][0]["crs"] = "EPSG:999999"
    with pytest.raises(CatalogError, match="not a valid CRS"):  # another pyproj's memo: unused
        load_catalog(_write(tmp_path, doc))
    assert "EPSG:999999" not in memo._pending  # refused texts are never kept
    doc = _catalog()
    doc["regions"][0]["crs"] = "EPSG:4326"
    load_catalog(_write(tmp_path, _catalog()))  # keeps EPSG:5070 (and the stamp) only
    memo._known.cache_clear()
    with pytest.raises(CatalogError, match="not a projected CRS"):  # kept as not projected
        load_catalog(_write(tmp_path, doc))
