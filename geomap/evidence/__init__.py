"""Evidence layers: pure functions ``(inputs, grid, *, params) -> DataArray`` on the grid.

Every function returns a float32 ``DataArray`` on the analysis grid (NaN = no
data) with its provenance in ``attrs``: ``geomap_role`` (``"evidence"``),
``geomap_kind`` (``"continuous"``, ``"binary"`` or ``"categorical"``),
``geomap_function``, ``geomap_params`` (JSON), ``geomap_source`` (dataset ids),
``long_name`` and ``units``.  Vector-based functions take ``chunks=`` to build a
Dask-backed layer block by block; raster-based ones keep Dask inputs Dask-backed.
NumPy and Dask give the same values.

Families: distances (:func:`distance_to`, :func:`distance_to_cells`), densities
(:func:`point_density`), classes (:func:`class_layer`, :func:`one_hot`,
:func:`class_scores`), continuous grids (:func:`continuous`, :func:`geochem_surface`),
geochemical anomalies (:func:`geochem_anomaly`: compositional scores and a
stream-sediment support model),
derived layers
(:func:`gravity_disturbance`, :func:`horizontal_gradient`, :func:`tilt_derivative`,
:func:`slope`, :func:`relief`), transforms (:func:`fuzzy`, :func:`zscore`,
:func:`percentile_rank`, :func:`log_transform`, :func:`threshold`) and the data
coverage layer (:func:`coverage`).
"""

from __future__ import annotations

from geomap.evidence.categorical import class_labels, class_layer, class_scores, one_hot
from geomap.evidence.continuous import continuous, geochem_surface, sample_values
from geomap.evidence.coverage import coverage, has_data
from geomap.evidence.density import KERNELS, density_kernel, point_density
from geomap.evidence.derived import (
    coarse_grid,
    gravity_disturbance,
    horizontal_gradient,
    normal_gravity,
    relief,
    slope,
    tilt_derivative,
    vertical_derivative,
)
from geomap.evidence.distance import distance_to, distance_to_cells
from geomap.evidence.geochem import geochem_anomaly, sample_scores
from geomap.evidence.transforms import (
    FUZZY_FUNCTIONS,
    fuzzy,
    fuzzy_gaussian,
    fuzzy_large,
    fuzzy_linear,
    fuzzy_near,
    fuzzy_small,
    log_transform,
    percentile_rank,
    threshold,
    zscore,
)

__all__ = [
    "FUZZY_FUNCTIONS",
    "KERNELS",
    "class_labels",
    "class_layer",
    "class_scores",
    "coarse_grid",
    "continuous",
    "coverage",
    "density_kernel",
    "distance_to",
    "distance_to_cells",
    "fuzzy",
    "fuzzy_gaussian",
    "fuzzy_large",
    "fuzzy_linear",
    "fuzzy_near",
    "fuzzy_small",
    "geochem_anomaly",
    "geochem_surface",
    "gravity_disturbance",
    "has_data",
    "horizontal_gradient",
    "log_transform",
    "normal_gravity",
    "one_hot",
    "percentile_rank",
    "point_density",
    "relief",
    "sample_scores",
    "sample_values",
    "slope",
    "threshold",
    "tilt_derivative",
    "vertical_derivative",
    "zscore",
]
