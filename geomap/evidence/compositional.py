"""Sample-level geochemistry the way exploration geochemists treat it.

Concentrations are *compositional*: parts of a whole (10⁶ ppm), so they are
closed, positive and carry only relative information; correlations and
distances computed on raw ppm are spurious (Aitchison 1986; Filzmoser, Hron and
Reimann 2009).  The functions here work on a samples table in the house schema
of :mod:`geomap.io.geochem` (``<El>_ppm``, ``<El>_censored``, ``<El>_dl_ppm``)
and return NumPy arrays, one value per sample; :mod:`geomap.evidence.geochem`
puts them on the grid.

- :func:`substitute_censored` replaces values below detection by a fraction
  (default 0.65, Palarea-Albaladejo et al. 2014) of the detection limit — or,
  where the source gives no limit (GSJ zeros), of the smallest measured value
  of that element — and counts what it replaced;
- :func:`closed_composition` takes the analysed parts and adds the residual
  part ``10⁶ − Σ parts`` so the composition is closed (sums to 10⁶ ppm);
- :func:`clr` and :func:`ilr` (pivot coordinates) are the log-ratio transforms;
  statistics (median, MAD, covariance) are computed on them;
- :func:`robust_z` is (x − median) / (1.4826 · MAD);
- :func:`robust_mahalanobis` is the Mahalanobis distance in ilr coordinates
  with the minimum covariance determinant (MCD) estimate of location and
  scatter (scikit-learn ``MinCovDet``), so the anomalies do not inflate the
  background they are measured against (Filzmoser, Garrett and Reimann 2005);
- :func:`parse_expression` / :func:`evaluate_expression` read element ratios
  and sums such as ``"LREE / HREE"``, ``"La / Yb"``, ``"Nb + Ta"`` or
  ``"Sn + Bi + Cs"``: parsed with :mod:`ast` and checked against a whitelist
  (element symbols, the group names of :data:`ELEMENT_GROUPS`, numbers,
  ``+ - * /`` and parentheses).  Text is never evaluated.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geomap.errors import DataError, ParameterError

__all__ = [
    "CLOSURE_PPM",
    "ELEMENT_GROUPS",
    "CensoredSummary",
    "closed_composition",
    "clr",
    "evaluate_expression",
    "expression_elements",
    "ilr",
    "parse_expression",
    "robust_mahalanobis",
    "robust_z",
    "substitute_censored",
]

CLOSURE_PPM = 1e6
"""A composition in ppm sums to one million."""

ELEMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "LREE": ("La", "Ce", "Pr", "Nd", "Sm", "Eu"),
    "HREE": ("Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"),
    "REE": ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"),
    "REY": (
        "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y",
    ),
}  # fmt: skip
"""Group names an expression may use; each stands for the sum of its elements (ppm).

LREE = La–Eu and HREE = Gd–Lu (the split used for the Geochemical Map of Japan
and most exploration work; Y is reported separately, REY adds it).
"""

_MAD_TO_SD = 1.4826


@dataclass
class CensoredSummary:
    """What :func:`substitute_censored` replaced, per element."""

    factor: float
    with_limit: dict[str, int] = field(default_factory=dict)
    without_limit: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        """All values replaced."""
        return sum(self.with_limit.values()) + sum(self.without_limit.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "factor": self.factor,
            "replaced_with_detection_limit": {k: v for k, v in self.with_limit.items() if v},
            "replaced_without_limit_min_measured": {
                k: v for k, v in self.without_limit.items() if v
            },
        }


def _column(samples: Any, name: str) -> np.ndarray:
    return np.asarray(samples[name], dtype="float64")


def substitute_censored(
    samples: Any, elements: Iterable[str], *, factor: float = 0.65
) -> tuple[dict[str, np.ndarray], CensoredSummary]:
    """Return ppm per element with censored values replaced; count the replacements.

    Parameters
    ----------
    samples : DataFrame
        Columns ``<El>_ppm`` and, where the source has them, ``<El>_censored`` and
        ``<El>_dl_ppm``.
    elements : iterable of str
        Element symbols.
    factor : float, default 0.65
        The replacement is ``factor × detection limit``; where the limit is not
        known, ``factor × the smallest measured value`` of that element.

    Returns
    -------
    dict, CensoredSummary
        ``{element: ppm array}`` (NaN stays NaN where a value is missing and not
        censored) and the counts.

    Raises
    ------
    DataError
        An element without a ``<El>_ppm`` column.
    ParameterError
        ``factor`` not in (0, 1].
    """
    if not 0 < float(factor) <= 1:
        raise ParameterError(f"censored factor={factor!r} must be in (0, 1], e.g. 0.65")
    summary = CensoredSummary(float(factor))
    out: dict[str, np.ndarray] = {}
    for element in elements:
        column = f"{element}_ppm"
        if column not in samples.columns:
            have = sorted(
                str(c)[:-4]
                for c in samples.columns
                if str(c).endswith("_ppm") and not str(c).endswith(("_dl_ppm", "_imputed_ppm"))
            )
            raise DataError(f"no column {column!r} in the samples; elements present: {have}")
        values = _column(samples, column).copy()
        censored = (
            np.asarray(samples[f"{element}_censored"], dtype=bool)
            if f"{element}_censored" in samples.columns
            else np.zeros(len(values), dtype=bool)
        )
        limits = (
            _column(samples, f"{element}_dl_ppm")
            if f"{element}_dl_ppm" in samples.columns
            else np.full(len(values), np.nan)
        )
        measured = values[np.isfinite(values) & (values > 0)]
        floor = float(measured.min()) if measured.size else np.nan
        has_limit = censored & np.isfinite(limits) & (limits > 0)
        no_limit = censored & ~has_limit
        values[has_limit] = factor * limits[has_limit]
        values[no_limit] = factor * floor
        summary.with_limit[element] = int(has_limit.sum())
        summary.without_limit[element] = int(no_limit.sum())
        values[~(values > 0)] = np.nan
        out[element] = values
    return out, summary


def closed_composition(
    parts: Mapping[str, np.ndarray], *, total: float = CLOSURE_PPM, residual: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Stack parts (ppm) into a composition, closed by a residual part.

    Parameters
    ----------
    parts : mapping of str to array
        Positive concentrations (ppm), one array per part, equal lengths.
    total : float, default 10⁶
        The closure constant (ppm).
    residual : bool, default True
        Add the part ``total − Σ parts`` ("rest": the elements not analysed or
        not chosen, mostly Si and O).  A row whose parts exceed ``total`` gets
        NaN.

    Returns
    -------
    ndarray, list of str
        ``(n_samples, n_parts)`` and the part names (``"rest"`` last).
    """
    names = list(parts)
    if not names:
        raise ParameterError("a composition needs at least one part")
    matrix = np.column_stack([np.asarray(parts[n], dtype="float64") for n in names])
    if residual:
        rest = total - matrix.sum(axis=1)
        rest = np.where(rest > 0, rest, np.nan)
        matrix = np.column_stack([matrix, rest])
        names.append("rest")
    return matrix, names


def clr(composition: np.ndarray) -> np.ndarray:
    """Centred log-ratio: ``ln x_i − mean_j ln x_j`` per row (NaN rows stay NaN).

    >>> clr(np.array([[1.0, 1.0, 4.0]])).round(3).tolist()
    [[-0.462, -0.462, 0.924]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(composition > 0, composition, np.nan))
    return logs - logs.mean(axis=1, keepdims=True)


def ilr(composition: np.ndarray) -> np.ndarray:
    """Isometric log-ratio, pivot coordinates (Fišerová and Hron 2011): D parts -> D−1.

    Coordinate ``i`` (0-based) is ``sqrt((D−i−1)/(D−i)) · ln(x_i / gmean(x_{i+1..D}))``,
    so the first coordinate holds all the relative information of the first part.

    >>> ilr(np.array([[1.0, 1.0, 1.0]])).tolist()
    [[0.0, 0.0]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(composition > 0, composition, np.nan))
    d = logs.shape[1]
    out = np.empty((logs.shape[0], d - 1))
    for i in range(d - 1):
        rest = logs[:, i + 1 :].mean(axis=1)
        out[:, i] = np.sqrt((d - i - 1) / (d - i)) * (logs[:, i] - rest)
    return out


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(x − median) / (1.4826 · MAD)`` over the finite values (NaN stays NaN).

    >>> robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0])).round(1).tolist()
    [-1.3, -0.7, 0.0, 0.7, 65.4]
    """
    values = np.asarray(values, dtype="float64")
    finite = values[np.isfinite(values)]
    if finite.size < 3:
        raise DataError(f"robust z-scores need at least 3 finite values, got {finite.size}")
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median))) * _MAD_TO_SD
    if mad == 0:
        raise DataError(
            "the median absolute deviation is 0 (more than half the values are equal); "
            "choose another element or a log-ratio"
        )
    return (values - median) / mad


def robust_mahalanobis(
    coordinates: np.ndarray, *, random_state: int = 0, support_fraction: float | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Robust Mahalanobis distance of each row from the MCD centre (rows with NaN: NaN).

    Parameters
    ----------
    coordinates : ndarray
        ``(n_samples, p)``, e.g. ilr coordinates (never raw or clr values: the
        clr covariance is singular).
    random_state : int, default 0
        Seed of the MCD search (deterministic results).
    support_fraction : float, optional
        Fraction of samples in the MCD subset (scikit-learn's default).

    Returns
    -------
    ndarray, dict
        Distances (not squared) and ``{"n_used", "p", "chi2_975"}`` where
        ``chi2_975`` is the square root of the 97.5 % chi-square quantile
        with ``p`` degrees of freedom, the usual outlier cut-off.
    """
    from scipy.stats import chi2
    from sklearn.covariance import MinCovDet

    coordinates = np.asarray(coordinates, dtype="float64")
    ok = np.isfinite(coordinates).all(axis=1)
    n, p = int(ok.sum()), coordinates.shape[1]
    if n < 5 * max(p, 1):
        raise DataError(
            f"robust Mahalanobis distance on {p} coordinates needs at least {5 * p} complete "
            f"samples, got {n}; use fewer elements"
        )
    mcd = MinCovDet(random_state=random_state, support_fraction=support_fraction)
    mcd.fit(coordinates[ok])
    out = np.full(len(coordinates), np.nan)
    out[ok] = np.sqrt(mcd.mahalanobis(coordinates[ok]))
    return out, {"n_used": n, "p": p, "chi2_975": float(np.sqrt(chi2.ppf(0.975, p)))}


# --------------------------------------------------------------------------- expressions

_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}
_MAX_EXPRESSION = 500


def _known_names() -> frozenset[str]:
    from geomap.io.geochem import ELEMENTS

    return ELEMENTS | frozenset(ELEMENT_GROUPS)


def parse_expression(text: str) -> ast.Expression:
    """Parse an element expression and check every node against the whitelist.

    Allowed: element symbols (``La``), group names (``LREE``, ``HREE``, ``REE``,
    ``REY``), numbers, ``+ - * /``, unary minus and parentheses.

    Raises
    ------
    ParameterError
        Anything else (calls, attributes, names that are not elements, ``**``,
        comparisons, ...), naming the offending part.

    >>> sorted(expression_elements("La / Yb"))
    ['La', 'Yb']
    """
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"expression {text!r} is empty; write e.g. 'La / Yb' or 'Nb + Ta'")
    if len(text) > _MAX_EXPRESSION:
        raise ParameterError(f"expression is {len(text)} characters long; the limit is 500")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ParameterError(
            f"expression {text!r} is not valid arithmetic ({exc.msg}); use element symbols, "
            "numbers, + - * / and parentheses"
        ) from None
    known = _known_names()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expression | ast.Load):
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            continue
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            continue
        if type(node) in _BINARY or type(node) in _UNARY:
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            continue
        if isinstance(node, ast.Name):
            if node.id not in known:
                raise ParameterError(
                    f"expression {text!r}: {node.id!r} is not an element symbol or one of "
                    f"{sorted(ELEMENT_GROUPS)}"
                )
            continue
        snippet = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ParameterError(
            f"expression {text!r}: {snippet!r} is not allowed; use element symbols, numbers, "
            "+ - * / and parentheses"
        )
    return tree


def expression_elements(text: str) -> set[str]:
    """Return the element symbols an expression reads (groups expanded)."""
    tree = parse_expression(text)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.update(ELEMENT_GROUPS.get(node.id, (node.id,)))
    return out


def evaluate_expression(text: str, parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate an element expression on per-sample arrays (ppm), by walking the parsed tree.

    Division by zero and any non-finite result give NaN.

    >>> evaluate_expression("(La + 1) / 2", {"La": np.array([1.0, 3.0])}).tolist()
    [1.0, 2.0]
    """
    tree = parse_expression(text)

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            members: Sequence[str] = ELEMENT_GROUPS.get(node.id, (node.id,))
            missing = [m for m in members if m not in parts]
            if missing:
                raise DataError(f"expression {text!r} needs {missing}, which the samples lack")
            return np.sum([np.asarray(parts[m], dtype="float64") for m in members], axis=0)
        raise ParameterError(f"expression {text!r}: unexpected {type(node).__name__}")

    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.asarray(walk(tree), dtype="float64")
    n = len(next(iter(parts.values()))) if parts else 1
    value = np.broadcast_to(value, (n,)).astype("float64")
    return np.where(np.isfinite(value), value, np.nan)
