"""Weights of evidence (Bonham-Carter, Agterberg & Wright 1989; Bonham-Carter 1994).

For a binary pattern ``B`` and training cells ``D`` (cells holding a known occurrence), with
areas counted in *unit cells*::

    W+ = ln[ P(B | D) / P(B | ~D) ]        s²(W+) = 1/N(B∩D)  + 1/N(B∩~D)
    W- = ln[ P(~B | D) / P(~B | ~D) ]      s²(W-) = 1/N(~B∩D) + 1/N(~B∩~D)
    C  = W+ - W-                           s(C)   = sqrt(s²(W+) + s²(W-)),  studentized C = C / s(C)

and the posterior logit of a cell is ``ln O(D) + Σ_j W_j`` (the prior log odds plus the
weight of the class the cell falls in on each layer).

**Evidence kinds.**  *Binary* layers (0/1) give W+ to 1 and W- to 0.  *Categorical* layers give
each class the W+ of "this class versus the rest".  *Continuous* layers are turned into a
binary pattern by a cumulative threshold: ascending (pattern = value <= t, e.g. distance to
faults) or descending (pattern = value >= t, e.g. a geochemical anomaly); ``"auto"`` tries
both directions.  Every **distinct value** is a candidate ``t`` (exhaustive search: the cells
are binned once and all thresholds' counts are cumulative sums, one pass); the
**generalization** picks ``t`` of maximum studentized contrast (default), of maximum contrast
among those with studentized contrast >= ``min_studentized_contrast``, or a manual cutoff per
layer (``cutoffs``).  Categorical classes whose |studentized contrast| is below
``merge_min_studentized`` can be pooled into one class.

**Classes without a training cell** never get a positive weight.  Their contingency table
has a zero count; the Haldane–Anscombe correction (+0.5 on each count) keeps the weight
finite, but for a *small* empty class it gives a positive W+ (a class of 10 cells with 0 of
20 deposits scores ``ln[(0.5/21)/(10.5/9981)] = +3.12``, above a real host class).  geomap
caps such weights at 0: an empty class is either neutral (small, no information) or
negative (large, evidence of absence — the smoothed W+ is kept when it is below 0).  The
same cap applies to the outside-pattern class of a binary/continuous layer whose pattern
holds every deposit.  ``weights_["capped"]`` marks the capped rows.  EIS Toolkit 1.1.6
(``_calculate_metrics_for_class``) sets *every* statistic of a class with no deposit to 0
(W+, W-, C and their deviations), so large barren classes lose their negative weight there;
geomap keeps it and differs only by never letting the class score above 0.

**Missing data** (NaN) get weight 0 and add the missing-data variance of Agterberg &
Bonham-Carter (1990) to the posterior: for each layer ``j`` missing at a cell,
``Σ_k π_jk (P_jk - P)²`` where ``P_jk`` is the posterior had the cell been in class ``k`` and
``π_jk`` the share of the layer's data area in class ``k``.  Weights of a layer are estimated
inside the area where that layer has data.

**Posterior uncertainty.**  ``s²(logit P) = 1/N(D) + 1/N(~D) + Σ_j s²(W_j)`` (the prior term is
the binomial variance of the prior log odds), turned into the variance of ``P`` by the delta
method, ``[P(1-P)]² s²(logit P)`` — Bonham-Carter's ``P² s²`` for small ``P`` — plus the
missing-data variance.  ``predict_std`` is the square root of the sum.

**Unit cell.**  Bonham-Carter counts areas in unit cells (e.g. 1 km²) and training points as
one unit each; the weights' variances, the prior and the posterior depend on that unit.
By default one grid cell is the unit (``unit_area_km2=None``: counts are cells).  With
``unit_area_km2`` set, pass the grid's ``cell_area_km2`` to ``fit``; each row then stands for
``cell_area_km2 / unit_area_km2`` units and the posterior is the probability that one *unit*
area holds an occurrence.

**Degenerate cases** never produce ``log(0)`` or NaN:

* a contingency table with a zero count (e.g. a class without training cells, or a pattern
  holding all of them) gets the Haldane–Anscombe correction — ``smoothing`` (default 0.5)
  added to each of its four counts — and a :class:`DegenerateEvidenceWarning` naming the
  layer and class; with ``smoothing=0`` it is a :class:`~geomap.errors.ModelError`;
* a layer with no data, with one class only, or without any training cell where it has data is
  dropped with a warning (listed in ``dropped_layers_``);
* several training points in one cell count once (warning); no training cell is an error;
* of two layers that split the study area identically (perfect correlation; e.g. a lithology
  score and the distance to that lithology thresholded at 0) the one with the smaller
  studentized contrast is dropped with a warning — their evidence would be counted twice —
  or, with ``on_dependence="raise"``, it is an error;
* conditional independence is checked after fitting (Bonham-Carter's omnibus ratio and the
  Agterberg–Cheng 2002 test); a failure issues a :class:`ConditionalIndependenceWarning`
  (or an error with ``on_dependence="raise"``).  Two automatic remedies: ``"drop"`` leaves
  out the weaker layer of the most dependent pair until the test passes; ``"hybrid"`` keeps
  every layer's generalized classes and combines them by weighted logistic regression
  instead of adding the weights (:mod:`geomap.models.wofe_hybrid`), so dependent layers
  share one effect.

The contrast statistics and fitted layers are in :mod:`geomap.models.wofe_stats`
(:func:`contrast_statistics` is re-exported here), the independence tests and remedies in
:mod:`geomap.models.wofe_independence`; this module holds the estimator: parameters,
fitting each layer (thresholds, merging, weights table) and prediction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from geomap.errors import ModelError
from geomap.models._base import (
    DegenerateEvidenceWarning,
    ProspectivityModel,
    check_labels,
    check_sample_weight,
    check_table,
    check_two_classes,
    is_categorical,
    warn,
)
from geomap.models.wofe_independence import IndependenceChecks
from geomap.models.wofe_stats import (
    _DIRECTIONS,
    _FLAG_COLUMNS,
    _GENERALIZATIONS,
    _KINDS,
    _STAT_COLUMNS,
    _bins,
    _candidate_thresholds,
    _cap_empty,
    _class_codes,
    _contrast,
    _Layer,
    _tables,
    _thin_curve,
    _threshold_curve,
    _weighted_count,
    contrast_statistics,
)

__all__ = ["WeightsOfEvidence", "contrast_statistics"]


# ----------------------------------------------------------------------------- estimator


class WeightsOfEvidence(IndependenceChecks, ProspectivityModel):
    """Weights-of-evidence prospectivity model (data-driven, Bayesian, log-linear).

    See the module docstring for the formulas, the missing-data variance, the unit cell and
    how degenerate cases are handled.

    Parameters
    ----------
    kinds : mapping of str to {"binary", "categorical", "continuous"}, optional
        Evidence kind per layer.  Unlisted layers: ``category``/string columns are
        categorical, columns holding only 0 and 1 binary, the rest continuous.
    directions : mapping of str to {"ascending", "descending", "auto"}, optional
        Threshold direction per continuous layer (``default_direction`` otherwise).
        Ascending: the pattern is ``value <= threshold`` (small is favourable, e.g. distance);
        descending: ``value >= threshold``.
    default_direction : {"auto", "ascending", "descending"}, default "auto"
        ``"auto"`` keeps the direction with the larger maximum studentized contrast.
    n_thresholds : int, optional
        ``None`` (default): every distinct value of a continuous layer is a candidate
        threshold (exhaustive search, cumulative counts in one pass).  An integer tries that
        many quantiles instead (the former default was 40: on a capped distance layer with
        90 % of cells at the cap only a handful of quantiles remain, and the best cutoff is
        missed).
    generalization : {"max_studentized_contrast", "max_contrast"}
        How a continuous layer's threshold is chosen: the largest studentized contrast
        (default), or the largest contrast among thresholds whose studentized contrast is
        at least ``min_studentized_contrast`` (EIS Toolkit's "max contrast if feasible").
    min_studentized_contrast : float, default 2.0
        Feasibility bound of ``generalization="max_contrast"``.
    cutoffs : mapping of str to float, optional
        Manual threshold per continuous layer (recipe ``model.params.cutoffs``); the
        direction is the one in which the pattern is favourable (or ``directions``).
    merge_min_studentized : float, optional
        Categorical layers: classes whose |studentized contrast| is below this value are
        pooled into one class with the pooled weight (few-deposit classes stop carrying
        noise weights); ``None`` keeps every class.
    smoothing : float, default 0.5
        Pseudo-count for contingency tables with a zero count (see module docstring).
    unit_area_km2 : float, optional
        Area of one unit cell in km²; ``None`` counts grid cells.
    ci_confidence : float, default 0.95
        Confidence level of the Agterberg–Cheng conditional-independence test.
    min_ci_ratio : float, default 0.85
        Bonham-Carter's rule of thumb: an observed/predicted occurrence ratio below this
        signals conditional dependence.
    on_dependence : {"warn", "raise", "drop", "hybrid"}, default "warn"
        What a failed conditional-independence test does, and what two layers that split the
        study area identically do (``"warn"``/``"drop"``: the one with the smaller studentized
        contrast is left out with a warning).  ``"drop"`` is the automatic remedy: while the
        omnibus test fails, the layer of the most dependent pair (smallest chi-square p-value
        on the training cells) with the smaller studentized contrast is left out and the test
        repeated; ``independence_steps_`` shows each step (before/after).  ``"hybrid"``:
        when the test fails, the generalized classes of every layer are combined by a
        weighted logistic regression (Agterberg & Bonham-Carter's WLR;
        :mod:`geomap.models.wofe_hybrid`) instead of adding their weights; the steps show
        the test with the weights (before) and with the hybrid (after; it passes by
        construction, the fitted intercept matches the totals).

    Attributes
    ----------
    weights_ : pandas.DataFrame
        One row per layer class: ``layer``, ``kind``, ``class``, ``rule``, ``area_cells``,
        ``area_units``, ``area_km2``, ``deposits``, ``weight``, ``weight_std``, the pattern's
        ``w_plus`` ... ``studentized_contrast`` and ``smoothed``.  A ``(no data)`` row per
        layer shows the missing area (weight 0).
    contrast_curves_ : dict of str to pandas.DataFrame
        For continuous layers, the statistics of every candidate threshold.
    prior_probability_ : float
        N(D) / N(T) (per unit cell).
    independence_ : dict
        ``observed``, ``predicted`` (sum of posteriors), ``std_predicted``, ``ratio``
        (observed / predicted), ``z``, ``p_dependent`` (Agterberg–Cheng one-tailed
        probability that predicted exceeds observed by more than chance) and ``passed``.
    pairwise_independence_ : pandas.DataFrame
        Chi-square test of each pair of layers on the training cells (``layer_a``,
        ``layer_b``, ``chi2``, ``dof``, ``p_value``, ``n``); a small ``p_value`` flags a pair
        that is not conditionally independent.
    dropped_layers_ : dict of str to str
        Layers left out, with the reason.
    independence_steps_ : pandas.DataFrame
        The conditional-independence test before and after each remedy step: ``step``,
        ``remedy`` (``""`` for the first fit, ``"drop"`` or ``"hybrid"``), ``dropped`` (the
        layer left out, ``""`` otherwise), ``layers``, ``ratio``, ``p_dependent``,
        ``passed`` and ``training_auc`` (ROC AUC of the posterior on the training cells).
    hybrid_ : HybridFit or None
        The logistic/WofE hybrid when ``on_dependence="hybrid"`` acted (predictions use it;
        ``weights_`` gains ``hybrid_effect`` and ``hybrid_effect_std``), else ``None``.
    n_deposits_, study_area_units_ : float
        N(D) and N(T) in unit cells.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"near_fault": [1, 1, 0, 0, 0, 0, 1, 0]})
    >>> y = np.array([1, 0, 0, 0, 1, 0, 1, 0])
    >>> model = WeightsOfEvidence().fit(X, y)
    >>> p = model.predict_proba(X)[:, 1]
    >>> bool(p[0] > model.prior_probability_ > p[2])
    True
    """

    def __init__(
        self,
        *,
        kinds: Mapping[str, str] | None = None,
        directions: Mapping[str, str] | None = None,
        default_direction: str = "auto",
        n_thresholds: int | None = None,
        generalization: str = "max_studentized_contrast",
        min_studentized_contrast: float = 2.0,
        cutoffs: Mapping[str, float] | None = None,
        merge_min_studentized: float | None = None,
        smoothing: float = 0.5,
        unit_area_km2: float | None = None,
        ci_confidence: float = 0.95,
        min_ci_ratio: float = 0.85,
        on_dependence: str = "warn",
    ) -> None:
        self.kinds = kinds
        self.directions = directions
        self.default_direction = default_direction
        self.n_thresholds = n_thresholds
        self.generalization = generalization
        self.min_studentized_contrast = min_studentized_contrast
        self.cutoffs = cutoffs
        self.merge_min_studentized = merge_min_studentized
        self.smoothing = smoothing
        self.unit_area_km2 = unit_area_km2
        self.ci_confidence = ci_confidence
        self.min_ci_ratio = min_ci_ratio
        self.on_dependence = on_dependence

    # -- parameters ----------------------------------------------------------------------

    def _check_params(self, X: pd.DataFrame) -> None:
        if self.default_direction not in _DIRECTIONS:
            raise ModelError(
                f"default_direction={self.default_direction!r}; choose one of {_DIRECTIONS}"
            )
        for name, value in (self.directions or {}).items():
            if value not in _DIRECTIONS:
                raise ModelError(f"directions[{name!r}]={value!r}; choose one of {_DIRECTIONS}")
        for name, value in (self.kinds or {}).items():
            if value not in _KINDS:
                raise ModelError(f"kinds[{name!r}]={value!r}; choose one of {_KINDS}")
        named = set(self.kinds or {}) | set(self.directions or {}) | set(self.cutoffs or {})
        unknown = sorted(named - set(X.columns))
        if unknown:
            raise ModelError(
                f"kinds/directions/cutoffs name layers {unknown} that are not columns of X "
                f"({list(X.columns)}); fix the names"
            )
        if self.n_thresholds is not None and int(self.n_thresholds) < 1:
            raise ModelError(f"n_thresholds={self.n_thresholds} must be >= 1 (or None: all)")
        if self.generalization not in _GENERALIZATIONS:
            raise ModelError(
                f"generalization={self.generalization!r}; choose one of {_GENERALIZATIONS} "
                "(or set cutoffs= for manual thresholds)"
            )
        for layer_name, cutoff in (self.cutoffs or {}).items():
            if not (isinstance(cutoff, int | float) and math.isfinite(cutoff)):
                raise ModelError(f"cutoffs[{layer_name!r}]={cutoff!r} must be a finite number")
        if self.merge_min_studentized is not None and not self.merge_min_studentized >= 0:
            raise ModelError(
                f"merge_min_studentized={self.merge_min_studentized!r} must be >= 0 or None"
            )
        if not (self.smoothing >= 0 and math.isfinite(self.smoothing)):
            raise ModelError(f"smoothing={self.smoothing!r} must be a finite pseudo-count >= 0")
        if not 0 < self.ci_confidence < 1:
            raise ModelError(f"ci_confidence={self.ci_confidence} must lie in (0, 1)")
        if self.on_dependence not in ("warn", "raise", "drop", "hybrid"):
            raise ModelError(
                f"on_dependence={self.on_dependence!r}; choose 'warn', 'raise', 'drop' or 'hybrid'"
            )

    def _units_per_row(self, cell_area_km2: float | None) -> float:
        if self.unit_area_km2 is None:
            return 1.0
        if not (self.unit_area_km2 > 0 and math.isfinite(self.unit_area_km2)):
            raise ModelError(f"unit_area_km2={self.unit_area_km2!r} must be a positive area")
        if cell_area_km2 is None or not cell_area_km2 > 0:
            raise ModelError(
                f"unit_area_km2={self.unit_area_km2} needs the grid's cell area: call "
                "fit(X, y, cell_area_km2=...) (CellTable.cell_area_km2), or set "
                "unit_area_km2=None to count grid cells"
            )
        return float(cell_area_km2) / float(self.unit_area_km2)

    def _kind_of(self, name: str, column: pd.Series) -> str:
        declared = (self.kinds or {}).get(name)
        if declared is not None:
            if declared != "categorical" and is_categorical(column):
                raise ModelError(
                    f"layer {name!r} holds labels ({column.dtype}) but is declared {declared!r}; "
                    "declare it 'categorical' or give numbers"
                )
            return declared
        if is_categorical(column):
            return "categorical"
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        values = values[~np.isnan(values)]
        if values.size and np.isin(values, (0.0, 1.0)).all():
            return "binary"
        return "continuous"

    # -- fitting -------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        sample_weight: Any = None,
        cell_area_km2: float | None = None,
    ) -> WeightsOfEvidence:
        """Estimate the weights of every layer and test conditional independence.

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells, one column per evidence layer (NaN = no data).
        y : array-like
            1 where the cell holds a training occurrence (counts above 1 count once).
        sample_weight : array-like, optional
            Cells each row stands for (when negatives were sampled); 1 by default.
        cell_area_km2 : float, optional
            Area of one grid cell; needed with ``unit_area_km2``.

        Returns
        -------
        WeightsOfEvidence
            ``self``, fitted.
        """
        X = check_table(X)
        self._check_params(X)
        labels = check_labels(y, len(X))
        weights = check_sample_weight(sample_weight, len(X))
        check_two_classes(labels, weights)
        units = self._units_per_row(cell_area_km2)
        area = weights * units
        deposits = weights * labels
        total_area, total_deposits = float(area.sum()), float(deposits.sum())
        if total_area - total_deposits <= 0:
            raise ModelError(
                f"{total_deposits:g} training cells in a study area of {total_area:g} unit cells "
                "leaves no unit without an occurrence; use a smaller unit_area_km2"
            )
        layers: dict[str, _Layer] = {}
        curves: dict[str, pd.DataFrame] = {}
        dropped: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        for name in X.columns:
            column = X[name]
            kind = self._kind_of(name, column)
            fitted = self._fit_layer(name, kind, column, area, deposits, dropped, curves)
            if fitted is None:
                continue
            layer, stats = fitted
            layers[name] = layer
            rows += self._weight_rows(layer, stats, column, weights, area, deposits, cell_area_km2)
        if not layers:
            raise ModelError(
                f"no usable evidence layer: {dropped}; check the evidence stack and the "
                "training occurrences"
            )
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.classes_ = np.array([0, 1])
        self.layers_ = layers
        self.contrast_curves_ = curves
        self.dropped_layers_ = dropped
        self.weights_ = pd.DataFrame(rows)
        self.n_deposits_ = total_deposits
        self.study_area_units_ = total_area
        self.prior_probability_ = total_deposits / total_area
        self.prior_logit_ = math.log(total_deposits / (total_area - total_deposits))
        self.prior_logit_variance_ = 1.0 / total_deposits + 1.0 / (total_area - total_deposits)
        self.cell_area_km2_ = cell_area_km2
        self.hybrid_ = None
        codes = {name: layer.codes(X[name], fitting=True) for name, layer in layers.items()}
        for name in self._duplicated_layers(codes, area):
            del layers[name], codes[name]
        self.weights_ = self.weights_[self.weights_["layer"].isin(list(layers))].reset_index(
            drop=True
        )
        self._check_independence(codes, area, deposits, (labels, weights))
        return self

    def _fit_layer(
        self,
        name: str,
        kind: str,
        column: pd.Series,
        area: np.ndarray,
        deposits: np.ndarray,
        dropped: dict[str, str],
        curves: dict[str, pd.DataFrame],
    ) -> tuple[_Layer, dict[str, np.ndarray]] | None:
        present = column.notna().to_numpy()

        def drop(reason: str) -> None:
            dropped[name] = reason
            warn(f"evidence layer {name!r} is left out: {reason}", DegenerateEvidenceWarning)

        if not present.any():
            drop("it has no data in the study area")
            return None
        a, d = area[present], deposits[present]
        if d.sum() <= 0:
            drop("no training cell lies where it has data")
            return None
        if kind == "continuous":
            return self._fit_continuous(name, column, present, a, d, drop, curves)
        if kind == "binary":
            classes = np.array([0.0, 1.0])
            values = column.to_numpy(dtype="float64", na_value=np.nan)[present]
            bad = (values != 0) & (values != 1)
            if bad.any():
                raise ModelError(
                    f"binary layer {name!r} has values other than 0/1 "
                    f"(e.g. {values[bad][:3].tolist()}); declare it continuous or threshold it"
                )
            codes = values.astype(np.int64)
        else:
            values_obj = column[present].astype("object")
            classes = np.asarray(pd.unique(values_obj), dtype=object)
            try:
                classes = np.asarray(sorted(classes), dtype=object)
            except TypeError:
                classes = np.asarray(sorted(classes, key=str), dtype=object)
            codes = _class_codes(values_obj, classes)
        class_area = _weighted_count(codes, a, classes.size)
        class_dep = _weighted_count(codes, d, classes.size)
        if (class_area > 0).sum() < 2:
            drop(f"it has one class only ({classes[class_area > 0].tolist()}) where it has data")
            return None
        if kind == "binary":
            n11, n10, n01, n00 = _tables(class_dep[1:], class_area[1:], d.sum(), a.sum())
        else:
            n11, n10, n01, n00 = _tables(class_dep, class_area, d.sum(), a.sum())
        stats, degenerate = self._stats(name, kind, classes, n11, n10, n01, n00)
        if kind == "binary":
            w = np.array([stats["w_minus"][0], stats["w_plus"][0]])
            var = np.array([stats["s_w_minus"][0] ** 2, stats["s_w_plus"][0] ** 2])
            stats = {k: np.repeat(v, 2) for k, v in stats.items()}
            stats["smoothed"] = np.repeat(degenerate, 2)
            stats["merged"] = np.zeros(2, dtype=bool)
        else:
            w, var = stats["w_plus"].copy(), stats["s_w_plus"] ** 2
            stats["smoothed"] = degenerate
            stats["merged"] = np.zeros(classes.size, dtype=bool)
            if self.merge_min_studentized is not None:
                w, var, stats["merged"] = self._merge_weak(
                    name, stats, w, var, class_dep, class_area, d.sum(), a.sum()
                )
        w, stats["capped"] = _cap_empty(w, class_dep)
        layer = _Layer(name, kind, classes, w, var, class_area / class_area.sum())
        return layer, stats

    def _merge_weak(
        self,
        name: str,
        stats: dict[str, np.ndarray],
        w: np.ndarray,
        var: np.ndarray,
        class_dep: np.ndarray,
        class_area: np.ndarray,
        total_dep: float,
        total_area: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Merge the classes whose |studentized contrast| is below the threshold into one.

        The merged class gets the weight of its pooled contingency table (every member the
        same weight); with fewer than two weak classes nothing changes.
        """
        stud = np.abs(stats["studentized_contrast"])
        bound = float(self.merge_min_studentized or 0.0)
        weak = ~(stud >= bound)  # NaN counts as weak
        if weak.sum() < 2 or weak.all():
            return w, var, np.zeros(w.size, dtype=bool)
        n11, n10, n01, n00 = _tables(
            np.array([class_dep[weak].sum()]),
            np.array([class_area[weak].sum()]),
            np.array([total_dep]),
            np.array([total_area]),
        )
        a, b, c, d = (np.clip(t, 0.0, None) for t in (n11, n10, n01, n00))
        pooled, _ = _contrast(a, b, c, d, float(self.smoothing))
        w = np.where(weak, pooled["w_plus"][0], w)
        var = np.where(weak, pooled["s_w_plus"][0] ** 2, var)
        return w, var, weak

    def _stats(
        self,
        name: str,
        kind: str,
        classes: np.ndarray,
        n11: np.ndarray,
        n10: np.ndarray,
        n01: np.ndarray,
        n00: np.ndarray,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        tables = [np.clip(np.atleast_1d(t), 0.0, None) for t in (n11, n10, n01, n00)]
        stats, degenerate = _contrast(
            tables[0], tables[1], tables[2], tables[3], float(self.smoothing)
        )
        if degenerate.any():
            which = classes[degenerate].tolist() if kind == "categorical" else ["pattern"]
            first = np.flatnonzero(degenerate)[0]
            table = ", ".join(f"{t[first]:g}" for t in tables)
            if self.smoothing <= 0:
                raise ModelError(
                    f"layer {name!r}: class(es) {which[:5]} give a contingency table with a zero "
                    "count (e.g. no training cell in the class); set smoothing > 0 or merge "
                    "the class into a neighbour"
                )
            warn(
                f"layer {name!r}: class(es) {which[:5]}{' ...' if len(which) > 5 else ''} have a "
                f"contingency table with a zero count (N(B∩D), N(B∩~D), N(~B∩D), N(~B∩~D) = "
                f"{table}); added {self.smoothing} to each count (Haldane–Anscombe correction)",
                DegenerateEvidenceWarning,
            )
        return stats, degenerate

    def _fit_continuous(
        self,
        name: str,
        column: pd.Series,
        present: np.ndarray,
        a: np.ndarray,
        d: np.ndarray,
        drop: Any,
        curves: dict[str, pd.DataFrame],
    ) -> tuple[_Layer, dict[str, np.ndarray]] | None:
        values = column.to_numpy(dtype="float64", na_value=np.nan)[present]
        if values.min() == values.max():
            drop(f"it has one value only ({values[0]:g}) where it has data")
            return None
        n_thr = None if self.n_thresholds is None else int(self.n_thresholds)
        candidates = _candidate_thresholds(values, n_thr)
        direction = (self.directions or {}).get(name, self.default_direction)
        directions = ["ascending", "descending"] if direction == "auto" else [direction]
        cutoff = (self.cutoffs or {}).get(name)
        if cutoff is not None:
            candidates = np.array([float(cutoff)])
        bins = _bins(values, candidates)
        curve = pd.concat(
            [_threshold_curve(values, a, d, di, candidates, 0.0, bins) for di in directions],
            ignore_index=True,
        )
        usable = curve["studentized_contrast"].notna()
        smoothed = False
        if not usable.any():
            if self.smoothing <= 0:
                raise ModelError(
                    f"layer {name!r}: every candidate threshold leaves a zero count in its "
                    "contingency table; set smoothing > 0 or use fewer, coarser thresholds"
                )
            curve = pd.concat(
                [
                    _threshold_curve(values, a, d, di, candidates, float(self.smoothing), bins)
                    for di in directions
                ],
                ignore_index=True,
            )
            usable = (curve["pattern_area"] > 0) & (curve["pattern_area"] < a.sum())
            smoothed = True
            if not usable.any():
                drop("no threshold splits the cells where it has data")
                return None
            warn(
                f"layer {name!r}: every candidate threshold leaves a zero count; the threshold "
                f"was chosen on smoothed counts (+{self.smoothing} each)",
                DegenerateEvidenceWarning,
            )
        studentized = curve["studentized_contrast"].to_numpy(dtype="float64")
        contrast = curve["contrast"].to_numpy(dtype="float64")
        candidates_idx = np.flatnonzero(usable.to_numpy())
        best = int(candidates_idx[np.argmax(studentized[candidates_idx])])
        if cutoff is not None:  # manual: the direction in which the cutoff is favourable
            best = int(candidates_idx[np.argmax(contrast[candidates_idx])])
        elif self.generalization == "max_contrast":
            feasible = candidates_idx[studentized[candidates_idx] >= self.min_studentized_contrast]
            if feasible.size:
                best = int(feasible[np.argmax(contrast[feasible])])
            else:
                warn(
                    f"layer {name!r}: no threshold reaches a studentized contrast of "
                    f"{self.min_studentized_contrast:g}; the maximum studentized contrast is used",
                    DegenerateEvidenceWarning,
                )
        if cutoff is None and curve["contrast"].iloc[best] <= 0:
            # only with a forced direction: keep the most significant (unfavourable) split
            best = int(candidates_idx[np.argmax(np.abs(studentized[candidates_idx]))])
            warn(
                f"layer {name!r}: the {direction} pattern is unfavourable at every threshold "
                "(contrast < 0); check the direction set for this layer",
                DegenerateEvidenceWarning,
            )
        chosen = curve.iloc[best]
        curves[name] = _thin_curve(curve, best)
        layer_dir = str(chosen["direction"])
        threshold = float(chosen["threshold"])
        in_pattern = values <= threshold if layer_dir == "ascending" else values >= threshold
        codes = in_pattern.astype(np.int64)
        class_area = _weighted_count(codes, a, 2)
        class_dep = _weighted_count(codes, d, 2)
        n11, n10, n01, n00 = _tables(class_dep[1:], class_area[1:], d.sum(), a.sum())
        stats, degenerate = self._stats(name, "continuous", np.array([1]), n11, n10, n01, n00)
        w = np.array([stats["w_minus"][0], stats["w_plus"][0]])
        var = np.array([stats["s_w_minus"][0] ** 2, stats["s_w_plus"][0] ** 2])
        stats = {k: np.repeat(v, 2) for k, v in stats.items()}
        stats["smoothed"] = np.repeat(degenerate | smoothed, 2)
        w, stats["capped"] = _cap_empty(w, class_dep)
        stats["merged"] = np.zeros(2, dtype=bool)
        layer = _Layer(
            name,
            "continuous",
            np.array([0.0, 1.0]),
            w,
            var,
            class_area / class_area.sum(),
            threshold=threshold,
            direction=layer_dir,
        )
        return layer, stats

    def _weight_rows(
        self,
        layer: _Layer,
        stats: dict[str, np.ndarray],
        column: pd.Series,
        weights: np.ndarray,
        area: np.ndarray,
        deposits: np.ndarray,
        cell_area_km2: float | None,
    ) -> list[dict[str, Any]]:
        codes = layer.codes(column, fitting=True)
        n = layer.classes.size
        cells = _weighted_count(codes, weights, n)
        units = _weighted_count(codes, area, n)
        deps = _weighted_count(codes, deposits, n)
        missing = codes < 0
        rows = []
        for k in range(n):
            row: dict[str, Any] = {
                "layer": layer.name,
                "kind": layer.kind,
                "class": str(layer.classes[k]) if layer.kind == "categorical" else str(k),
                "rule": layer.rule(k),
                "area_cells": float(cells[k]),
                "area_units": float(units[k]),
                "area_km2": float(cells[k] * cell_area_km2) if cell_area_km2 else np.nan,
                "deposits": float(deps[k]),
                "weight": float(layer.weights[k]),
                "weight_std": float(math.sqrt(layer.variances[k])),
            }
            row.update({c: stats[c][k] for c in _STAT_COLUMNS})
            for flag in _FLAG_COLUMNS:
                row[flag] = bool(row[flag])
            if row["merged"]:
                row["rule"] += " (merged: weak classes pooled)"
            rows.append(row)
        rows.append(
            {
                "layer": layer.name,
                "kind": layer.kind,
                "class": "(no data)",
                "rule": "missing",
                "area_cells": float(weights[missing].sum()),
                "area_units": float(area[missing].sum()),
                "area_km2": float(weights[missing].sum() * cell_area_km2)
                if cell_area_km2
                else np.nan,
                "deposits": float(deposits[missing].sum()),
                "weight": 0.0,
                "weight_std": 0.0,
                **{c: np.nan for c in _STAT_COLUMNS if c not in _FLAG_COLUMNS},
                **dict.fromkeys(_FLAG_COLUMNS, False),
            }
        )
        return rows

    # -- prediction ----------------------------------------------------------------------

    def _logit(
        self, codes: Mapping[str, np.ndarray], *, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        hybrid = getattr(self, "hybrid_", None)  # None before fit and without the remedy
        if hybrid is not None:
            return hybrid.logit(codes, with_var=with_var)
        n = next(iter(codes.values())).size
        logit = np.full(n, self.prior_logit_)
        var_logit = np.full(n if with_var else 0, self.prior_logit_variance_)
        for name, layer in self.layers_.items():
            c = codes[name]  # -1 (missing) picks the appended 0: weight 0, no variance
            logit += np.append(layer.weights, 0.0)[c]
            if with_var:
                var_logit += np.append(layer.variances, 0.0)[c]
        return logit, var_logit

    def _posterior(
        self, codes: Mapping[str, np.ndarray], *, with_std: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        logit, var_logit = self._logit(codes, with_var=with_std)
        p = expit(logit)
        if not with_std:
            return p, None
        variance = (p * (1.0 - p)) ** 2 * var_logit
        hybrid = getattr(self, "hybrid_", None)
        for name, layer in self.layers_.items():
            missing = codes[name] < 0
            if not missing.any():
                continue
            effects, neutral = layer.weights, 0.0
            if hybrid is not None:
                effects = hybrid.effects(name, layer.classes.size)
                neutral = hybrid.missing_effect(name)
            base = logit[missing] - neutral
            p0 = p[missing]
            extra = np.zeros(base.size)
            for k in range(layer.classes.size):
                extra += layer.area_fraction[k] * (expit(base + effects[k]) - p0) ** 2
            variance[missing] += extra
        return p, np.sqrt(variance)

    def _predict(self, X: Any, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        X = check_table(X, feature_names=list(self.feature_names_in_))
        codes = {name: layer.codes(X[name]) for name, layer in self.layers_.items()}
        return self._posterior(codes, with_std=with_std)

    def _decision_threshold(self) -> float:
        return float(self.prior_probability_)

    def log_odds(self, X: Any) -> np.ndarray:
        """Posterior logit (prior log odds plus the weights), the additive WofE score.

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells.

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        X = check_table(X, feature_names=list(self.feature_names_in_))
        codes = {name: layer.codes(X[name]) for name, layer in self.layers_.items()}
        return self._logit(codes, with_var=False)[0]
