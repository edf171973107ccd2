"""Cached products carry checksums: a damaged entry is a reported miss (issue 18).

Every file of a product is hashed when the product is written (``checksums.json``) and checked
before the product is read.  A changed, truncated, missing or added file makes the entry a
miss: it is recomputed, the build reports it, and the result equals an undamaged build's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geomap.pipeline.cache import (
    CHECKSUMS,
    ProductCache,
    checksum_problem,
    load_frame,
    load_json,
    save_frame,
    save_json,
)


def _frame_product(cache: ProductCache, calls: list[int]) -> pd.DataFrame:
    def compute() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000)})

    value, _ = cache.get_or_compute("table", {"x": 1}, compute, save=save_frame, load=load_frame)
    return value


def _folder(cache: ProductCache, stage: str) -> Path:
    (folder,) = [p for p in (cache.root / stage).iterdir() if not p.name.startswith(".")]
    return folder


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip-a-byte", "delete", "add-a-file", "no-checksums", "bad-checksums"],
)
def test_a_damaged_cached_table_is_recomputed_and_reported(tmp_path, damage):
    cache = ProductCache(tmp_path / "products")
    calls: list[int] = []
    reference = _frame_product(cache, calls)
    folder = _folder(cache, "table")
    parquet = folder / "data.parquet"
    if damage == "truncate":
        parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    elif damage == "flip-a-byte":
        data = bytearray(parquet.read_bytes())
        data[len(data) // 3] ^= 0xFF
        parquet.write_bytes(bytes(data))
    elif damage == "delete":
        parquet.unlink()
    elif damage == "add-a-file":
        (folder / "extra.npy").write_bytes(b"\0" * 10)
    elif damage == "no-checksums":
        (folder / CHECKSUMS).unlink()
    else:
        (folder / CHECKSUMS).write_text("{not json")
    assert checksum_problem(folder) is not None
    again = ProductCache(tmp_path / "products")
    with pytest.warns(UserWarning, match="recomputing"):
        value = _frame_product(again, calls)
    assert len(calls) == 2  # recomputed, not read
    pd.testing.assert_frame_equal(value, reference)
    assert again.hits == [] and len(again.misses) == 1
    assert len(again.damaged) == 1 and again.damaged[0].startswith("table/")
    assert checksum_problem(_folder(again, "table")) is None  # the new entry is sound
    third = ProductCache(tmp_path / "products")
    _frame_product(third, calls)
    assert len(calls) == 2 and len(third.hits) == 1  # and it is reused afterwards


def test_a_corrupt_cached_json_is_a_miss_not_a_traceback(tmp_path):
    cache = ProductCache(tmp_path / "products")
    calls: list[int] = []

    def compute():
        calls.append(1)
        return {"auc": 0.8}

    def get():
        return cache.get_or_compute("model", {"k": 1}, compute, save=save_json, load=load_json)

    get()
    (_folder(cache, "model") / "data.json").write_text('{"auc": 0.9')
    with pytest.warns(UserWarning, match="data.json"):
        value, _ = get()
    assert value == {"auc": 0.8} and len(calls) == 2


def test_an_intact_entry_is_read_without_recomputing(tmp_path):
    cache = ProductCache(tmp_path / "products")
    calls: list[int] = []
    first = _frame_product(cache, calls)
    second = _frame_product(cache, calls)
    assert len(calls) == 1 and cache.damaged == []
    pd.testing.assert_frame_equal(first, second)


# ---- a real build: damaged evidence, occurrences and metrics in the cache ---------------------


def _build(out: Path, cache: Path):
    from geomap.pipeline.runner import build

    return build(
        "kuroko-vms",
        region="japan",
        resolution_m=50_000,
        out=out,
        cache_dir=cache,
        progress=False,
    )


_COMPARED = ("prospectivity.tif", "uncertainty.tif", "targets.csv", "metrics.json", "weights.csv")


def _products(folder: Path) -> dict[str, bytes]:
    names = [*_COMPARED, *(p.relative_to(folder).as_posix() for p in folder.glob("evidence/*"))]
    return {name: (folder / name).read_bytes() for name in names}


def test_a_build_on_a_damaged_cache_recomputes_and_reports_and_equals_a_clean_build(
    tmp_path, japan_vms_build
):
    import netCDF4

    from geomap.pipeline.runner import summary_lines

    # the clean build is the session's (tests/conftest.py); its cache is damaged on a copy
    clean = japan_vms_build.result
    assert clean.cache_damaged == []
    cache = tmp_path / "cache"
    shutil.copytree(japan_vms_build.cache, cache, ignore=shutil.ignore_patterns(".*"))
    # 200 changed values in the cached evidence stack (a valid NetCDF file, other numbers)
    evidence = _folder(ProductCache(cache), "evidence") / "data.nc"
    with netCDF4.Dataset(evidence, "r+") as nc:
        name = next(v for v in nc.variables if nc.variables[v].dimensions == ("y", "x"))
        values = nc.variables[name][:]
        flat = np.ma.filled(values, np.nan).ravel()
        changed = np.flatnonzero(np.isfinite(flat))[:200]
        assert len(changed) == 200
        flat[changed] = flat[changed] + 0.5
        nc.variables[name][:] = flat.reshape(values.shape)
    # a truncated cached GeoParquet and a corrupt cached metrics.json
    occurrences = _folder(ProductCache(cache), "occurrences") / "data.parquet"
    occurrences.write_bytes(occurrences.read_bytes()[:100])
    (_folder(ProductCache(cache), "model") / "metrics.json").write_text('{"spatial_cv": ')
    with pytest.warns(UserWarning, match="recomputing"):
        rebuilt = _build(tmp_path / "rebuilt", cache)
    damaged_stages = sorted(item.split("/")[0] for item in rebuilt.cache_damaged)
    assert damaged_stages == ["evidence", "model", "occurrences"], rebuilt.cache_damaged
    assert any(
        "cache entry damaged, recomputed: evidence/" in line for line in summary_lines(rebuilt)
    )
    assert _products(tmp_path / "rebuilt") == _products(clean.out)
    manifest = json.loads((tmp_path / "rebuilt" / "manifest.json").read_text())
    assert (
        manifest["cache_keys"]
        == json.loads((clean.out / "manifest.json").read_text())["cache_keys"]
    )
    shutil.rmtree(cache)
