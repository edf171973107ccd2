"""``geomap build`` on Dask: in memory, on chunks with threads, and on a multi-process LocalCluster.

The same recipe and region built three ways from the mirrored data must give the same
rasters (cell for cell), targets, validation and report.  The chunked builds start from the
in-memory build's ingested vectors and compute their evidence, model and targets on Dask,
storing them block by block and reading them back lazily.  The cluster build must have run
its tasks on the LocalCluster's worker processes, and an unreachable scheduler address must
fail fast with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from geomap.cli import app
from geomap.errors import ParameterError
from geomap.pipeline import scheduler as scheduler_module

RECIPE, REGION, RES = "kuroko-vms", "japan", 50_000.0
ARGS = ["build", RECIPE, "--region", REGION, "--resolution", str(int(RES))]
RECOMPUTED = ("evidence", "model", "targets")  # the stages that run on Dask


@dataclass
class Builds:
    """The three output folders, and what the LocalCluster's workers did in the cluster build."""

    folders: dict[str, Path]
    cluster_work: dict[str, Any] = field(default_factory=dict)


def _watching(record: dict[str, Any]) -> Any:
    """Wrap :func:`dask_scheduler` to record, before the cluster closes, who ran what."""
    real = scheduler_module.dask_scheduler

    @contextlib.contextmanager
    def watched(value: str | None, **kwargs: Any) -> Iterator[Any]:
        from distributed import get_task_stream

        with real(value, **kwargs) as client:
            if client is None:
                yield client
                return
            with get_task_stream(client) as stream:
                yield client
            record["tasks"] = stream.data
            # per worker process: its pid and how many tasks it executed
            record["workers"] = client.run(
                lambda dask_worker: (os.getpid(), dask_worker.state.executed_count)
            )

    return watched


@pytest.fixture(scope="module")
def builds(tmp_path_factory, japan_vms_build) -> Builds:
    """The in-memory build is the session's (tests/conftest.py: same recipe, region, cells)."""
    root = tmp_path_factory.mktemp("dask-builds")
    work: dict[str, Any] = {}
    memory = japan_vms_build
    assert (memory.result.settings["region"], memory.result.settings["resolution_m"]) == (
        REGION,
        RES,
    )
    assert memory.result.settings["chunks"] is None  # built in memory
    runner = CliRunner()
    for name, extra in (
        ("threads", ["--chunks", "16"]),
        ("cluster", ["--chunks", "16", "--scheduler", "local:2"]),
    ):
        # the ingested vectors are shared; evidence, model and targets are computed again
        cache = root / f"cache-{name}"
        shutil.copytree(
            memory.cache,
            cache,
            ignore=lambda folder, names: [n for n in names if n in RECOMPUTED or n.startswith(".")],
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GEOMAP_PRODUCT_CACHE", str(cache))
            patch.setattr(scheduler_module, "dask_scheduler", _watching(work))
            result = runner.invoke(app, [*ARGS, *extra, "--out", str(root / name)])
        assert result.exit_code == 0, result.output
        assert all(list((cache / stage).iterdir()) for stage in RECOMPUTED)
    folders = {"memory": memory.out, **{name: root / name for name in ("threads", "cluster")}}
    return Builds(folders, work)


def _rasters(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.rglob("*.tif")):
        with rasterio.open(path) as src:
            out[path.relative_to(folder).as_posix()] = src.read(1)
    return out


@pytest.mark.parametrize("way", ["threads", "cluster"])
def test_chunked_builds_equal_the_in_memory_build(builds, way):
    reference, other = builds.folders["memory"], builds.folders[way]
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
    manifest = json.loads((builds.folders["cluster"] / "manifest.json").read_text())
    assert manifest["parameters"]["chunks"] == 16
    memory = json.loads((builds.folders["memory"] / "manifest.json").read_text())
    assert memory["parameters"]["chunks"] is None


def test_cluster_build_ran_on_the_worker_processes(builds):
    from dask.utils import key_split

    work = builds.cluster_work
    workers = work["workers"]  # {address: (pid, tasks executed)}
    pids = {pid for pid, _ in workers.values()}
    assert len(workers) == 2 and len(pids) == 2 and os.getpid() not in pids
    executed = {address: count for address, (_, count) in workers.items()}
    assert all(count > 0 for count in executed.values()), executed  # both workers worked
    ran = Counter(task["worker"] for task in work["tasks"])
    assert set(ran) == set(workers)
    assert sum(executed.values()) >= sum(ran.values()) > 100
    # fused tasks are named after every function fused: "burn-from-value-concatenate"
    names = {part for task in work["tasks"] for part in key_split(task["key"]).split("-")}
    # evidence rasterized and the model predicted, block by block, on the workers
    assert {"burn", "predict_block"} <= names, sorted(names)


def test_unreachable_scheduler_is_a_clear_error_and_fast(tmp_path, monkeypatch):
    address = "tcp://127.0.0.1:1"  # nothing listens on port 1
    assert scheduler_module.CONNECT_TIMEOUT_S <= 10  # not Dask's 30 s default
    start = time.monotonic()
    with (
        pytest.raises(ParameterError, match="cannot reach a Dask scheduler") as caught,
        scheduler_module.dask_scheduler(address, connect_timeout=1),
    ):
        pass
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert repr(address) in message and "check the address" in message
    assert "use 'local' / 'local:N'" in message
    # from the CLI: one line, before any work, no output folder
    monkeypatch.setattr(scheduler_module, "CONNECT_TIMEOUT_S", 1.0)
    start = time.monotonic()
    out = tmp_path / "never"
    result = CliRunner().invoke(app, [*ARGS, "--scheduler", address, "--out", str(out)])
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    assert f"Error: --scheduler {address!r}: cannot reach a Dask scheduler" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("value", ["-5", "0", "big"])
def test_bad_chunks_refused_before_any_work(value, tmp_path):
    from typer.testing import CliRunner

    from geomap.cli import app

    out = tmp_path / "out"
    args = ["build", "kuroko-vms", "--region", "japan", "--chunks", value, "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"--chunks '{value}'" in result.output and "positive whole number" in result.output
    assert not out.exists()
