"""Faults (issue 9): a read-only or full disk, two writers at once, a writer killed half-way.

Every case must end in a clear :class:`~geomap.errors.ExportError` (or ``FetchError`` for
the download cache) that names the place and the fix, with nothing half-written under a
final name and whatever was there before left intact.

A full disk is simulated with ``RLIMIT_FSIZE`` in a child process (writes past the limit
fail with ``EFBIG`` inside GDAL, netCDF and Python alike, as on a full disk; no root
needed) and with ``OSError(ENOSPC)`` raised by the writer.  A read-only folder is a
``chmod`` for ordinary users and a read-only bind mount when the tests run as root.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from _actionable import assert_actionable

from geomap.core.atomic import atomic_dir, atomic_path
from geomap.errors import ExportError, FetchError
from geomap.pipeline.cache import ProductCache, load_dataarray, save_dataset

REPO = Path(__file__).resolve().parents[1]


def _listing(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(folder.rglob("*"))
    }


# ============================================================ read-only folders


@pytest.fixture
def make_read_only():
    """Return a function that makes an existing folder (and its content) unwritable."""
    undo = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
                undo.append(lambda p=path: p.chmod(p.stat().st_mode | 0o200))
        else:  # root ignores permissions: a read-only bind mount of the folder onto itself
            bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], check=False)
            if bind.returncode != 0:
                pytest.skip(
                    "running as root without the right to mount: cannot make a folder read-only"
                )
            undo.append(lambda: subprocess.run(["umount", str(folder)], check=False))
            subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        probe = folder / ".probe"
        with pytest.raises(OSError):
            probe.write_bytes(b"x")
        return folder

    yield make
    for step in reversed(undo):
        step()


def _raster(shape=(40, 50)):
    from geomap.grid import grid_to_dataarray, region_grid

    grid = region_grid("japan", 25_000)
    values = np.random.default_rng(0).random(tuple(grid.shape)).astype("float32")
    return grid_to_dataarray(values, grid, name="prospectivity", nodata=np.nan)


def _write_with_atomic_path(folder: Path) -> None:
    with atomic_path(folder / "table.csv") as tmp:
        tmp.write_text("a,b\n1,2\n")


def _write_with_atomic_dir(folder: Path) -> None:
    with atomic_dir(folder / "outputs", overwrite=True) as tmp:
        (tmp / "a.txt").write_text("a")


def _write_cog(folder: Path) -> None:
    from geomap.export.cog import write_cog

    write_cog(_raster(), folder / "prospectivity.tif")


def _write_gpkg(folder: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from geomap.export.gpkg import write_geopackage

    sites = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(139.7, 35.7)], crs="EPSG:4326")
    write_geopackage(folder / "map.gpkg", vectors={"occurrences": sites})


WRITERS = {
    "atomic_path": _write_with_atomic_path,
    "atomic_dir": _write_with_atomic_dir,
    "cog": _write_cog,
    "geopackage": _write_gpkg,
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_read_only_output_folder_is_a_clear_error_and_nothing_changes(
    tmp_path, make_read_only, writer
):
    folder = tmp_path / "outputs-folder"
    folder.mkdir()
    (folder / "earlier-result.txt").write_text("kept")
    before = _listing(folder)
    make_read_only(folder)
    with pytest.raises(ExportError) as info:
        WRITERS[writer](folder)
    message = assert_actionable(info, folder)
    assert "writable" in message
    assert _listing(folder) == before


def test_read_only_product_cache_still_serves_what_it_holds(tmp_path, make_read_only):
    root = tmp_path / "products"
    cache = ProductCache(root)
    first, _ = cache.get_or_compute(
        "evidence", {"p": 1}, _raster, save=save_dataset, load=load_dataarray
    )
    before = _listing(root)
    make_read_only(root)
    again, _ = ProductCache(root).get_or_compute(
        "evidence", {"p": 1}, _raster, save=save_dataset, load=load_dataarray
    )
    np.testing.assert_array_equal(again.to_numpy(), first.to_numpy())
    with pytest.raises(ExportError) as info:
        ProductCache(root).get_or_compute(
            "evidence", {"p": 2}, _raster, save=save_dataset, load=load_dataarray
        )
    assert_actionable(info, root, "GEOMAP_PRODUCT_CACHE")
    assert _listing(root) == before


def test_read_only_download_cache_is_a_clear_fetch_error(
    tmp_path, make_read_only, monkeypatch, httpserver
):
    from test_fetch import PAYLOAD, _catalog_file

    from geomap.catalog import load_catalog
    from geomap.fetching import fetch

    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD)
    catalog = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    cache = tmp_path / "download-cache"
    cache.mkdir()
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(cache))
    make_read_only(cache)
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=catalog)
    assert_actionable(info, cache, "GEOMAP_CACHE_DIR", "payload.bin")
    assert _listing(cache) == {}


# ============================================================ full disk


_CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import test_faults
    folder, writer, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    test_faults._raster()  # import the libraries before the limit (no .pyc writes later)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        test_faults.FULL_DISK_WRITERS[writer](folder)
        out = {{"error": None}}
    except BaseException as exc:
        out = {{"error": type(exc).__name__, "export": isinstance(exc, test_faults.ExportError),
               "message": str(exc)}}
    print("RESULT " + json.dumps(out))
    """
)


def _cache_product(folder: Path) -> None:
    ProductCache(folder / "products").get_or_compute(
        "evidence", {"p": 2}, _raster, save=save_dataset, load=load_dataarray
    )


def _big_write(folder: Path) -> None:
    with atomic_path(folder / "table.csv") as tmp:
        tmp.write_bytes(b"1,2,3\n" * 100_000)


def _big_gpkg(folder: Path) -> None:
    from geomap.export.gpkg import write_geopackage

    write_geopackage(folder / "map.gpkg", rasters={"prospectivity": _raster()})


FULL_DISK_WRITERS = {
    "atomic_path": _big_write,
    "cog": _write_cog,
    "geopackage": _big_gpkg,
    "product-cache": _cache_product,
}
FINAL_NAMES = {
    "atomic_path": "table.csv",
    "cog": "prospectivity.tif",
    "geopackage": "map.gpkg",
    "product-cache": "products",
}


def _run_with_disk_limit(folder: Path, writer: str, limit: int) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD.format(tests=str(REPO / "tests")),
            str(folder),
            writer,
            str(limit),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, result.stdout + result.stderr
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize(
    "writer",
    [
        "atomic_path",
        "cog",
        "geopackage",
        "product-cache",
    ],
)
def test_full_disk_is_a_clear_error_and_the_previous_output_survives(tmp_path, writer):
    folder = tmp_path / "out"
    folder.mkdir()
    final = folder / FINAL_NAMES[writer]
    if writer == "product-cache":  # a cache holding one finished product already
        ProductCache(final).get_or_compute(
            "evidence", {"p": 1}, _raster, save=save_dataset, load=load_dataarray
        )
    else:  # an earlier version of the output
        final.write_bytes(b"earlier version")
    before = _listing(folder)
    result = _run_with_disk_limit(folder, writer, limit=48_000)
    assert result["error"] is not None, "the write should have failed"
    assert result["export"], result
    assert FINAL_NAMES[writer] in result["message"], result["message"]
    assert any(word in result["message"] for word in ("free disk space", "GEOMAP_PRODUCT_CACHE"))
    after = _listing(folder)
    if writer == "product-cache":  # the old product intact, no new product, no half folder
        assert {k: v for k, v in after.items() if ".locks" not in k} == {
            k: v for k, v in before.items() if ".locks" not in k
        }
        value, _ = ProductCache(final).get_or_compute(
            "evidence", {"p": 1}, _raster, save=save_dataset, load=load_dataarray
        )
        assert value.shape == _raster().shape
    else:
        assert after == before


def test_no_space_left_names_the_file_and_keeps_the_old_one(tmp_path):
    final = tmp_path / "report.html"
    final.write_text("earlier report")

    def write_report() -> None:
        with atomic_path(final) as tmp:
            tmp.write_text("half a rep")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    with pytest.raises(ExportError) as info:
        write_report()
    message = assert_actionable(info, "report.html", os.strerror(errno.ENOSPC))
    assert "free disk space" in message
    assert final.read_text() == "earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_no_space_left_while_downloading_keeps_nothing(tmp_path, monkeypatch, httpserver):
    from test_fetch import PAYLOAD, _catalog_file

    import geomap.core.download
    from geomap.catalog import load_catalog
    from geomap.fetching import fetch

    httpserver.expect_request("/payload.bin").respond_with_data(PAYLOAD)
    catalog = load_catalog(_catalog_file(tmp_path, httpserver.url_for("/payload.bin")))
    cache = tmp_path / "download-cache"
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(cache))

    def full_disk(url, destination, **_options):
        Path(destination).write_bytes(PAYLOAD[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))

    monkeypatch.setattr(geomap.core.download, "download", full_disk)
    with pytest.raises(FetchError) as info:
        fetch("test-set", catalog=catalog)
    assert_actionable(info, cache, "payload.bin", "free disk space")
    assert [p for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts] == []
    monkeypatch.undo()
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(cache))
    (path,) = fetch("test-set", catalog=catalog)  # the next fetch succeeds
    assert path.read_bytes() == PAYLOAD


# ============================================================ concurrent and killed writers


_CACHE_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import test_faults
    from geomap.pipeline.cache import ProductCache, load_dataarray, save_dataset
    root, log, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def compute():
        with log.open("a") as handle:
            handle.write("computed\\n")
        time.sleep(1.0)  # long enough for the other process to arrive meanwhile
        return test_faults._raster()

    def save(value, folder):
        save_dataset(value, folder)
        if mode == "hang":  # half-way through writing the product: wait to be killed
            (root.parent / "saving").write_text("now")
            time.sleep(600)

    value, key = ProductCache(root).get_or_compute(
        "evidence", {{"p": 1}}, compute, save=save, load=load_dataarray
    )
    print("OK", key, float(value.sum()))
    """
)


def _cache_child(root: Path, log: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CACHE_CHILD.format(tests=str(REPO / "tests")),
            str(root),
            str(log),
            mode,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def test_two_processes_writing_the_same_product_one_waits_none_corrupts(tmp_path):
    root, log = tmp_path / "products", tmp_path / "computed.log"
    children = [_cache_child(root, log, "normal") for _ in range(2)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    lines = [out.strip().split() for out, _ in outputs]
    assert all(line[0] == "OK" for line in lines)
    assert lines[0][1:] == lines[1][1:]  # same key, same values
    assert log.read_text().count("computed") == 1  # the second waited and read the first's
    (product,) = (root / "evidence").iterdir()
    assert not product.name.startswith(".")
    np.testing.assert_array_equal(load_dataarray(product).to_numpy(), _raster().to_numpy())


def test_a_writer_killed_half_way_leaves_no_product_and_the_next_run_completes(tmp_path):
    root, log = tmp_path / "products", tmp_path / "computed.log"
    child = _cache_child(root, log, "hang")
    deadline = time.monotonic() + 120
    while not (tmp_path / "saving").exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    finished = [p for p in (root / "evidence").iterdir() if not p.name.startswith(".")]
    assert finished == []  # only a hidden temporary folder may remain, never the product
    value, _ = ProductCache(root).get_or_compute(
        "evidence", {"p": 1}, _raster, save=save_dataset, load=load_dataarray
    )  # the lock died with its holder: no wait, and the product is computed afresh
    np.testing.assert_array_equal(value.to_numpy(), _raster().to_numpy())
