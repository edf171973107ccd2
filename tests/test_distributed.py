"""``geomap build`` on Dask: in memory, on chunks with threads, and on a multi-process LocalCluster.

The same recipe and region built three ways from the mirrored data must give the same
rasters (cell for cell), targets, validation and report.  The chunked builds start from the
in-memory build's ingested vectors and compute their evidence, model and targets on Dask,
storing them block by block and reading them back lazily.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from geomap.cli import app
from geomap.pipeline import build

RECIPE, REGION, RES = "kuroko-vms", "japan", 50_000.0
ARGS = ["build", RECIPE, "--region", REGION, "--resolution", str(int(RES))]
RECOMPUTED = ("evidence", "model", "targets")  # the stages that run on Dask


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dask-builds")
    build(
        RECIPE,
        region=REGION,
        resolution_m=RES,
        out=root / "memory",
        cache_dir=root / "cache-memory",
        progress=False,
    )
    runner = CliRunner()
    for name, extra in (
        ("threads", ["--chunks", "16"]),
        ("cluster", ["--chunks", "16", "--scheduler", "local:2"]),
    ):
        # the ingested vectors are shared; evidence, model and targets are computed again
        cache = root / f"cache-{name}"
        shutil.copytree(
            root / "cache-memory",
            cache,
            ignore=lambda folder, names: [n for n in names if n in RECOMPUTED],
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
            result = runner.invoke(app, [*ARGS, *extra, "--out", str(root / name)])
        assert result.exit_code == 0, result.output
        assert all(list((cache / stage).iterdir()) for stage in RECOMPUTED)
    return {name: root / name for name in ("memory", "threads", "cluster")}


def _rasters(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.rglob("*.tif")):
        with rasterio.open(path) as src:
            out[path.relative_to(folder).as_posix()] = src.read(1)
    return out


@pytest.mark.parametrize("way", ["threads", "cluster"])
def test_chunked_builds_equal_the_in_memory_build(builds, way):
    reference, other = builds["memory"], builds[way]
    expected, found = _rasters(reference), _rasters(other)
    assert set(found) == set(expected) and "prospectivity.tif" in found
    assert any(name.startswith("evidence/") for name in found)
    for name, values in expected.items():
        np.testing.assert_array_equal(found[name], values, err_msg=name)
    for table in ("targets.csv", "weights.csv", "evidence_layers.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(other / table), pd.read_csv(reference / table), check_exact=False
        )
    assert (other / "validation.json").read_text() == (reference / "validation.json").read_text()
    metrics = [json.loads((f / "metrics.json").read_text()) for f in (reference, other)]
    assert metrics[0]["spatial_cv"] == metrics[1]["spatial_cv"]
    assert (other / "report.md").read_text() == (reference / "report.md").read_text()


def test_cluster_build_records_its_settings(builds):
    manifest = json.loads((builds["cluster"] / "manifest.json").read_text())
    assert manifest["parameters"]["chunks"] == 16
    assert (
        json.loads((builds["memory"] / "manifest.json").read_text())["parameters"]["chunks"] is None
    )
