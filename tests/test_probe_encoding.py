"""Values behind a map click (geomap.render._controls.budget_probes): compact, exact where
they can be, and never at odds with the class drawn."""

from __future__ import annotations

import base64
import zlib

import numpy as np
from affine import Affine

from geomap.render._controls import budget_probes
from geomap.render._raster import DisplayRaster


def _display(values: np.ndarray) -> DisplayRaster:
    return DisplayRaster(
        values.astype("float32"), Affine(1000, 0, 0, 0, -1000, 0), "EPSG:3857", (0, 0, 1, 1), 1
    )


def _decode(plane: dict) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(plane["z"]))
    shape = (plane["h"], plane["w"])
    if plane["enc"] == "f16":
        return np.frombuffer(raw, "<f2").astype("float64").reshape(shape) * plane["k"]
    if plane["enc"] == "u8":
        return np.frombuffer(raw, np.uint8).reshape(shape).astype("float64")
    codes = np.frombuffer(raw, "<u2" if plane["enc"] == "dict16" else np.uint8).reshape(shape)
    table = np.r_[np.nan, plane["table"]]
    return table[codes.astype(int)]


def _probes():
    rng = np.random.default_rng(0)
    smooth = rng.lognormal(-8, 2, size=(240, 320))
    smooth[:20] = np.nan
    tied = np.round(smooth, 4)  # few distinct values
    codes = np.where(np.isfinite(smooth), 1 + (smooth < np.nanmedian(smooth)) * 5, np.nan)
    noisy = rng.normal(0, 300, size=(240, 320))
    return (
        [
            {
                "label": "Prospectivity",
                "display": _display(tied),
                "class_codes": _display(codes),
                "classes": {"labels": ["top 1 %", "1–5 %", "5–10 %", "10–20 %", "20–50 %", "rest"]},
            },
            {"label": "Coverage", "display": _display(np.full((240, 320), 3.0)), "of": 4},
            {"label": "Magnetic", "display": _display(noisy)},
        ],
        smooth,
        tied,
        codes,
        noisy,
    )


def test_values_are_embedded_at_the_drawn_resolution_when_they_fit():
    probes, _smooth, tied, codes, noisy = _probes()
    grids = budget_probes(probes, 10**7)
    assert [g["step"] for g in grids] == [1, 1, 1]
    prospectivity, coverage, magnetic = grids
    assert prospectivity["planes"][0]["enc"] == "dict16"  # few values: a table, exact
    # the float32 values to 7 significant digits
    np.testing.assert_allclose(
        _decode(prospectivity["planes"][0]), tied.astype("float32"), rtol=1e-6
    )
    np.testing.assert_array_equal(_decode(prospectivity["planes"][1]), np.nan_to_num(codes))
    assert magnetic["planes"][0]["enc"] == "f16"  # half floats: 3 significant digits
    np.testing.assert_allclose(_decode(magnetic["planes"][0]), noisy, rtol=1e-3, atol=0.02)
    assert set(np.unique(_decode(coverage["planes"][0]))) == {3.0}


def test_a_small_budget_averages_continuous_layers_never_the_classes_or_coverage():
    probes, *_ = _probes()
    roomy = budget_probes(probes, 10**7)
    size = sum(len(p["z"]) for g in roomy for p in g["planes"])
    grids = budget_probes(probes, size // 3)
    prospectivity, coverage, magnetic = grids
    assert magnetic["step"] > 1  # the largest continuous layer gives way first
    assert coverage["step"] == 1
    codes = prospectivity["planes"][1]
    assert (codes["w"], codes["h"], codes["t"][0]) == (320, 240, 1000)  # drawn resolution
    assert sum(len(p["z"]) for g in grids for p in g["planes"]) <= size // 3
