"""Build-level faults (issue 9): ``geomap build`` killed in the middle of each stage, and two
builds sharing one product cache at once.

A build is killed with SIGKILL from inside itself at a precise point of each stage (after a
product has been written into its temporary folder but before the rename, or with half of
the output files written), so the test does not depend on timing.  After each kill no
product and no output exists under a final name; the next build completes, and its outputs
equal those of uninterrupted builds.  "Equal" is byte for byte except for what is
legitimately different between two runs: the manifest's creation time and the GeoPackage's
``last_change``/update timestamps (``map.html`` must be byte-identical).

The recipe is Kuroko VMS on Japan at 50 km cells, the smallest real build.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = ["build", "kuroko-vms", "--region", "japan", "--resolution", "50000", "--seed", "0"]

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    kill_at = os.environ.get("GEOMAP_TEST_KILL_AT", "")
    ingest = ("training", "occurrences", "context-")

    def die():
        sys.stderr.write("KILLED IN " + kill_at + "\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    import geomap.pipeline.cache as cache
    import geomap.pipeline.runner as runner

    original = cache.ProductCache.get_or_compute

    def get_or_compute(self, stage, inputs, compute, *, save, load):
        def save_then_die(value, folder):
            save(value, folder)  # the product is written, not yet renamed into place
            if stage == kill_at or (kill_at == "ingest" and stage.startswith(ingest)):
                die()
        return original(self, stage, inputs, compute, save=save_then_die, load=load)

    cache.ProductCache.get_or_compute = get_or_compute
    if kill_at == "outputs":
        write_outputs = runner.write_outputs

        def write_half_then_die(state, folder, parts=frozenset({"all"})):
            write_outputs(state, folder, parts=frozenset({"cog", "tables"}))
            die()

        runner.write_outputs = write_half_then_die
    from geomap.cli import main
    sys.argv = ["geomap", *sys.argv[1:]]
    main()
    """
)


def _start(out: Path, cache: Path, kill_at: str = "") -> subprocess.Popen:
    env = {
        **os.environ,
        "GEOMAP_PRODUCT_CACHE": str(cache),
        "GEOMAP_TEST_KILL_AT": kill_at,
    }
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, *BUILD, "--out", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout + stderr


_ISO_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")


def _gpkg_content(path: Path) -> list:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = []
        for table in sorted(tables):
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            text = repr(sorted(rows, key=repr)).encode()
            out.append((table, _ISO_TIME.sub(b"<time>", text)))
        return out
    finally:
        con.close()


def _outputs(folder: Path) -> dict[str, object]:
    """Every output file, normalized only where two honest runs legitimately differ."""
    out: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix == ".gpkg":
            out[name] = _gpkg_content(path)
        elif path.name == "manifest.json":
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest.pop("created_utc")
            for volatile in [k for k in manifest["outputs"] if k.endswith(".gpkg")]:
                manifest["outputs"].pop(volatile)
            out[name] = manifest
        else:
            out[name] = path.read_bytes()
    return out


def _no_half_written_product(cache: Path) -> None:
    """Each product folder under a final name is complete (inputs.json is written last)."""
    for stage in (p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for product in stage.iterdir():
            if not product.name.startswith("."):
                assert (product / "inputs.json").is_file(), f"half-written product {product}"


@pytest.mark.slow
def test_killed_builds_resume_to_the_same_outputs_and_shared_caches_do_not_corrupt(tmp_path):
    # two uninterrupted builds at once on one fresh cache: both succeed, neither corrupts it
    shared = tmp_path / "shared-cache"
    pair = [_start(tmp_path / f"concurrent-{i}", shared) for i in range(2)]
    # meanwhile, on another cache, a build killed in the middle of each stage in turn
    cache, out = tmp_path / "cache", tmp_path / "out"
    for stage in ("ingest", "evidence", "model", "targets", "outputs"):
        code, log = _finish(_start(out, cache, kill_at=stage))
        assert code == -signal.SIGKILL and f"KILLED IN {stage}" in log, log[-2000:]
        assert not out.exists(), f"killed in {stage}: a partial output folder was left as {out}"
        _no_half_written_product(cache)
        # the kill really came half-way: a hidden temporary copy holds what was written
        if stage == "outputs":
            (partial,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
            assert partial.name.endswith(".part") and (partial / "prospectivity.tif").is_file()
        else:
            folder = "training-audit" if stage == "ingest" else stage  # the first product
            partial = [p for p in (cache / folder).iterdir() if p.name.startswith(".")]
            assert partial and all(p.name.endswith(".part") for p in partial), partial
    code, log = _finish(_start(out, cache))
    assert code == 0, log[-3000:]
    hits = re.search(r"cache (\d+) hits, (\d+) computed", log)
    assert hits and int(hits.group(1)) > 0, log[-2000:]  # the killed runs' products are reused
    results = [_finish(proc) for proc in pair]
    assert [code for code, _ in results] == [0, 0], [log[-2000:] for _, log in results]
    _no_half_written_product(shared)
    reference = _outputs(tmp_path / "concurrent-0")
    assert "prospectivity.tif" in reference and "kuroko-vms.gpkg" in reference
    assert _outputs(tmp_path / "concurrent-1") == reference
    resumed = _outputs(out)
    assert sorted(resumed) == sorted(reference)
    for name in reference:
        assert resumed[name] == reference[name], f"{name} differs after the interrupted builds"
