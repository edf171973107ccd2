"""``geomap catalog ...``, ``geomap fetch``, ``geomap cite``: thin commands over the API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from geomap.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["catalog"],
        ["catalog", "list"],
        ["catalog", "show"],
        ["catalog", "verify"],
        ["catalog", "schema"],
        ["catalog", "lock"],
        ["fetch"],
        ["cite"],
        ["demo"],
    ],
)
def test_every_command_has_help(command):
    result = _run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_list_shows_every_dataset_with_its_licence(catalog):
    result = _run("catalog", "list")
    assert result.exit_code == 0
    for dataset in catalog.datasets:
        line = next(li for li in result.output.splitlines() if li.startswith(dataset.id + " "))
        assert dataset.license.spdx in line


def test_show_prints_metadata_and_files():
    result = _run("catalog", "show", "glim-lithology-0.5deg")
    assert result.exit_code == 0
    assert "CC-BY-3.0" in result.output and "Hartmann" in result.output
    assert "glim-lithology-0.5deg/GLiM_720_360_raw.nc" in result.output
    assert "5cff9107583c558ea1ffe4c6306cb04543e8075280e65f53143fb90fa41de25e" not in result.output


def test_show_unknown_id_fails_with_suggestion():
    result = _run("catalog", "show", "emag2")
    assert result.exit_code == 1
    assert "unknown dataset 'emag2'" in result.output and "emag2-v2-1deg" in result.output


def test_verify_reports_every_file_ok():
    result = _run("catalog", "verify")
    assert result.exit_code == 0, result.output[-2000:]
    assert "0 missing, 0 mismatch" in result.output
    assert "online-only, not mirrored" in result.output
    assert "natural-earth/ne_110m_coastline.json" in result.output


def test_verify_fails_on_a_corrupt_file(tmp_path, monkeypatch, catalog):
    dataset = catalog.dataset("emag2-v2-1deg")
    mirror = tmp_path / "mirror"
    (mirror / dataset.id).mkdir(parents=True)
    (mirror / dataset.files[0].path).write_bytes(b"corrupt")
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(mirror))
    result = _run("catalog", "verify", dataset.id)
    assert result.exit_code == 1
    assert "mismatch" in result.output and dataset.files[0].sha256 in result.output


def test_schema_written_atomically(tmp_path):
    out = tmp_path / "catalog.schema.json"
    result = _run("catalog", "schema", "--out", str(out))
    assert result.exit_code == 0
    schema = json.loads(out.read_text())
    assert "datasets" in schema["properties"]
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.schema.json"]


def test_fetch_prints_local_paths(data_root):
    result = _run("fetch", "japan-prefectures-globalmap")
    assert result.exit_code == 0
    assert str(data_root / "japan-prefectures-globalmap" / "japan.topojson") in result.output


def test_cite_prints_attribution_block():
    result = _run("cite", "japan-prefectures-globalmap", "natural-earth")
    assert result.exit_code == 0
    assert "地球地図日本" in result.output and "Natural Earth" in result.output
