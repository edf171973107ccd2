"""One BuildSettings for every driver and command: one set of defaults, one option parser."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from geomap.cli import app
from geomap.errors import ParameterError
from geomap.pipeline.settings import BuildSettings, default_resolution, parse_chunks

runner = CliRunner()


def test_unknown_option_names_the_closest_field():
    with pytest.raises(ParameterError, match=r"'resolution' \(did you mean 'resolution_m'\?\)"):
        BuildSettings.from_options(resolution=5000)
    with pytest.raises(ParameterError, match="must be a positive number of metres"):
        BuildSettings(resolution_m=-1)


@pytest.mark.parametrize("driver", ["build", "run_stages", "model_region"])
def test_every_driver_refuses_an_unknown_option_before_any_work(driver, monkeypatch, tmp_path):
    import geomap.catalog
    import geomap.pipeline as pipeline
    from geomap.pipeline import runner as runner_module

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(runner_module, "load_catalog", no_work)
    monkeypatch.setattr(geomap.catalog, "load_catalog", no_work)
    call = getattr(pipeline, driver)
    with pytest.raises(ParameterError, match="unknown build option 'folds'"):
        call("kuroko-vms", folds=3)
    assert not list(tmp_path.iterdir())


def test_settings_and_keyword_options_combine():
    base = BuildSettings(region="japan", n_splits=3)
    merged = BuildSettings.from_options(base, n_splits=4, chunks="512")
    assert (merged.region, merged.n_splits, merged.chunks) == ("japan", 4, 512)
    assert base.n_splits == 3  # settings are frozen: replaced, never changed in place
    assert parse_chunks((256, "128")) == (256, 128)
    with pytest.raises(ParameterError, match="--chunks 0"):
        parse_chunks(0)


def test_resolution_is_automatic_unless_given():
    assert BuildSettings().resolution_for("japan") == default_resolution("japan") == 5000.0
    assert BuildSettings(resolution_m=25_000).resolution_for("japan") == 25_000.0


def _options(command: str) -> dict[str, Any]:
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params if p.name}


@pytest.mark.parametrize("command", ["build", "targets", "map", "export", "model", "evidence"])
def test_cli_options_are_defined_once(command):
    """The shared options have the same flags, help and defaults in every command."""
    options = _options(command)
    reference = _options("build")
    for name in ("region", "resolution", "chunks", "model"):
        if name in options:
            assert options[name].opts == reference[name].opts
            assert getattr(options[name], "help", None) == getattr(reference[name], "help", None)
    defaults = BuildSettings()
    if "folds" in options:
        assert options["folds"].default == defaults.n_splits
    if "max_cells" in options:
        assert options["max_cells"].default == defaults.max_cells
    if "seed" in options:
        assert options["seed"].default == defaults.random_state
    assert options["resolution"].default is None  # automatic everywhere unless given


@pytest.mark.parametrize(
    "args",
    [
        ["build", "kuroko-vms"],
        ["targets", "kuroko-vms"],
        ["map", "kuroko-vms"],
        ["export", "kuroko-vms"],
        ["model", "kuroko-vms", "--out", "{out}"],
        ["evidence", "kuroko-vms", "--out", "{out}"],
    ],
)
def test_chunks_parsed_one_way_by_every_command(args, tmp_path):
    out = tmp_path / "out"
    argv = [a.format(out=out) for a in args] + ["--chunks", "big"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())  # unwrap the error box
    assert "--chunks 'big'" in text and "positive whole number" in text
    assert not out.exists()
