"""Conditional independence of weights-of-evidence layers: tests and remedies.

:class:`IndependenceChecks` is the part of :class:`~geomap.models.wofe.WeightsOfEvidence`
that decides whether its layers may be added: exact duplicates (two layers that split the
study area identically), the pairwise chi-square tests on the training cells, the omnibus
test (Bonham-Carter's observed/predicted ratio and the Agterberg–Cheng 2002 probability of
dependence), and the remedies of ``on_dependence``: ``"drop"`` (leave out the weaker layer
of the most dependent pair until the test passes) and ``"hybrid"`` (the logistic/WofE hybrid
of :mod:`geomap.models.wofe_hybrid`).  Each step is recorded in ``independence_steps_``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError
from geomap.models._base import (
    ConditionalIndependenceWarning,
    DegenerateEvidenceWarning,
    warn,
)
from geomap.models.wofe_stats import _Layer, _unique_conditions

if TYPE_CHECKING:
    from geomap.models.wofe_hybrid import HybridFit

__all__ = ["IndependenceChecks"]


class IndependenceChecks:
    """Conditional-independence tests and remedies of a weights-of-evidence model (mixin)."""

    # set by WeightsOfEvidence.fit / __init__
    on_dependence: str
    ci_confidence: float
    min_ci_ratio: float
    layers_: dict[str, _Layer]
    weights_: pd.DataFrame
    dropped_layers_: dict[str, str]
    pairwise_independence_: pd.DataFrame
    independence_: dict[str, Any]
    independence_steps_: pd.DataFrame
    hybrid_: HybridFit | None

    def _logit(
        self, codes: Mapping[str, np.ndarray], *, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # the estimator's

    def _posterior(
        self, codes: Mapping[str, np.ndarray], *, with_std: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError  # the estimator's

    def _check_independence(
        self,
        codes: dict[str, np.ndarray],
        area: np.ndarray,
        deposits: np.ndarray,
        training: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Test the fitted layers, apply the ``on_dependence`` remedy, record each step."""
        total_deposits = float(deposits.sum())
        self.pairwise_independence_ = self._pairwise_tests(codes, deposits)
        self.independence_ = self._omnibus_test(codes, area, total_deposits, report=False)
        steps = [self._step("", self.independence_, codes, training)]
        while self.on_dependence == "drop" and not self.independence_["passed"]:
            weakest = self._most_dependent_layer()
            if weakest is None:
                break
            del self.layers_[weakest], codes[weakest]
            self.dropped_layers_[weakest] = (
                "conditional-independence remedy: most dependent pair, smaller contrast"
            )
            self.weights_ = self.weights_[self.weights_["layer"] != weakest].reset_index(drop=True)
            self.pairwise_independence_ = self._pairwise_tests(codes, deposits)
            self.independence_ = self._omnibus_test(codes, area, total_deposits, report=False)
            steps.append(self._step(weakest, self.independence_, codes, training))
        if self.on_dependence == "hybrid" and not self.independence_["passed"]:
            from geomap.models.wofe_hybrid import fit_hybrid

            self.hybrid_ = fit_hybrid(
                codes,
                {name: layer.classes.size for name, layer in self.layers_.items()},
                area,
                deposits,
            )
            self._attach_hybrid_columns()
            self.independence_ = self._omnibus_test(codes, area, total_deposits, report=False)
            steps.append(self._step("", self.independence_, codes, training, remedy="hybrid"))
        self.independence_steps_ = pd.DataFrame(steps)
        if not self.independence_["passed"]:
            self._report_dependence(self.independence_)

    def _step(
        self,
        dropped: str,
        result: Mapping[str, Any],
        codes: Mapping[str, np.ndarray],
        training: tuple[np.ndarray, np.ndarray],
        *,
        remedy: str = "",
    ) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        labels, weights = training
        logit = self._logit(codes, with_var=False)[0]
        auc = (
            float(roc_auc_score(labels > 0, logit, sample_weight=weights))
            if 0 < int((labels > 0).sum()) < labels.size
            else float("nan")
        )
        return {
            "step": 0 if not (dropped or remedy) else len(self.dropped_layers_) + (remedy != ""),
            "remedy": remedy or ("drop" if dropped else ""),
            "dropped": dropped,
            "layers": ",".join(self.layers_),
            "ratio": float(result["ratio"]),
            "p_dependent": float(result["p_dependent"]),
            "passed": bool(result["passed"]),
            "training_auc": auc,
        }

    def _attach_hybrid_columns(self) -> None:
        """Add the hybrid's ``hybrid_effect`` / ``hybrid_effect_std`` to ``weights_``."""
        hybrid = self.hybrid_
        assert hybrid is not None
        std = np.sqrt(np.clip(np.diag(hybrid.covariance)[1:], 0.0, None))
        stds = {name: np.zeros(layer.classes.size) for name, layer in self.layers_.items()}
        for j, (name, k) in enumerate(hybrid.columns):
            stds[name][k] = std[j]
        effect, effect_std = [], []
        position: dict[str, int] = {}
        for name, rule in zip(self.weights_["layer"], self.weights_["rule"], strict=True):
            if rule == "missing":
                effect.append(hybrid.missing_effect(name))
                effect_std.append(np.nan)
                continue
            k = position.get(name, 0)
            position[name] = k + 1
            effect.append(float(hybrid.effects(name, self.layers_[name].classes.size)[k]))
            effect_std.append(float(stds[name][k]))
        self.weights_ = self.weights_.assign(hybrid_effect=effect, hybrid_effect_std=effect_std)

    def _most_dependent_layer(self) -> str | None:
        """Return the weaker layer (smaller max |studentized C|) of the most dependent pair."""
        if len(self.layers_) < 2:
            return None
        pairs = self.pairwise_independence_.dropna(subset=["p_value"])
        if not len(pairs):
            return None
        worst = pairs.sort_values(["p_value", "chi2"], ascending=[True, False]).iloc[0]
        stud = self.weights_.groupby("layer")["studentized_contrast"].apply(
            lambda v: float(np.nanmax(np.abs(v.to_numpy(dtype=float)), initial=0.0))
        )
        a, b = str(worst["layer_a"]), str(worst["layer_b"])
        return a if stud.get(a, 0.0) <= stud.get(b, 0.0) else b

    def _duplicated_layers(self, codes: dict[str, np.ndarray], area: np.ndarray) -> list[str]:
        """Layers whose classes split the study area exactly like an earlier layer's.

        Perfectly correlated evidence would be counted twice.  With ``on_dependence="raise"``
        that is an error; otherwise the layer with the smaller studentized contrast is left
        out with a warning (and listed in ``dropped_layers_``).
        """
        names = list(codes)
        n = area.size
        probe = np.sort(np.random.default_rng(0).choice(n, size=min(n, 100_000), replace=False))
        stud = self.weights_.set_index("layer")["studentized_contrast"].abs()
        strength = {name: float(np.nanmax(stud.loc[[name]])) for name in names}
        dropped: list[str] = []
        for i, a_name in enumerate(names):
            for b_name in names[i + 1 :]:
                if a_name in dropped or b_name in dropped:
                    continue
                if not (
                    self._same_partition(codes[a_name][probe], codes[b_name][probe])
                    and self._same_partition(codes[a_name], codes[b_name])
                ):
                    continue
                message = (
                    f"layers {a_name!r} and {b_name!r} split the study area identically "
                    "(perfectly correlated where both have data); weights of evidence would "
                    "count the same evidence twice"
                )
                if self.on_dependence == "raise":
                    raise ModelError(f"{message}; remove one of them")
                weaker = b_name if strength[b_name] <= strength[a_name] else a_name
                kept = a_name if weaker == b_name else b_name
                dropped.append(weaker)
                self.dropped_layers_[weaker] = f"it duplicates the pattern of {kept!r}"
                warn(f"{message}; {weaker!r} is left out", DegenerateEvidenceWarning)
        return dropped

    @staticmethod
    def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
        both = (a >= 0) & (b >= 0)
        if both.sum() < 2:
            return False
        a, b = a[both], b[both]
        n_a, n_b = int(a.max()) + 1, int(b.max()) + 1
        joint = np.bincount(a * n_b + b, minlength=n_a * n_b).reshape(n_a, n_b)
        used_a = int(np.count_nonzero(joint.sum(axis=1)))  # classes of a present (no sort)
        used_b = int(np.count_nonzero(joint.sum(axis=0)))
        return bool(used_a >= 2 and used_a == used_b == int(np.count_nonzero(joint)))

    def _pairwise_tests(self, codes: dict[str, np.ndarray], deposits: np.ndarray) -> pd.DataFrame:
        from scipy.stats import chi2_contingency

        names = list(codes)
        rows = []
        on = deposits > 0
        for i, a_name in enumerate(names):
            for b_name in names[i + 1 :]:
                a, b, w = codes[a_name][on], codes[b_name][on], deposits[on]
                both = (a >= 0) & (b >= 0)
                a, b, w = a[both], b[both], w[both]
                row: dict[str, Any] = {
                    "layer_a": a_name,
                    "layer_b": b_name,
                    "chi2": np.nan,
                    "dof": 0,
                    "p_value": np.nan,
                    "n": float(w.sum()),
                }
                if a.size:
                    n_a, n_b = int(a.max()) + 1, int(b.max()) + 1
                    table = np.bincount(a * n_b + b, weights=w, minlength=n_a * n_b)
                    table = table.reshape(n_a, n_b)
                    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
                    if min(table.shape) >= 2:
                        result = chi2_contingency(table)
                        row.update(
                            chi2=float(result.statistic),
                            dof=int(result.dof),
                            p_value=float(result.pvalue),
                        )
                rows.append(row)
        return pd.DataFrame(rows, columns=["layer_a", "layer_b", "chi2", "dof", "p_value", "n"])

    def _omnibus_test(
        self,
        codes: dict[str, np.ndarray],
        area: np.ndarray,
        observed: float,
        *,
        report: bool = True,
    ) -> dict[str, Any]:
        from scipy.stats import norm

        first, inverse = _unique_conditions([codes[name] for name in self.layers_])
        unique_area = np.bincount(inverse, weights=area)
        p, std = self._posterior({n: c[first] for n, c in codes.items()}, with_std=True)
        assert std is not None
        predicted = float((unique_area * p).sum())
        std_predicted = float(math.sqrt(((unique_area * std) ** 2).sum()))
        z = (predicted - observed) / std_predicted if std_predicted > 0 else 0.0
        p_dependent = float(norm.cdf(z))
        ratio = observed / predicted if predicted > 0 else float("inf")
        passed = p_dependent <= self.ci_confidence and ratio >= self.min_ci_ratio
        result = {
            "observed": observed,
            "predicted": predicted,
            "std_predicted": std_predicted,
            "ratio": ratio,
            "z": z,
            "p_dependent": p_dependent,
            "confidence": self.ci_confidence,
            "passed": passed,
        }
        if not passed and report:
            self._report_dependence(result)
        return result

    def _report_dependence(self, result: Mapping[str, Any]) -> None:
        predicted, observed = result["predicted"], result["observed"]
        ratio, p_dependent = result["ratio"], result["p_dependent"]
        worst = self.pairwise_independence_.sort_values("p_value").head(3)
        pairs = ", ".join(
            f"{a}/{b} (p={p:.3g})"
            for a, b, p in zip(worst["layer_a"], worst["layer_b"], worst["p_value"], strict=True)
            if np.isfinite(p)
        )
        message = (
            f"conditional independence is doubtful: the model predicts {predicted:.1f} "
            f"training occurrences where {observed:g} are observed (ratio {ratio:.2f}; "
            f"Agterberg–Cheng probability of dependence {p_dependent:.3f}); posterior "
            "probabilities are inflated — merge or drop correlated layers"
            + (f" (most dependent pairs: {pairs})" if pairs else "")
        )
        if self.on_dependence == "raise":
            raise ModelError(message)
        if self.on_dependence == "drop":
            message += f"; the remedy left out {len(self.independence_steps_) - 1} layer(s)"
        if self.on_dependence == "hybrid":
            message += "; the logistic/WofE hybrid could not be fitted"
        warn(message, ConditionalIndependenceWarning)
