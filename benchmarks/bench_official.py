"""Official full-resolution sources: windowed / streamed reads against the bare full read.

``official_emag2v3_window``: :func:`geomap.io.emag2v3.read_emag2v3_path` reading the Japan
region (with its two-cell margin) out of a global EMAG2v3-layout GeoTIFF, against the bare
``rasterio`` read of the whole band that a reader without windows would do.  Sizes: a 6′ grid
(3600 x 1800, 6.5 M cells) and the real 2′ grid (10800 x 5400, 58 M cells, 233 MB in memory).

``official_mrds_stream``: :func:`geomap.io.mrds.read_mrds_path` streaming a zipped
``mrds.csv`` in chunks and keeping the conterminous-US rows, into the occurrence schema
(commodity vocabulary, site ids), against the bare ``pandas.read_csv`` of the whole member.
Sizes: 50,000 and 300,000 rows (the real file has about 304,000).

``official_emag2v3_lazy``: the same reader over a large region (the North-American and
Pacific quarter, 180° W to 60° W, 0° to 75° N) returned as a Dask array and reduced to its
mean chunk by chunk, against reading that region eagerly (``chunks=None``) and taking the
mean: the peak memory is the figure (one chunk at a time against the whole region).

``official_mrds_rdbms_stream``: :func:`geomap.io.mrds_relational.read_mrds_rdbms_path`
streaming ``rdbms-tab-all.zip`` (``MRDS.txt``, then only the kept sites' rows of
``Location``, ``Commodity``, ``Deposits``, ``Model``) for the conterminous US, against the bare
``pandas.read_csv`` of the three main tables and their merge on ``dep_id``.

All files are synthetic, written in setup in the published layouts
(:mod:`geomap.testing`); the peak traced memory is the figure the window / stream is for.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np

from benchmarks.harness import Case

JAPAN = (122.5, 24.0, 146.5, 46.0)
CONUS = (-125.0, 24.0, -66.5, 49.5)


def _emag2_case(size: str, step_arcmin: float) -> Case:
    width, height = int(360 * 60 / step_arcmin), int(180 * 60 / step_arcmin)

    def setup():
        import rasterio
        from rasterio.transform import from_origin

        from geomap.io.emag2v3 import read_emag2v3_path

        folder = Path(tempfile.mkdtemp(prefix="geomap-bench-emag2v3-"))
        path = folder / "EMAG2_V3_20170530_UpCont.tif"
        step = step_arcmin / 60
        rows = np.linspace(-200, 200, width, dtype="float32")
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype="float32",
            crs="EPSG:4326",
            nodata=99999,
            tiled=True,
            blockxsize=512,
            blockysize=512,
            transform=from_origin(-180.0, 90.0, step, step),
        ) as dst:
            for row in range(0, height, 512):
                n = min(512, height - row)
                dst.write(np.tile(rows, (n, 1)), 1, window=((row, row + n), (0, width)))

        def run():
            return read_emag2v3_path(path, bbox=JAPAN, chunks=None)

        def baseline():
            with rasterio.open(path) as src:
                return src.read(1)

        return run, baseline

    return Case("official_emag2v3_window", size, width * height, "cells", setup, repeat=3)


def _emag2_global_tif(step_arcmin: float) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    width, height = int(360 * 60 / step_arcmin), int(180 * 60 / step_arcmin)
    folder = Path(tempfile.mkdtemp(prefix="geomap-bench-emag2v3-"))
    path = folder / "EMAG2_V3_20170530_UpCont.tif"
    rows = np.linspace(-200, 200, width, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        nodata=99999,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        transform=from_origin(-180.0, 90.0, step_arcmin / 60, step_arcmin / 60),
    ) as dst:
        for row in range(0, height, 512):
            n = min(512, height - row)
            dst.write(np.tile(rows, (n, 1)), 1, window=((row, row + n), (0, width)))
    return path


PACIFIC = (-180.0, 0.0, -60.0, 75.0)


def _emag2_lazy_case(size: str, step_arcmin: float) -> Case:
    cells = int(120 * 60 / step_arcmin) * int(75 * 60 / step_arcmin)

    def setup():
        from geomap.io.emag2v3 import read_emag2v3_path

        path = _emag2_global_tif(step_arcmin)

        def run():
            return float(read_emag2v3_path(path, bbox=PACIFIC).mean())

        def baseline():
            return float(read_emag2v3_path(path, bbox=PACIFIC, chunks=None).mean())

        return run, baseline

    return Case("official_emag2v3_lazy", size, cells, "cells", setup, repeat=2)


def _mrds_case(size: str, n: int) -> Case:
    def setup():
        import pandas as pd

        from geomap.io.mrds import read_mrds_path
        from geomap.testing import MRDS_COLUMNS, MRDS_ROWS

        folder = Path(tempfile.mkdtemp(prefix="geomap-bench-mrds-"))
        rng = np.random.default_rng(0)
        template = pd.DataFrame([{c: r.get(c, "") for c in MRDS_COLUMNS} for r in MRDS_ROWS])
        frame = template.iloc[rng.integers(0, len(template), n)].reset_index(drop=True)
        frame["dep_id"] = np.arange(n).astype(str)
        frame["longitude"] = rng.uniform(-180, 180, n).round(4).astype(str)
        frame["latitude"] = rng.uniform(-60, 75, n).round(4).astype(str)
        archive = folder / "mrds-csv.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            out.writestr("mrds.csv", frame.to_csv(index=False))

        def run():
            return read_mrds_path(archive, bbox=CONUS)

        def baseline():
            with zipfile.ZipFile(archive) as zipped, zipped.open("mrds.csv") as handle:
                return pd.read_csv(handle, dtype=str, keep_default_na=False)

        return run, baseline

    return Case("official_mrds_stream", size, n, "rows", setup, repeat=2)


def _mrds_rdbms_case(size: str, n: int) -> Case:
    def setup():
        import pandas as pd

        from geomap.io.mrds_relational import read_mrds_rdbms_path
        from geomap.testing import MRDS_ROWS, mrds_rdbms_zip

        folder = Path(tempfile.mkdtemp(prefix="geomap-bench-mrds-rdbms-"))
        rng = np.random.default_rng(0)
        picks = rng.integers(0, len(MRDS_ROWS), n)
        lon, lat = rng.uniform(-180, 180, n).round(4), rng.uniform(-60, 75, n).round(4)
        rows = [
            dict(MRDS_ROWS[k], dep_id=str(i), longitude=str(lon[i]), latitude=str(lat[i]))
            for i, k in enumerate(picks)
        ]
        archive = mrds_rdbms_zip(folder, rows=rows)

        def run():
            return read_mrds_rdbms_path(archive, bbox=CONUS)

        def baseline():
            with zipfile.ZipFile(archive) as zipped:
                tables = [
                    pd.read_csv(zipped.open(f"rdbms-tab-all/{name}"), sep="\t", dtype=str)
                    for name in ("MRDS.txt", "Location.txt", "Commodity.txt")
                ]
            return tables[0].merge(tables[1], on="dep_id").merge(tables[2], on="dep_id")

        return run, baseline

    return Case("official_mrds_rdbms_stream", size, n, "sites", setup, repeat=2)


def cases(quick: bool) -> list[Case]:
    """Return the official-source benchmark cases (``quick``: the smallest sizes only)."""
    small = [
        _emag2_case("6arcmin", 6.0),
        _mrds_case("50k", 50_000),
        _emag2_lazy_case("6arcmin", 6.0),
        _mrds_rdbms_case("50k", 50_000),
    ]
    if quick:
        return small
    return [
        *small,
        _emag2_case("2arcmin", 2.0),
        _mrds_case("300k", 300_000),
        _emag2_lazy_case("2arcmin", 2.0),
        _mrds_rdbms_case("300k", 300_000),
    ]
