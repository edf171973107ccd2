"""The occurrence index: same rows as reading the sources, invalidated by hashes and code.

Every test gets a private download cache (``conftest._isolated_cache``), so each starts with
no index; the reference is computed the way ``read_occurrences`` worked before the index:
read every source, concatenate, select, merge duplicates, select commodities.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

import geomap.io as geomap_io
from geomap.catalog import load_catalog
from geomap.core import fingerprint
from geomap.harmonize.dedup import merge_duplicates
from geomap.harmonize.deposit_types import add_deposit_classes
from geomap.harmonize.occurrences import select_commodities
from geomap.io import occurrence_index, occurrences
from geomap.io.admin import check_states, state_codes
from geomap.io.occurrences import occurrence_dataset_ids, read_occurrences

SMALL = "usgs-lithium-deposits-us-2019"  # 21 sites: quick to read and to index


@pytest.fixture(autouse=True)
def _fresh_index(tmp_path, monkeypatch):
    """Each test here starts with an empty index (the rest of the suite shares one)."""
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX_DIR", str(tmp_path / "occurrence-index"))
    monkeypatch.setattr(occurrence_index, "_PARTS", {})


def _reference(region: str | None, country: str | None, commodities: str | None):
    """Select from the sources directly, as read_occurrences did before the index."""
    cat = load_catalog()
    frames = [geomap_io.read(d, catalog=cat).to_crs(4326) for d in occurrence_dataset_ids(cat)]
    combined = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    x, y = shapely.get_x(combined.geometry.to_numpy()), shapely.get_y(combined.geometry.to_numpy())
    keep = np.ones(len(combined), dtype=bool)
    if region is not None:
        west, south, east, north = cat.region(region).bbox
        lon_ok = (x >= west) & (x <= east) if west <= east else (x >= west) | (x <= east)
        keep &= (y >= south) & (y <= north) & lon_ok
    if country is not None:
        keep &= combined["country"].isin(country.split(",")).to_numpy()
    rows = combined.loc[keep].reset_index(drop=True)
    selected = merge_duplicates(rows, state_codes=state_codes(rows))
    if commodities is not None:
        mask = select_commodities(selected, commodities.split(","))
        selected = selected.loc[mask.to_numpy()].reset_index(drop=True)
    selected = add_deposit_classes(selected)
    states = check_states(selected)
    for column in states.columns:
        selected[column] = states[column].to_numpy()
    return selected


def _clear_process_caches() -> None:
    occurrences._DEDUP_CACHE.clear()


QUERIES = [
    ("japan", "JPN", None),
    ("alaska", "USA", None),
    ("australia", "AUS", "Cu,Au"),
]


@pytest.mark.parametrize(("region", "country", "commodities"), QUERIES)
def test_indexed_result_equals_reading_the_sources(region, country, commodities, monkeypatch):
    expected = _reference(region, country, commodities)
    query = {"region": region, "country": country, "commodities": commodities, "to_crs": False}
    _clear_process_caches()
    cold = read_occurrences(**query)  # builds the index
    folder = occurrence_index.index_path(SMALL).parent
    assert sorted(p.stem for p in folder.glob("*.parquet")) == sorted(occurrence_dataset_ids())

    def no_source_reads(*args, **kwargs):
        raise AssertionError("the warm query read a source instead of the index")

    monkeypatch.setattr(geomap_io, "read", no_source_reads)
    monkeypatch.setattr(occurrences, "_merge", no_source_reads)  # merged selections kept too
    _clear_process_caches()
    warm = read_occurrences(**query)
    for result in (cold, warm):
        assert_geodataframe_equal(result, expected, check_dtype=True, check_crs=True)
        assert list(result.columns) == list(expected.columns)
    assert warm.attrs == cold.attrs
    assert warm.attrs["geomap_report"]["records_out"] == len(expected)


def test_index_off_gives_the_same_frame(monkeypatch):
    indexed = read_occurrences(region="japan", country="JPN", to_crs=False)
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX", "0")
    _clear_process_caches()
    direct = read_occurrences(region="japan", country="JPN", to_crs=False)
    assert_geodataframe_equal(indexed, direct, check_dtype=True)
    assert indexed.attrs == direct.attrs


def test_an_entry_round_trips_the_reader_frame_exactly():
    cat = load_catalog()
    direct = geomap_io.read(SMALL, catalog=cat)
    occurrence_index.read_indexed(SMALL, cat)  # writes the entry
    again = occurrence_index.read_indexed(SMALL, cat)
    assert_geodataframe_equal(again, direct, check_dtype=True, check_crs=True)
    assert again.attrs == direct.attrs


class _CountingReads:
    def __init__(self, frame):
        self.frame, self.calls = frame, 0

    def __call__(self, dataset_id, **kwargs):
        self.calls += 1
        return self.frame.copy()


def test_changing_a_source_hash_or_the_code_invalidates_the_entry(monkeypatch):
    cat = load_catalog()
    frame = geomap_io.read(SMALL, catalog=cat)
    reads = _CountingReads(frame)
    monkeypatch.setattr(geomap_io, "read", reads)
    occurrence_index.read_part(SMALL, cat)
    occurrence_index.read_part(SMALL, cat)
    assert reads.calls == 1  # second call served by the index
    key = occurrence_index.index_key(cat.dataset(SMALL))

    dataset = cat.dataset(SMALL)
    edited_file = dataset.files[1].model_copy(update={"sha256": "0" * 64})
    edited = dataset.model_copy(
        update={"files": [dataset.files[0], edited_file, *dataset.files[2:]]}
    )
    other = cat.model_copy(
        update={"datasets": [edited if d.id == SMALL else d for d in cat.datasets]}
    )
    assert occurrence_index.index_key(edited) != key
    occurrence_index.read_part(SMALL, other)
    assert reads.calls == 2  # a source hash changed: read again
    occurrence_index.read_part(SMALL, other)
    assert reads.calls == 2

    monkeypatch.setattr(fingerprint, "code_fingerprint", lambda: "other code")
    assert occurrence_index.index_key(dataset) != key
    occurrence_index.read_part(SMALL, cat)
    assert reads.calls == 3  # geomap's code changed: read again


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"not a parquet file", id="garbage"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:400] + bytes([data[400] ^ 0xFF]) + data[401:], id="page"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_a_damaged_entry_is_reported_rebuilt_and_never_trusted(damage):
    cat = load_catalog()
    expected = occurrence_index.read_part(SMALL, cat, countries=["USA"]).frame
    path = occurrence_index.index_path(SMALL)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match=r"occurrence index .* was unreadable.*rebuilding"):
        part = occurrence_index.read_part(SMALL, cat, countries=["USA"])
    assert_geodataframe_equal(part.frame, expected, check_dtype=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next read is clean
        again = occurrence_index.read_part(SMALL, cat, countries=["USA"])
    assert_geodataframe_equal(again.frame, expected, check_dtype=True)


def test_a_report_altered_in_the_footer_is_refused():
    """The attrs (key and ingest report) carry their own sha256; pages carry CRC32s."""
    import json

    import pyarrow.parquet as pq

    cat = load_catalog()
    occurrence_index.read_indexed(SMALL, cat)
    path = occurrence_index.index_path(SMALL)
    table = pq.read_table(path)
    attrs = json.loads(table.schema.metadata[b"PANDAS_ATTRS"])
    attrs["geomap_report"]["records_in"] += 1  # the key and the digest left as they were
    metadata = {**table.schema.metadata, b"PANDAS_ATTRS": json.dumps(attrs).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    with pytest.warns(UserWarning, match="unreadable.*do not match their sha256"):
        frame = occurrence_index.read_indexed(SMALL, cat)
    assert frame.attrs == geomap_io.read(SMALL, catalog=cat).attrs


def test_an_unwritable_cache_is_reported_and_the_answer_still_given(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(blocked))
    monkeypatch.delenv("GEOMAP_OCCURRENCE_INDEX_DIR")  # the default: inside the download cache
    cat = load_catalog()
    with pytest.warns(UserWarning, match="occurrence index not written"):
        frame = occurrence_index.read_indexed(SMALL, cat)
    assert len(frame) == len(geomap_io.read(SMALL, catalog=cat))


def test_the_default_index_lives_in_pooch_s_cache(monkeypatch):
    """Without GEOMAP_CACHE_DIR the cache is pooch.os_cache('geomap'), found without pooch."""
    import pooch

    from geomap import _paths

    monkeypatch.delenv("GEOMAP_CACHE_DIR")
    monkeypatch.delenv("GEOMAP_OCCURRENCE_INDEX_DIR")
    assert _paths.cache_dir() == pooch.os_cache("geomap")
    assert (
        occurrence_index.index_path(SMALL).parent == pooch.os_cache("geomap") / "occurrence-index"
    )


def test_a_source_in_another_crs_is_selected_after_reprojection(monkeypatch):
    """Entries not in EPSG:4326 take the pandas route: reprojected, then selected."""
    cat = load_catalog()
    projected = geomap_io.read(SMALL, catalog=cat).to_crs(5070)
    monkeypatch.setattr(geomap_io, "read", _CountingReads(projected))
    bbox, countries = cat.region("us-southwest").bbox, ["USA"]
    cold = occurrence_index.read_part(SMALL, cat, bbox=bbox, countries=countries)
    warm = occurrence_index.read_part(SMALL, cat, bbox=bbox, countries=countries)
    in_degrees = projected.to_crs(4326)
    x, y = in_degrees.geometry.x.to_numpy(), in_degrees.geometry.y.to_numpy()
    west, south, east, north = bbox
    inside = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    expected = in_degrees.loc[inside & in_degrees["country"].isin(countries).to_numpy()]
    assert 0 < len(expected) < len(projected)
    for part in (cold, warm):
        assert_geodataframe_equal(part.frame, expected, check_dtype=True)
        assert part.outside == int((~inside).sum()) and part.total == len(projected)


# ---- kept answers: a repeated query and the CLI's fast path --------------------------------


def test_a_repeated_query_is_answered_from_its_kept_answer(monkeypatch):
    query = {"region": "us-southwest", "country": "USA", "commodities": "Li", "to_crs": False}
    cold = read_occurrences(SMALL, **query)
    assert 0 < len(cold) < 21

    def recompute(*args, **kwargs):
        raise AssertionError("a repeated query was computed again")

    monkeypatch.setattr(occurrences, "_read_area", recompute)
    monkeypatch.setattr(occurrences, "_rows_of_area", recompute)
    warm = read_occurrences(SMALL, **query)
    assert_geodataframe_equal(warm, cold, check_dtype=True, check_crs=True)
    assert warm.attrs == cold.attrs
    with pytest.raises(AssertionError, match="computed again"):  # another query is computed
        read_occurrences(SMALL, **{**query, "commodities": "Li,Be"})
    monkeypatch.setattr(fingerprint, "code_fingerprint", lambda: "other code")
    with pytest.raises(AssertionError, match="computed again"):  # geomap's code changed
        read_occurrences(SMALL, **query)


def test_the_kept_answer_read_without_geopandas_equals_the_frame():
    query = {"region": "us-southwest", "country": "USA"}
    assert occurrences.cached_answer(SMALL, **query) is None  # not asked yet
    frame = read_occurrences(SMALL, **query, to_crs=False)
    columns, lon, lat = occurrences.cached_answer(SMALL, **query)
    pd.testing.assert_frame_equal(columns, pd.DataFrame(frame.drop(columns="geometry")))
    np.testing.assert_array_equal(lon, frame.geometry.x.to_numpy())
    np.testing.assert_array_equal(lat, frame.geometry.y.to_numpy())
    path = next((occurrence_index.index_dir() / "queries").glob("*.parquet"))
    path.write_bytes(path.read_bytes()[:100])  # damaged: no fast answer, the normal route
    assert occurrences.cached_answer(SMALL, **query) is None


@pytest.mark.parametrize(
    "args",
    [
        ["--region", "us-southwest"],
        ["--region", "us-southwest", "--format", "csv"],
        ["--region", "us-southwest", "--format", "geojson"],
        ["--commodity", "REE", "--region", "japan"],  # none: the explanation's counts too
        ["--end-use", "batteries", "--country", "USA", "--no-dedup"],
    ],
)
def test_the_cli_prints_the_same_bytes_from_a_kept_answer(args, monkeypatch):
    from typer.testing import CliRunner

    from geomap.cli import app

    command = ["occurrences", "--dataset", SMALL, *args]
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX", "0")  # computed from the sources
    direct = CliRunner().invoke(app, command)
    monkeypatch.delenv("GEOMAP_OCCURRENCE_INDEX")
    CliRunner().invoke(app, command)  # computes and keeps the answer
    _forbid_computing(monkeypatch)
    kept = CliRunner().invoke(app, command)
    assert direct.exit_code == kept.exit_code == 0, kept.output
    assert kept.stdout == direct.stdout and kept.stderr == direct.stderr
    assert "sites" in kept.stderr


@pytest.mark.parametrize(
    ("area", "selection"),
    [
        (["--region", "us-southwest"], ["--commodity", "Li"]),
        (["--region", "us-southwest"], ["--commodity", "B,Cs", "--format", "csv"]),
        (["--region", "us-southwest"], ["--commodity", "Li", "--format", "geojson"]),
        (["--region", "us-southwest"], ["--end-use", "batteries", "--format", "csv"]),
        (["--region", "us-southwest"], ["--commodity", "REE"]),  # empty: explanation too
        (["--country", "USA", "--no-dedup"], ["--end-use", "batteries"]),
        (["--region", "us-southwest", "--neighbours"], ["--commodity", "Li"]),
    ],
)
def test_a_new_selection_of_a_listed_area_prints_the_same_bytes(area, selection, monkeypatch):
    from typer.testing import CliRunner

    from geomap.cli import app

    command = ["occurrences", "--dataset", SMALL, *area, *selection]
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX", "0")  # computed from the sources
    direct = CliRunner().invoke(app, command)
    monkeypatch.delenv("GEOMAP_OCCURRENCE_INDEX")
    listed = CliRunner().invoke(app, ["occurrences", "--dataset", SMALL, *area])
    assert listed.exit_code == 0, listed.output  # the area's listing is kept
    _forbid_computing(monkeypatch)
    derived = CliRunner().invoke(app, command)
    assert direct.exit_code == derived.exit_code == 0, derived.output
    assert derived.stdout == direct.stdout and derived.stderr == direct.stderr
    assert "sites" in derived.stderr


def _forbid_computing(monkeypatch):
    """Make any listing or selection computed from here on fail (answers must be kept)."""
    monkeypatch.setattr(occurrences, "_read_area", None)
    monkeypatch.setattr(occurrences, "_rows_of_area", None)


@pytest.mark.parametrize("index", ["1", "0"])
@pytest.mark.parametrize(
    ("dataset", "selection"),
    [
        ("minmod-usgs-mrdata", {"commodities": "Li"}),
        ("minmod-usgs-mrdata", {"end_use": "magnets"}),  # a generic REE site and mismatches
        (SMALL, {"commodities": "REE"}),  # none
    ],
)
def test_a_selection_is_rows_of_its_area_listing_with_its_own_report(
    dataset, selection, index, monkeypatch
):
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX", index)
    area_query = {"region": "us-southwest", "country": "USA", "to_crs": False}
    area = read_occurrences(dataset, **area_query)
    answer = read_occurrences(dataset, **area_query, **selection)
    report, listed = answer.attrs["geomap_report"], area.attrs["geomap_report"]
    assert report["records_out"] == len(answer) < len(area) == listed["records_out"]
    assert report["records_in"] == listed["records_in"]
    assert report["dropped"] == listed["dropped"] and report["datasets"] == listed["datasets"]
    picked = area.set_index("site_id").loc[answer["site_id"]].reset_index()
    shared = [c for c in area.columns if c in answer.columns]
    pd.testing.assert_frame_equal(
        pd.DataFrame(answer[shared]).drop(columns="geometry"),
        pd.DataFrame(picked[shared]).drop(columns="geometry"),
    )
    mismatches = int(answer["state_mismatch"].sum()) if len(answer) else 0
    state_line = occurrences._STATE_MISMATCH
    assert report["normalized"].get(state_line, 0) == mismatches
    if "end_use" in selection:
        noted = int((answer["end_use_note"] != "").sum())
        assert 0 < noted < len(answer)
        assert list(answer.columns).index("end_use_note") < list(answer.columns).index(
            "deposit_class_rule"
        )
        line = next(k for k in report["normalized"] if "generic group" in k)
        assert report["normalized"][line] == noted
        assert list(report["normalized"]).index(line) < len(report["normalized"]) - (
            1 if mismatches else 0
        )  # before the state line, as the answer's columns are
    if not len(answer):  # the state check runs on a non-empty selection only
        assert "state_code" not in answer.columns
    else:
        assert "state_code" in answer.columns


def test_a_selection_keeps_its_area_listing_whatever_the_area_size():
    query = {"region": "us-southwest", "country": "USA", "commodities": "B"}  # 6 of 14
    assert occurrences.derived_answer(SMALL, **query) is None  # nothing kept yet
    expected = read_occurrences(SMALL, **query, to_crs=False)  # keeps the area's listing too
    listing = occurrences.cached_answer(SMALL, region="us-southwest", country="USA")
    assert listing is not None and 0 < len(expected) < len(listing[0])
    columns, lon, lat = occurrences.derived_answer(SMALL, **{**query, "commodities": "Li"})
    li = read_occurrences(SMALL, **{**query, "commodities": "Li"}, to_crs=False)
    pd.testing.assert_frame_equal(columns, pd.DataFrame(li.drop(columns="geometry")))
    np.testing.assert_array_equal(lon, li.geometry.x.to_numpy())
    np.testing.assert_array_equal(lat, li.geometry.y.to_numpy())


def test_a_commodity_query_of_a_small_area_keeps_the_area_listing(monkeypatch):
    area = {"region": "us-southwest", "country": "USA"}
    read_occurrences(SMALL, **area, commodities="Li", to_crs=False)
    listing = occurrences.cached_answer(SMALL, **area)  # kept by the commodity query
    assert listing is not None and len(listing[0]) == 14
    expected = read_occurrences(SMALL, **area, end_use="batteries", to_crs=False)
    _forbid_computing(monkeypatch)
    columns, lon, lat = occurrences.derived_answer(SMALL, **area, end_use="batteries")
    pd.testing.assert_frame_equal(columns, pd.DataFrame(expected.drop(columns="geometry")))
    np.testing.assert_array_equal(lon, expected.geometry.x.to_numpy())
    np.testing.assert_array_equal(lat, expected.geometry.y.to_numpy())
    assert "end_use_note" in columns.columns


def test_the_cli_answers_a_repeated_query_without_geopandas(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import sys; from geomap.cli import main; sys.argv = ['geomap', 'occurrences', "
        f"'--dataset', '{SMALL}', '--region', 'us-southwest']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('geopandas', 'shapely', 'pyogrio') if m in sys.modules), "
        "file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.count("\n") > 2
    assert runs[0].stderr.splitlines()[-1] != "[]"  # the first run computed the answer
    assert runs[1].stderr.splitlines()[-1] == "[]"  # the second read it with pyarrow
    selection = script.replace("'us-southwest'", "'us-southwest', '--commodity', 'Li'")
    derived = subprocess.run(
        [sys.executable, "-c", selection], env=env, capture_output=True, text=True, check=True
    )
    assert "sites" in derived.stderr and derived.stdout.count("\n") > 2
    assert derived.stderr.splitlines()[-1] == "[]"  # a new selection of the listed area too


def test_admin_units_are_kept_and_equal_to_reading_them(monkeypatch):
    from geomap.io import admin

    admin.admin_units.cache_clear()
    fresh = admin._read_admin_units()
    first = admin.admin_units()
    admin.admin_units.cache_clear()
    monkeypatch.setattr(admin, "_read_admin_units", None)  # a second read would fail
    kept = admin.admin_units()
    admin.admin_units.cache_clear()
    for frame in (first, kept):
        assert_geodataframe_equal(frame, fresh, check_dtype=True, check_crs=True)


def test_a_projected_query_is_the_kept_answer_projected(monkeypatch):
    query = {"region": "us-southwest", "country": "USA", "commodities": "Li"}
    monkeypatch.setenv("GEOMAP_OCCURRENCE_INDEX", "0")
    direct = read_occurrences(SMALL, **query)
    monkeypatch.delenv("GEOMAP_OCCURRENCE_INDEX")
    first = read_occurrences(SMALL, **query)
    _forbid_computing(monkeypatch)
    again = read_occurrences(SMALL, **query)  # read back and projected, nothing computed
    for answer in (first, again):
        assert answer.crs == direct.crs and not answer.crs.is_geographic
        assert_geodataframe_equal(answer, direct, check_dtype=True, check_crs=True)
        assert answer.attrs == direct.attrs


def test_a_merge_is_keyed_by_the_index_entries_and_the_selection(monkeypatch):
    from types import SimpleNamespace

    from geomap.catalog import load_catalog

    cat = load_catalog()
    box = list(cat.region("us-southwest").bbox)
    key = occurrence_index.selection_key([SMALL], cat, bbox=box, countries=["USA"])
    assert key == occurrence_index.selection_key([SMALL], cat, bbox=box, countries=["USA"])
    assert key != occurrence_index.selection_key([SMALL], cat, bbox=box, countries=["MEX"])
    assert key != occurrence_index.selection_key([SMALL], cat, bbox=None, countries=["USA"])
    monkeypatch.setattr(occurrence_index, "index_key", lambda dataset: "another entry")
    assert key != occurrence_index.selection_key([SMALL], cat, bbox=box, countries=["USA"])
    unpinned = SimpleNamespace(files=[SimpleNamespace(sha256=None)])
    fake = SimpleNamespace(dataset=lambda _id: unpinned)
    assert occurrence_index.selection_key([SMALL], fake, bbox=box) is None  # digest instead
