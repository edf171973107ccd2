"""One set of build settings with one set of defaults, shared by every driver and the CLI.

:func:`~geomap.pipeline.build`, ``run_stages``, the model stage
(:func:`~geomap.pipeline.model_region`) and the command line all take a
:class:`BuildSettings`.

:class:`BuildSettings` holds every option of a run besides the recipe itself and where the
files go: the region, the grid, the model, validation, targets, Dask and the cache.  The
drivers take a ``settings`` object and/or the same names as keyword options::

    build("kuroko-vms", region="japan", resolution_m=20_000)
    build("kuroko-vms", BuildSettings(region="japan", resolution_m=20_000))

A new option is one new field here (and, for the CLI, one entry in :mod:`geomap.cli.options`).

Examples
--------
>>> settings = BuildSettings.from_options(region="japan", resolution_m=20_000)
>>> settings.resolution_m, settings.n_splits
(20000.0, 5)
>>> settings.target_rule()
(2.0, None)
>>> BuildSettings.from_options(resolution=5000)
Traceback (most recent call last):
...
geomap.errors.ParameterError: unknown build option 'resolution' (did you mean 'resolution_m'?); ...
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geomap.errors import ParameterError

__all__ = ["DEFAULT_TOP_PERCENT", "MODES", "BuildSettings", "default_resolution", "parse_chunks"]

DEFAULT_TOP_PERCENT = 2.0
"""Targets are the top 2 % of the area with data unless a percentage or threshold is given."""

MODES = ("greenfield", "brownfield")
"""Exploration modes: evidence layers only, or also distance to the known occurrences."""
_TARGET_CELLS = 150_000.0


def default_resolution(region: Any) -> float:
    """Pick a cell size giving about 150,000 cells over the region (1, 2, 2.5 or 5 x 10^k m).

    Conterminous US -> 10 km, Japan -> 5 km: a build that runs in minutes on a laptop;
    pass ``resolution_m`` for finer grids.

    Parameters
    ----------
    region : Region or str
        A catalog region (or its id).

    Returns
    -------
    float
        Cell size in metres.

    Examples
    --------
    >>> default_resolution("conus"), default_resolution("japan")
    (10000.0, 5000.0)
    """
    from geomap.grid import region_grid

    probe = region_grid(region, 100_000.0)
    ny, nx = probe.shape
    area = ny * nx * 1e10
    raw = math.sqrt(area / _TARGET_CELLS)
    exponent = math.floor(math.log10(raw))
    candidates = [m * 10**exponent for m in (1, 2, 2.5, 5, 10)]
    return float(min(candidates, key=lambda c: abs(math.log(c / raw))))


def parse_chunks(value: Any, option: str = "--chunks") -> Any:
    """Return Dask chunks from an option value: ``None``, ``"auto"``, cells or ``(ny, nx)``.

    Strings (from the command line) are ``"auto"`` or a positive whole number of cells.

    Raises
    ------
    ParameterError
        Anything else, naming the value and what to pass instead.

    Examples
    --------
    >>> parse_chunks("auto"), parse_chunks("512"), parse_chunks(None)
    ('auto', 512, None)
    """
    if value is None or value == "auto":
        return value
    if isinstance(value, tuple | list) and len(value) == 2:
        return tuple(parse_chunks(v, option) for v in value)
    cells = 0
    if isinstance(value, int) and not isinstance(value, bool):
        cells = value
    elif isinstance(value, str):
        try:
            cells = int(value)
        except ValueError:
            cells = 0
    if cells <= 0:
        raise ParameterError(f"{option} {value!r}: use 'auto' or a positive whole number of cells")
    return cells


@dataclass(frozen=True, kw_only=True)
class BuildSettings:
    """Every option of a run besides the recipe and the output folder, with its default.

    Attributes
    ----------
    region : str, optional
        A region the recipe supports (default: its first).
    resolution_m : float, optional
        Cell size in metres (default: about 150,000 cells over the region,
        :func:`default_resolution`: 10 km for the conterminous US, 5 km for Japan).
    model : str, optional
        ``wofe``, ``fuzzy``, ``weighted``, ``logistic``, ``rf`` or ``gbm`` (default: the
        recipe's model).
    params : dict, optional
        Model parameters (default: the recipe's, for its own model).
    n_splits : int, default 5
        Spatial cross-validation folds.
    block_size_m : float, optional
        Spatial-CV block side (default: :func:`geomap.pipeline.model_stage.default_block_size`).
    buffer_m : float, default 0
        Spatial-CV dead zone around the test blocks.
    test_regions : tuple of str, default ()
        Regions for region hold-out (same recipe and resolution, layers matched by name).
    normalize : {"none", "zscore", "rank"}, default "none"
        Per-region normalization for region hold-out.
    max_cells : int or None, default 2,000,000
        Fit on all positive cells and a seeded sample of the others above this size (see
        :func:`geomap.models.cell_table`): the table, and the memory of fitting and
        validating, stay bounded whatever the grid size.
    study_area : {"country", "coverage"}, default "country"
        ``"country"``: cells of the region's countries with evidence; ``"coverage"``: every
        cell with evidence (sea inside the bounding box included).
    top_percent : float, optional
        Targets are the top X % of the area with data (default 2 unless ``threshold``
        is given).
    threshold : float, optional
        Targets are instead every cell with prospectivity >= this probability, in (0, 1);
        not together with ``top_percent``.
    min_area_km2 : float, optional
        Drop smaller targets (default: two cells).
    max_target_km2 : float, optional
        Split larger targets into compact survey-sized pieces (default
        :data:`geomap.targets.DEFAULT_MAX_TARGET_KM2`, 300 km²; never below 4 cells).
    max_targets : int, optional
        List the best this many targets (default :data:`geomap.targets.DEFAULT_MAX_TARGETS`,
        100); the report counts the rest.
    stability : bool, default True
        Rebuild the model at twice the cell size and report which leading targets persist.
    mode : {"greenfield", "brownfield"}, optional
        ``"brownfield"`` adds the known-occurrence proximity evidence layer (distance to the
        nearest training site, recomputed inside every validation fold from that fold's
        training sites only); ``"greenfield"`` uses the recipe's evidence layers alone.
        Default: the recipe's ``model.mode``, else greenfield.
    chunks : None, "auto", int or (int, int)
        Build evidence, predict, select targets and write rasters on Dask chunks of this size
        (``"auto"``: 2048 x 2048 cells): memory is bounded by the chunk size, not the grid.
    scheduler : str, optional
        ``"local"``, ``"local:N"`` (a LocalCluster of N worker processes) or a Dask scheduler
        address; the threaded scheduler when not given.  Implies ``chunks="auto"``.
    random_state : int, default 0
        Seed of every random choice (background sample, CV folds, models).
    use_cache : bool, default True
        Reuse cached intermediate products.
    cache_dir : path-like, optional
        Product cache (default ``$GEOMAP_CACHE_DIR/products``).
    """

    region: str | None = None
    resolution_m: float | None = None
    model: str | None = None
    params: dict[str, Any] | None = None
    n_splits: int = 5
    block_size_m: float | None = None
    buffer_m: float = 0.0
    test_regions: tuple[str, ...] = ()
    normalize: str = "none"
    max_cells: int | None = 2_000_000
    study_area: str = "country"
    top_percent: float | None = None
    threshold: float | None = None
    min_area_km2: float | None = None
    max_target_km2: float | None = None
    max_targets: int | None = None
    stability: bool = True
    mode: str | None = None
    chunks: Any = None
    scheduler: str | None = None
    random_state: int = 0
    use_cache: bool = True
    cache_dir: str | Path | None = None

    def __post_init__(self) -> None:
        if self.resolution_m is not None:
            resolution = float(self.resolution_m)
            if not resolution > 0 or not math.isfinite(resolution):
                raise ParameterError(
                    f"resolution {self.resolution_m!r} must be a positive number of metres"
                )
            object.__setattr__(self, "resolution_m", resolution)
        if self.max_target_km2 is not None:
            area = float(self.max_target_km2)
            if not area > 0 or not math.isfinite(area):
                raise ParameterError(
                    f"--max-target-km2 {self.max_target_km2!r} must be a positive area (km²), "
                    "e.g. 300"
                )
            object.__setattr__(self, "max_target_km2", area)
        if self.max_targets is not None and (
            isinstance(self.max_targets, bool)
            or not isinstance(self.max_targets, int)
            or self.max_targets < 1
        ):
            raise ParameterError(
                f"--max-targets {self.max_targets!r} must be a whole number of targets >= 1, "
                "e.g. 100"
            )
        if self.mode is not None and self.mode not in MODES:
            raise ParameterError(
                f"--mode {self.mode!r}: choose greenfield (evidence layers only) or brownfield "
                "(adds distance to the known occurrences, fold-aware in validation)"
            )
        object.__setattr__(self, "chunks", parse_chunks(self.chunks))
        object.__setattr__(self, "test_regions", tuple(self.test_regions or ()))

    @classmethod
    def names(cls) -> list[str]:
        """Return the option names, in order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_options(
        cls, settings: BuildSettings | None = None, /, **options: Any
    ) -> BuildSettings:
        """Return ``settings`` (default: all defaults) with ``options`` replacing fields.

        Raises
        ------
        ParameterError
            An option is not a field (the message names the closest field and all of them),
            or a value is out of range.
        """
        base = settings if settings is not None else cls()
        if not isinstance(base, BuildSettings):
            raise ParameterError(
                f"settings {base!r} is not a BuildSettings; pass BuildSettings(...) or keyword "
                "options"
            )
        names = cls.names()
        unknown = [name for name in options if name not in names]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(
                f"unknown build option {unknown[0]!r}{hint}; the options are {', '.join(names)}"
            )
        return dataclasses.replace(base, **options) if options else base

    def target_rule(self) -> tuple[float | None, float | None]:
        """Check the target selection; return ``(top_percent, threshold)``, one of them None.

        Raises
        ------
        ParameterError
            Both given, or either out of range.
        """
        top_percent, threshold = self.top_percent, self.threshold
        if threshold is None:
            top = DEFAULT_TOP_PERCENT if top_percent is None else top_percent
            if not 0 < top <= 100:
                raise ParameterError(
                    f"--top-percent {top:g} must lie in (0, 100]; e.g. --top-percent 2 selects "
                    "the most prospective 2 % of the area"
                )
            return top, None
        if top_percent is not None:
            raise ParameterError(
                f"both --top-percent {top_percent:g} and --threshold {threshold:g} given; pass "
                "only one: --top-percent X (the top X % of the area) or --threshold P (every "
                "cell with prospectivity >= P)"
            )
        if not 0 < threshold < 1:
            raise ParameterError(
                f"--threshold {threshold:g} is not a probability in (0, 1); pass e.g. "
                "--threshold 0.5, or --top-percent X for the top X % of the area"
            )
        return None, threshold

    def resolution_for(self, region: Any) -> float:
        """Return the cell size in metres: ``resolution_m``, or the region's default."""
        if self.resolution_m is not None:
            return float(self.resolution_m)
        return default_resolution(region)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict (field name -> value)."""
        return {name: getattr(self, name) for name in self.names()}


def settings_from(
    settings: BuildSettings | Mapping[str, Any] | None, options: Mapping[str, Any]
) -> BuildSettings:
    """Return the settings of a driver call: a ``settings`` object and/or keyword options."""
    if isinstance(settings, Mapping):
        return BuildSettings.from_options(None, **{**settings, **options})
    return BuildSettings.from_options(settings, **options)
