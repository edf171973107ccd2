"""Hostile values on the command line and in recipes end in one-line errors (issue 18).

Each case of ``docs/reliability.md`` ("Tracebacks, hangs and resource use") is a test here:
the command exits with status 1 and one ``Error:`` line naming the value and the fix; no
traceback, no hang (each case is bounded by a timeout), nothing allocated first (the plan is
checked before any stage runs).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _actionable import assert_actionable
from typer.testing import CliRunner

from geomap.cli import app
from geomap.errors import ExportError, ParameterError, RecipeError

REPO = Path(__file__).resolve().parents[1]
KUROKO = REPO / "layers" / "kuroko-vms.yaml"


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a build stage starts: every refusal must come before any work."""
    import geomap.pipeline.runner as runner

    def forbidden(*_args, **_kwargs):
        raise AssertionError("the build started although its plan was refused")

    monkeypatch.setattr(runner.stages, "evidence_stage", forbidden)
    monkeypatch.setattr(runner.stages, "training_stage", forbidden)


def _one_line_error(args: list[str], *names: str) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return assert_actionable(ValueError(errors[0]), *names)


BUILD = ["build", "kuroko-vms", "--region", "japan", "--out", "never-written"]


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (["--resolution", "1e12"], ["1e+12", "--resolution 500000"]),
        (["--resolution", "1"], ["--resolution 1 ", "--resolution 200", "--chunks auto"]),
        (["--resolution", "1", "--chunks", "auto"], ["TiB", "free"]),
        (["--chunks", "1"], ["--chunks 1", "blocks"]),
        (["--seed", "-1"], ["--seed -1", "4294967295"]),
    ],
    ids=["resolution-1e12", "resolution-1", "resolution-1-chunked", "chunks-1", "seed-minus-1"],
)
def test_a_build_that_cannot_run_is_refused_before_any_work(
    tmp_path, monkeypatch, no_work, options, names
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(tmp_path / "cache"))
    _one_line_error([*BUILD, *options], *names)
    assert not (tmp_path / "never-written").exists()
    assert not (tmp_path / "cache").exists()


def test_memory_bound_follows_the_configured_limit(tmp_path, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEOMAP_MEMORY_LIMIT", "1e5")  # 100 kB: even 50 km cells do not fit
    message = _one_line_error([*BUILD, "--resolution", "50000"], "--resolution")
    assert "--chunks auto" in message


def test_the_suggested_resolution_fits(tmp_path, monkeypatch):
    from geomap.catalog import load_catalog
    from geomap.pipeline.plan import check_plan, memory_limit
    from geomap.recipes import load_recipe

    recipe, region = load_recipe("kuroko-vms"), load_catalog().region("japan")
    with pytest.raises(ParameterError) as info:
        check_plan(recipe, region, 1.0)
    suggested = float(str(info.value).split("use --resolution ")[1].split()[0])
    plan = check_plan(recipe, region, suggested)  # no error
    assert plan.memory_bytes <= memory_limit()
    with pytest.raises(ParameterError):
        check_plan(recipe, region, suggested / 2.5)  # one round step finer does not fit


def _recipe_variant(tmp_path: Path, edit) -> Path:
    document = yaml.safe_load(KUROKO.read_text(encoding="utf-8"))
    edit(document)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _set_work_resolution(document: dict) -> None:
    layer = next(e for e in document["evidence"] if "at_resolution_m" in e.get("params", {}))
    layer["params"]["at_resolution_m"] = 1


def test_a_recipe_work_grid_at_one_metre_is_refused_before_any_work(tmp_path, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    recipe = _recipe_variant(tmp_path, _set_work_resolution)
    _one_line_error(["build", str(recipe), "--out", "never-written"], "at_resolution_m: 1", "set")


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (
            lambda d: d["training"].update(where={"deposit_type": {"min": "abc"}}),
            ["training.where.deposit_type.min", "'abc'"],
        ),
        (
            lambda d: d["evidence"][0]["params"]["scores"].update(felsic_volcanic="high"),
            ["scores.felsic_volcanic", "'high'"],
        ),
    ],
    ids=["where-min-abc", "class-score-high"],
)
def test_recipe_values_that_are_not_numbers_are_named(tmp_path, edit, names):
    recipe = _recipe_variant(tmp_path, edit)
    _one_line_error(["build", str(recipe), "--out", str(tmp_path / "o")], *names)


# ---- the recipe argument itself --------------------------------------------------------------


def test_an_empty_recipe_name(tmp_path):
    _one_line_error(["build", "", "--out", str(tmp_path / "o")], "''")


def test_a_folder_as_recipe(tmp_path):
    _one_line_error(["build", str(tmp_path), "--out", str(tmp_path / "o")], "is a folder")


def test_a_device_as_recipe_is_not_read(tmp_path):
    _one_line_error(["build", "/dev/zero", "--out", str(tmp_path / "o")], "/dev/zero", "regular")


def test_a_fifo_as_recipe_does_not_hang(tmp_path):
    fifo = tmp_path / "recipe.yaml"
    os.mkfifo(fifo)
    script = (
        "import sys; from geomap.cli import main; "
        f"sys.argv = ['geomap', 'build', {str(fifo)!r}, '--out', {str(tmp_path / 'o')!r}]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails here
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 1, done.stderr
    assert_actionable(ValueError(done.stderr), "recipe.yaml", "not a regular file")
    assert "Traceback" not in done.stderr


def test_an_oversized_recipe_is_refused_before_reading(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(64 * 2**20)  # sparse: no disk used
    _one_line_error(["build", str(huge), "--out", str(tmp_path / "o")], "huge.yaml", "bytes")


def test_deeply_nested_yaml_is_refused_without_recursion_error(tmp_path):
    nested = tmp_path / "nested.yaml"
    nested.write_text("[" * 50_000, encoding="utf-8")
    _one_line_error(["build", str(nested), "--out", str(tmp_path / "o")], "nested", "levels")


def test_an_unreadable_recipe(tmp_path, monkeypatch):
    # tests run as root, where chmod 000 still reads: the refusal comes from os.open
    recipe = tmp_path / "locked.yaml"
    recipe.write_text(KUROKO.read_text(encoding="utf-8"), encoding="utf-8")
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if Path(os.fsdecode(path)) == recipe:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    _one_line_error(
        ["build", str(recipe), "--out", str(tmp_path / "o")], "locked.yaml", "permission"
    )


def test_python_dash_m_geomap_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "geomap", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert "build" in done.stdout and "Usage" in done.stdout


# ---- data values ----------------------------------------------------------------------------


def test_nan_and_infinity_coordinates_in_geojson_are_dropped_and_counted(tmp_path):
    from _fake_dataset import call_reader, fake_dataset

    path = tmp_path / "sites.geojson"
    features = [
        ("ok", '{"type":"Point","coordinates":[139.7,35.7]}'),
        ("nan", '{"type":"Point","coordinates":[NaN,35.0]}'),
        ("inf", '{"type":"LineString","coordinates":[[Infinity,35.0],[140,36]]}'),
        ("poly", '{"type":"Polygon","coordinates":[[[139,35],[NaN,35],[140,36],[139,35]]]}'),
    ]
    path.write_text(
        '{"type":"FeatureCollection","features":['
        + ",".join(
            f'{{"type":"Feature","properties":{{"name":"{n}"}},"geometry":{g}}}'
            for n, g in features
        )
        + "]}",
        encoding="utf-8",
    )
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "EPSG:4326"}], reader="vector-file"
    )
    with pytest.warns(RuntimeWarning):  # shapely's note on the NaN while decoding
        frame = call_reader(dataset, paths)
    assert list(frame["name"]) == ["ok"]
    report = frame.attrs["geomap_report"]
    assert report["dropped"] == {"non-finite coordinate (NaN or Infinity)": 3}
    assert report["records_in"] == 4 and report["records_out"] == 1


def test_a_full_disk_while_the_geopackage_is_written_is_one_clear_error(tmp_path, monkeypatch):
    import geopandas as gpd
    import pyogrio
    from pyogrio.errors import DataSourceError
    from shapely.geometry import Point

    from geomap.export.gpkg import write_geopackage

    real_write = pyogrio.write_dataframe
    calls = []

    def full_disk(frame, path, **kwargs):
        calls.append(path)
        real_write(frame, path, **kwargs)  # part of the file is written, then the disk fills
        raise DataSourceError(f"sqlite3_exec({path}) failed: database or disk is full")

    monkeypatch.setattr(pyogrio, "write_dataframe", full_disk)
    sites = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(139.7, 35.7)], crs="EPSG:4326")
    final = tmp_path / "out.gpkg"
    with pytest.raises(ExportError) as info:
        write_geopackage(final, vectors={"occurrences": sites})
    message = assert_actionable(info, "out.gpkg", "disk is full")
    assert "\n" not in message and calls
    assert list(tmp_path.iterdir()) == []  # no half-written GeoPackage, no temporary file


def test_a_recipe_refusal_is_a_recipe_error_for_api_callers(tmp_path):
    from geomap.recipes import load_recipe

    with pytest.raises(RecipeError):
        load_recipe(tmp_path)


def test_targets_into_a_folder_is_refused_before_any_work(tmp_path, no_work):
    _one_line_error(
        ["targets", "kuroko-vms", "--region", "japan", "--out", str(tmp_path)], "is a folder"
    )
