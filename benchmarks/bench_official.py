"""Official full-resolution sources: windowed / streamed reads against the bare full read.

``official_emag2v3_window``: :func:`geomap.io.emag2v3.read_emag2v3_path` reading the Japan
region (with its two-cell margin) out of a global EMAG2v3-layout GeoTIFF, against the bare
``rasterio`` read of the whole band that a reader without windows would do.  Sizes: a 6′ grid
(3600 x 1800, 6.5 M cells) and the real 2′ grid (10800 x 5400, 58 M cells, 233 MB in memory).

``official_mrds_stream``: :func:`geomap.io.mrds.read_mrds_path` streaming a zipped
``mrds.csv`` in chunks and keeping the conterminous-US rows, into the occurrence schema
(commodity vocabulary, site ids), against the bare ``pandas.read_csv`` of the whole member.
Sizes: 50,000 and 300,000 rows (the real file has about 304,000).

Both files are synthetic, written in setup in the published layouts
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
            return read_emag2v3_path(path, bbox=JAPAN)

        def baseline():
            with rasterio.open(path) as src:
                return src.read(1)

        return run, baseline

    return Case("official_emag2v3_window", size, width * height, "cells", setup, repeat=3)


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


def cases(quick: bool) -> list[Case]:
    """Return the official-source benchmark cases (``quick``: the smallest sizes only)."""
    small = [_emag2_case("6arcmin", 6.0), _mrds_case("50k", 50_000)]
    if quick:
        return small
    return [*small, _emag2_case("2arcmin", 2.0), _mrds_case("300k", 300_000)]
