"""``--overwrite`` never deletes what geomap did not write (issue 18, data loss).

Each case of ``docs/reliability.md`` ("Overwrite and concurrent writers") is a test here.
The refusals are checked before any work: ``build`` raises before the first stage runs (the
stages are replaced by a function that fails the test), so these tests take milliseconds.
One real build (Kuroko VMS in Japan at 50 km cells, the smallest, its products served from
the session build's cache) checks the end-to-end case: a folder appearing at ``--out`` while
the outputs are written is not replaced.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from _actionable import assert_actionable

from geomap.core.atomic import atomic_dir
from geomap.core.output_guard import check_replaceable, output_lock
from geomap.errors import ExportError, OutputExistsError, ParameterError


def _geomap_output(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A folder as geomap leaves it: files plus a manifest listing them."""
    with atomic_dir(folder) as tmp:
        for name, text in (files or {"map.html": "<html></html>"}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)
    return folder


def _listing(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def no_work(monkeypatch):
    """Make any build stage fail the test: refusals must come before any work."""
    import geomap.pipeline.runner as runner

    def forbidden(*_args, **_kwargs):
        raise AssertionError("the build started although the output was refused")

    monkeypatch.setattr(runner, "run_stages", forbidden)


def _build(out, **options):
    from geomap.pipeline.runner import build

    return build(
        "kuroko-vms", region="japan", resolution_m=50_000, out=out, progress=False, **options
    )


def test_overwrite_refuses_a_folder_geomap_did_not_write_and_keeps_its_files(tmp_path, no_work):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "thesis.docx").write_text("years of work")
    with pytest.raises(OutputExistsError) as info:
        _build(folder, overwrite=True)
    assert_actionable(info, folder, "manifest.json")
    assert (folder / "thesis.docx").read_text() == "years of work"


def test_overwrite_refuses_a_geomap_folder_holding_other_files_and_names_them(tmp_path, no_work):
    folder = _geomap_output(tmp_path / "out")
    (folder / "notes.txt").write_text("mine")
    (folder / "sub").mkdir()
    (folder / "sub" / "field.csv").write_text("mine too")
    before = _listing(folder)
    with pytest.raises(OutputExistsError) as info:
        _build(folder, overwrite=True)
    assert_actionable(info, "notes.txt", "sub/field.csv")
    assert _listing(folder) == before


def test_overwrite_refuses_a_plain_file(tmp_path, no_work):
    target = tmp_path / "report.pdf"
    target.write_text("a file")
    with pytest.raises(OutputExistsError) as info:
        _build(target, overwrite=True)
    assert_actionable(info, target, "is a file")
    assert target.read_text() == "a file"


def test_overwrite_refuses_a_symbolic_link(tmp_path, no_work):
    real = _geomap_output(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputExistsError) as info:
        _build(link, overwrite=True)
    assert_actionable(info, link, "symbolic link")
    assert (real / "map.html").exists()


@pytest.mark.parametrize("where", ["/", ".", "~", ".."])
def test_overwrite_refuses_root_working_home_and_parent_folders(
    tmp_path, monkeypatch, no_work, where
):
    work = tmp_path / "home" / "work"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(work)
    # even carrying a geomap manifest, these folders are never replaced
    for folder in {work, tmp_path / "home"}:
        (folder / "manifest.json").write_text(json.dumps({"geomap_manifest": 1, "outputs": {}}))
    target = Path(os.path.expanduser(where))
    with pytest.raises(OutputExistsError) as info:
        _build(target, overwrite=True)
    assert_actionable(info, "never replaces")
    assert work.is_dir()


def test_without_overwrite_an_existing_output_is_refused_before_any_work(tmp_path, no_work):
    folder = _geomap_output(tmp_path / "out")
    with pytest.raises(OutputExistsError) as info:
        _build(folder)
    assert_actionable(info, folder, "--overwrite")


@pytest.mark.parametrize("bad", ["a\nb", "x\ty", "nul\x00", "", "  "])
def test_an_output_name_with_control_characters_or_empty_is_refused(tmp_path, no_work, bad):
    with pytest.raises(ParameterError) as info:
        _build(bad)
    assert_actionable(info, "--out")


def test_overwrite_replaces_a_geomap_output_and_leaves_no_temporary_names(tmp_path):
    folder = _geomap_output(tmp_path / "out", {"map.html": "old", "evidence/a.tif": "old"})
    with atomic_dir(folder, overwrite=True) as tmp:
        (tmp / "map.html").write_text("new")
    assert (folder / "map.html").read_text() == "new"
    assert not (folder / "evidence").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_user_folder_named_like_the_old_copy_is_never_touched(tmp_path):
    folder = _geomap_output(tmp_path / "out")
    mine = tmp_path / ".out.old"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep")
    with atomic_dir(folder, overwrite=True) as tmp:
        (tmp / "map.html").write_text("new")
    assert (mine / "precious.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.old", "out"]


def test_atomic_dir_writes_a_manifest_so_its_folder_can_be_replaced(tmp_path):
    folder = tmp_path / "evidence-out"
    with atomic_dir(folder) as tmp:
        (tmp / "a.tif").write_bytes(b"tif")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["geomap_manifest"] == 1
    assert set(manifest["outputs"]) == {"a.tif"}
    check_replaceable(folder, overwrite=True)  # replaceable: no error


def _write_while(folder: Path, interfere, *, overwrite: bool = False) -> None:
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        (tmp / "map.html").write_text("new")
        interfere()


def test_a_folder_created_at_the_output_meanwhile_is_not_replaced(tmp_path):
    folder = tmp_path / "out"

    def interfere() -> None:
        folder.mkdir()  # someone else creates it while geomap writes
        (folder / "theirs.txt").write_text("theirs")

    with pytest.raises(OutputExistsError) as info:
        _write_while(folder, interfere)
    assert_actionable(info, folder)
    assert _listing(folder) == {"theirs.txt": b"theirs"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_folder_created_meanwhile_is_not_replaced_either(tmp_path):
    folder = tmp_path / "out"
    with pytest.raises(OutputExistsError):
        _write_while(folder, folder.mkdir)
    assert folder.is_dir() and not any(folder.iterdir())


def test_with_overwrite_files_added_to_the_old_output_meanwhile_stop_the_swap(tmp_path):
    folder = _geomap_output(tmp_path / "out")
    with pytest.raises(OutputExistsError) as info:
        _write_while(
            folder, lambda: (folder / "added-meanwhile.txt").write_text("user's"), overwrite=True
        )
    assert_actionable(info, "added-meanwhile.txt")
    assert (folder / "added-meanwhile.txt").read_text() == "user's"
    assert (folder / "map.html").read_text() == "<html></html>"


def _hold_lock(path: str, ready, release) -> None:
    with output_lock(path):
        ready.set()
        release.wait(30)


def test_a_second_writer_of_the_same_output_fails_at_once(tmp_path, no_work):
    folder = tmp_path / "out"
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(str(folder), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(ExportError) as info:
            _build(folder)
        assert_actionable(info, folder, "another geomap process")
        with pytest.raises(ExportError), atomic_dir(folder) as tmp:
            (tmp / "a.txt").write_text("a")
        assert not folder.exists()
    finally:
        release.set()
        holder.join(30)
    with atomic_dir(folder) as tmp:  # once the first writer is done, the output is free
        (tmp / "a.txt").write_text("a")
    assert (folder / "a.txt").exists()


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    folder = tmp_path / "out"
    with output_lock(folder), atomic_dir(folder) as tmp:
        (tmp / "a.txt").write_text("a")
    assert (folder / "a.txt").exists()


def test_a_real_build_does_not_replace_a_folder_that_appears_during_the_outputs_stage(
    tmp_path, monkeypatch, japan_vms_build
):
    import shutil

    import geomap.pipeline.runner as runner

    # the computing stages come from (a copy of) the session build's cache; the outputs are
    # written for real
    cache = tmp_path / "cache"
    shutil.copytree(japan_vms_build.cache, cache, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
    out = tmp_path / "out"
    original = runner.write_outputs

    def write_then_interfere(state, folder, parts=frozenset({"all"})):
        written = original(state, folder, parts=parts)
        out.mkdir()
        (out / "other-run.txt").write_text("another program's file")
        return written

    monkeypatch.setattr(runner, "write_outputs", write_then_interfere)
    with pytest.raises(OutputExistsError) as info:
        _build(out)
    assert_actionable(info, out)
    assert _listing(out) == {"other-run.txt": b"another program's file"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]


def test_ingest_overwrite_refuses_a_folder(tmp_path):
    from typer.testing import CliRunner

    from geomap.cli import app

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    result = CliRunner().invoke(
        app, ["ingest", "carbonatites-kimberlites-global", "--out", str(folder), "--overwrite"]
    )
    assert result.exit_code == 1
    assert "never replaces" in result.output and "Traceback" not in result.output
    assert (folder / "keep.txt").read_text() == "keep"


def test_export_into_a_file_is_refused_before_any_work(tmp_path, no_work):
    from typer.testing import CliRunner

    from geomap.cli import app

    target = tmp_path / "report.pdf"
    target.write_text("a file")
    result = CliRunner().invoke(
        app, ["export", "kuroko-vms", "--region", "japan", "--out", str(target), "--overwrite"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is a file" in result.output and "Traceback" not in result.output
    assert target.read_text() == "a file"


def test_files_gdal_or_sqlite_make_beside_an_output_do_not_block_overwrite(tmp_path):
    folder = _geomap_output(tmp_path / "out", {"a.gpkg": "gpkg", "p.tif": "tif"})
    for name in ("a.gpkg-wal", "a.gpkg-shm", "p.tif.aux.xml", ".DS_Store"):
        (folder / name).write_text("derived")
    check_replaceable(folder, overwrite=True)  # no error
    (folder / "mine.gpkg-wal").write_text("not derived from a listed output")
    with pytest.raises(OutputExistsError, match="mine.gpkg-wal"):
        check_replaceable(folder, overwrite=True)
