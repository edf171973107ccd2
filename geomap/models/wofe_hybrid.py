"""The logistic/WofE hybrid: weighted logistic regression on the generalized WofE patterns.

When weights of evidence fails the conditional-independence test, the posterior adds the
weights of layers that carry the same evidence, and double counts it.  Agterberg,
Bonham-Carter & Wright (1990) and Agterberg & Bonham-Carter (1999) fit instead a *weighted
logistic regression* (WLR) on the same binary patterns: its coefficients are estimated
jointly, so two layers that say the same thing share one effect rather than adding two.
``WeightsOfEvidence(on_dependence="hybrid")`` keeps everything weights of evidence decided —
the generalized classes (thresholds of continuous layers, merged categorical classes, layers
left out as exact duplicates) — and replaces only the way the classes are combined:

* **Design.**  Each layer of ``K`` classes gives ``K - 1`` class indicators; the class of
  largest area is the reference (its effect is in the intercept).  A cell where the layer has
  no data takes the layer's area-weighted mean indicator values (its expected effect), as
  WofE gives missing data the prior-neutral weight 0.
* **Weighted fit.**  Rows are the unique conditions (combinations of classes); each enters
  twice, as ``deposits`` occurrences (label 1) and ``area - deposits`` unit cells without
  one (label 0) — Agterberg's area weighting, so the result does not depend on how the
  area is tiled.  Newton–Raphson on the log-likelihood with an L2 penalty ``l2 / 2 · |β|²``
  on the class effects (not the intercept): a Gaussian prior of standard deviation
  ``1 / sqrt(l2)`` on each logit contrast, which keeps the effect of a class without any
  occurrence finite (WofE's empty-class problem) and splits a shared effect evenly between
  exact copies.
* **Uncertainty.**  The variance of the posterior logit is ``x' H⁻¹ x`` (``H`` the penalized
  Hessian at the optimum, intercept included), turned into the variance of ``P`` by the
  delta method; cells with missing data add the same missing-data variance as WofE, with
  the class effects in place of the weights.

Because the intercept is fitted, the predicted number of occurrences equals the observed
number: the omnibus conditional-independence test passes *by construction* after the
hybrid and says nothing more.  What shows the hybrid works is that the double counting is
gone: with two copies of one layer the hybrid posterior is that of the one-layer model, where
weights of evidence doubles the contrast (``tests/test_wofe_hybrid.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from geomap.errors import ModelError

__all__ = ["HYBRID_L2", "HybridFit", "fit_hybrid"]

HYBRID_L2 = 1.0
"""L2 penalty on the class effects: a Gaussian prior of standard deviation 1 on each contrast."""
_MAX_ITER = 100
_TOLERANCE = 1e-10


@dataclass(frozen=True)
class HybridFit:
    """A fitted logistic/WofE hybrid.

    Attributes
    ----------
    layers : list of str
        The layers, in design order.
    references : dict of str to int
        Reference class (index) of each layer.
    columns : list of (str, int)
        ``(layer, class index)`` of each indicator column.
    means : numpy.ndarray
        Area-weighted mean of each indicator where its layer has data (the value a cell
        without data takes).
    intercept : float
        Logit of a cell in every layer's reference class.
    coef : numpy.ndarray
        Effect (logit) of each indicator column.
    covariance : numpy.ndarray
        Inverse penalized Hessian, ``(1 + n_columns)`` square, intercept first.
    n_iter : int
        Newton iterations used.
    """

    layers: list[str]
    references: dict[str, int]
    columns: list[tuple[str, int]]
    means: np.ndarray
    intercept: float
    coef: np.ndarray
    covariance: np.ndarray
    n_iter: int

    def effects(self, layer: str, n_classes: int) -> np.ndarray:
        """Logit effect of each class of ``layer`` (0 for the reference class)."""
        out = np.zeros(n_classes)
        for j, (name, k) in enumerate(self.columns):
            if name == layer:
                out[k] = self.coef[j]
        return out

    def missing_effect(self, layer: str) -> float:
        """Logit effect a cell without data on ``layer`` takes (its mean indicators)."""
        return float(
            sum(
                self.coef[j] * self.means[j]
                for j, (name, _) in enumerate(self.columns)
                if name == layer
            )
        )

    def design(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the indicator matrix (intercept column first) of class codes (-1 = no data)."""
        n = next(iter(codes.values())).size
        matrix = np.empty((n, 1 + len(self.columns)))
        matrix[:, 0] = 1.0
        for j, (name, k) in enumerate(self.columns):
            c = codes[name]
            matrix[:, 1 + j] = np.where(c < 0, self.means[j], (c == k).astype("float64"))
        return matrix

    def logit(
        self, codes: Mapping[str, np.ndarray], *, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior logit of each row and, with ``with_var``, its variance."""
        matrix = self.design(codes)
        beta = np.r_[self.intercept, self.coef]
        logit = matrix @ beta
        if not with_var:
            return logit, np.empty(0)
        var = np.einsum("ij,jk,ik->i", matrix, self.covariance, matrix)
        return logit, np.clip(var, 0.0, None)


def fit_hybrid(
    codes: Mapping[str, np.ndarray],
    n_classes: Mapping[str, int],
    area: np.ndarray,
    deposits: np.ndarray,
    *,
    l2: float = HYBRID_L2,
) -> HybridFit:
    """Fit the weighted logistic regression on generalized class codes.

    Parameters
    ----------
    codes : mapping of str to numpy.ndarray
        Class index of each row per layer (-1 = no data), as WofE's layers give them.
    n_classes : mapping of str to int
        Number of classes of each layer.
    area, deposits : numpy.ndarray
        Unit cells each row stands for, and training occurrences (unit cells) in it.
    l2 : float, default :data:`HYBRID_L2`
        Penalty on the class effects (inverse prior variance of each logit contrast).

    Returns
    -------
    HybridFit

    Raises
    ------
    ModelError
        ``l2`` is negative, or the fit does not converge.
    """
    from geomap.models.wofe_stats import _unique_conditions

    if not (l2 >= 0 and np.isfinite(l2)):
        raise ModelError(f"l2={l2!r} must be a finite penalty >= 0 (default {HYBRID_L2})")
    names = list(codes)
    columns: list[tuple[str, int]] = []
    references: dict[str, int] = {}
    means: list[float] = []
    for name in names:
        c = codes[name]
        has = c >= 0
        class_area = np.bincount(c[has], weights=area[has], minlength=n_classes[name])
        references[name] = int(np.argmax(class_area))
        total = float(class_area.sum())
        for k in range(n_classes[name]):
            if k != references[name]:
                columns.append((name, k))
                means.append(float(class_area[k] / total) if total > 0 else 0.0)
    first, inverse = _unique_conditions([codes[n] for n in names])
    unit_area = np.bincount(inverse, weights=area)
    unit_deposits = np.bincount(inverse, weights=deposits)
    shell = HybridFit(names, references, columns, np.asarray(means), 0.0, np.zeros(0), np.eye(1), 0)
    matrix = shell.design({n: codes[n][first] for n in names})
    beta, covariance, n_iter = _newton(matrix, unit_deposits, unit_area, l2)
    return HybridFit(
        layers=names,
        references=references,
        columns=columns,
        means=np.asarray(means),
        intercept=float(beta[0]),
        coef=beta[1:],
        covariance=covariance,
        n_iter=n_iter,
    )


def _newton(
    matrix: np.ndarray, ones: np.ndarray, total: np.ndarray, l2: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Penalized Newton–Raphson for binomial counts ``ones`` of ``total`` per row."""
    p = matrix.shape[1]
    penalty = np.full(p, float(l2))
    penalty[0] = 0.0  # the intercept is not penalized: predicted total = observed total
    prior = float(ones.sum()) / float(total.sum())
    beta = np.zeros(p)
    beta[0] = np.log(prior / (1.0 - prior))

    def objective(b: np.ndarray) -> float:
        eta = matrix @ b
        # -log-likelihood: total * log(1 + e^eta) - ones * eta
        return float(
            (total * np.logaddexp(0.0, eta) - ones * eta).sum() + 0.5 * (penalty * b * b).sum()
        )

    current = objective(beta)
    n_iter = 0
    for n_iter in range(1, _MAX_ITER + 1):  # noqa: B007 (the count is returned)
        mu = expit(matrix @ beta)
        gradient = matrix.T @ (total * mu - ones) + penalty * beta
        hessian = (matrix * (total * mu * (1.0 - mu))[:, None]).T @ matrix + np.diag(penalty)
        hessian[np.diag_indices(p)] += 1e-12  # an empty indicator (no area) stays solvable
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-6:
            trial = beta - scale * step
            value = objective(trial)
            if value <= current + 1e-12:
                break
            scale /= 2
        else:
            break
        beta, improvement, current = trial, current - value, value
        if np.abs(scale * step).max() < 1e-8 or improvement < _TOLERANCE:
            break
    else:
        raise ModelError(
            f"the logistic/WofE hybrid did not converge in {_MAX_ITER} Newton steps; use "
            "on_dependence='drop', or merge classes (merge_min_studentized)"
        )
    mu = expit(matrix @ beta)
    hessian = (matrix * (total * mu * (1.0 - mu))[:, None]).T @ matrix + np.diag(penalty)
    return beta, np.linalg.pinv(hessian), n_iter
