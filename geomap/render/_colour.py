"""Colour distances for checking that a map's legend entries can be told apart.

CIELAB (D65) and the CIE76 colour difference ΔE*ab, and a simulation of deuteranopia (the most
common colour-vision deficiency) with the matrix of Machado, Oliveira & Fernandes (2009,
severity 1.0), applied in linear sRGB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["closest_pair", "delta_e", "simulate_deuteranopia", "to_lab"]

# Machado, Oliveira & Fernandes (2009), deuteranomaly at severity 1.0 (linear RGB)
_DEUTERANOPIA = np.array(
    [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 1.968881],
    ]
)
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def _rgb(color: str) -> np.ndarray:
    text = color.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return np.array([int(text[i : i + 2], 16) for i in (0, 2, 4)], dtype="float64") / 255.0


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _gamma(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def to_lab(color: str) -> np.ndarray:
    """CIELAB (D65) of a ``#rrggbb`` colour."""
    xyz = _SRGB_TO_XYZ @ _linear(_rgb(color)) / _WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def simulate_deuteranopia(color: str) -> str:
    """Return the colour as a person with deuteranopia sees it (``#rrggbb``)."""
    seen = _gamma(_DEUTERANOPIA @ _linear(_rgb(color)))
    return "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in seen))


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference ΔE*ab between two ``#rrggbb`` colours (2.3 is just noticeable)."""
    return float(np.linalg.norm(to_lab(a) - to_lab(b)))


def closest_pair(
    entries: Sequence[tuple[str, str]], *, deuteranopia: bool = False
) -> tuple[float, str, str]:
    """Return the two entries ``(label, colour)`` closest in colour: ``(ΔE, label, label)``.

    Entries with the same colour and label count once.
    """
    unique = list(dict.fromkeys((label, color.lower()) for label, color in entries))
    best = (float("inf"), "", "")
    for i, (label_a, color_a) in enumerate(unique):
        for label_b, color_b in unique[i + 1 :]:
            a = simulate_deuteranopia(color_a) if deuteranopia else color_a
            b = simulate_deuteranopia(color_b) if deuteranopia else color_b
            distance = delta_e(a, b)
            if distance < best[0]:
                best = (distance, label_a, label_b)
    return best
