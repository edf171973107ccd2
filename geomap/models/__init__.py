"""Prospectivity models on tables of cells, raster helpers and honest validation.

* :mod:`geomap.models.wofe` -- weights of evidence (Bonham-Carter), data-driven Bayesian
  (statistics and fitted layers in ``wofe_stats``, conditional-independence tests and
  remedies in ``wofe_independence``, the logistic/WofE hybrid in ``wofe_hybrid``);
* :mod:`geomap.models.fuzzy` -- fuzzy overlay and weighted index overlay, knowledge-driven;
* :mod:`geomap.models.ml` -- logistic regression, random forest, gradient boosting;
* :mod:`geomap.models.raster` -- evidence stack -> table of cells -> prospectivity rasters
  (grid checks, study area and layer encoding in ``raster_grid``, prediction in
  ``raster_predict``);
* :mod:`geomap.models.baselines` -- the distance baseline, the specificity control and the
  brownfield proximity layer;
* :mod:`geomap.models.validate` -- spatial block CV and region hold-out (the runners);
* :mod:`geomap.models.splitters` -- spatial blocks and the block k-fold splitter;
* :mod:`geomap.models.curves` -- ROC, success-rate, prediction-rate, P–A curves, capture table;
* :mod:`geomap.models.validation_report` -- :class:`ValidationReport`, what a validation returns;
* :mod:`geomap.models.diagnose` -- the reasons behind a weak or degenerate validation result.

Every estimator follows scikit-learn (parameters in ``__init__``, ``fit`` returns ``self``,
fitted attributes end in ``_``) and adds ``predict_std`` (uncertainty, one standard deviation)
to ``predict_proba`` (column 1 is prospectivity).  Names resolve lazily.
"""

from __future__ import annotations

from geomap._lazy import lazy_exports

# public name -> defining module
_LAZY: dict[str, str] = {
    "ConditionalIndependenceWarning": "geomap.models._base",
    "DegenerateEvidenceWarning": "geomap.models._base",
    "ModelWarning": "geomap.models._base",
    "ModelNotFittedError": "geomap.models._base",
    "WeightsOfEvidence": "geomap.models.wofe",
    "contrast_statistics": "geomap.models.wofe",
    "FuzzyOverlay": "geomap.models.fuzzy",
    "WeightedIndexOverlay": "geomap.models.fuzzy",
    "fuzzy_and": "geomap.models.fuzzy",
    "fuzzy_or": "geomap.models.fuzzy",
    "fuzzy_product": "geomap.models.fuzzy",
    "fuzzy_sum": "geomap.models.fuzzy",
    "fuzzy_gamma": "geomap.models.fuzzy",
    "LogisticProspectivity": "geomap.models.ml",
    "RandomForestProspectivity": "geomap.models.ml",
    "GradientBoostingProspectivity": "geomap.models.ml",
    "sample_background": "geomap.models.ml",
    "CellTable": "geomap.models.raster",
    "cell_table": "geomap.models.raster",
    "predict_raster": "geomap.models.raster",
    "make_model": "geomap.models.registry",
    "MODEL_NAMES": "geomap.models.registry",
    "SpatialBlockKFold": "geomap.models.splitters",
    "block_labels": "geomap.models.splitters",
    "ValidationReport": "geomap.models.validation_report",
    "spatial_cross_validate": "geomap.models.validate",
    "region_held_out": "geomap.models.validate",
    "CAPTURE_AREA_PCT": "geomap.models.curves",
    "rate_curve": "geomap.models.curves",
    "roc_table": "geomap.models.curves",
    "capture_table": "geomap.models.curves",
    "prediction_area_curve": "geomap.models.curves",
    "explain_validation": "geomap.models.diagnose",
    "explain_transfer": "geomap.models.diagnose",
    "tied_surface": "geomap.models.diagnose",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
