"""The recipe schema: pydantic models of ``layers/*.yaml`` (sources, layers, training, model)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    pass


MODEL_NAMES = ("wofe", "fuzzy", "weighted", "logistic", "rf", "gbm")
"""Model names a recipe may choose (the models live in :mod:`geomap.models`)."""

_NAME = r"^[a-z][a-z0-9_]*$"
_ID = r"^[a-z0-9][a-z0-9-]*$"

WhereValue = str | int | float | bool | list[str | int | float | bool] | dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """The data an evidence layer reads and how its features are selected."""

    dataset: str | list[str] | None = Field(default=None, description="Catalog dataset id(s)")
    path: str | None = Field(
        default=None,
        description="Instead of a dataset: your own vector or raster file (relative to the recipe)",
    )
    sha256: str | None = Field(
        default=None,
        description="Set by the build: the sha256 of 'path' (recorded in the manifest)",
    )
    layer: str | None = Field(default=None, description="Reader layer, for multi-layer datasets")
    where: dict[str, WhereValue] = Field(
        default_factory=dict,
        description=(
            "Column filters: a value or list of values (case-insensitive for text), "
            "{contains: text}, or {min: x, max: y}"
        ),
    )
    commodities: list[str] | None = Field(
        default=None, description="Occurrences with any of these commodities (codes, names, groups)"
    )
    exclude_commodities: list[str] | None = Field(
        default=None, description="Drop occurrences with any of these commodities"
    )
    deposit_classes: list[str] | None = Field(
        default=None, description="Occurrences of these normalized deposit classes"
    )
    exclude_deposit_classes: list[str] | None = None
    vocabulary: Literal["lithology"] | None = Field(
        default=None, description="Recode a GLiM raster into the shared lithology vocabulary"
    )
    geometry: Literal["as_is", "boundary", "centroid"] = Field(
        default="as_is", description="Use polygon boundaries or feature centroids instead"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Reader options")

    @model_validator(mode="after")
    def _dataset_or_path(self) -> SourceSpec:
        if (self.dataset is None) == (self.path is None):
            raise ValueError(
                "give exactly one of 'dataset' (a catalog id) and 'path' (your own file)"
            )
        return self

    @property
    def datasets(self) -> list[str]:
        """The dataset ids as a list (empty for a user file)."""
        if self.dataset is None:
            return []
        return [self.dataset] if isinstance(self.dataset, str) else list(self.dataset)


class TransformSpec(_Strict):
    """A transform applied to a layer after the evidence function."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)


class LayerSpec(_Strict):
    """One evidence layer (``one_hot`` makes one layer per class).

    ``source`` may be a list of sources in order of preference (``source: [usgs-sgmc,
    {dataset: glim-lithology-0.5deg, vocabulary: lithology}]``): the build uses the first
    one that covers the region and is available (mirrored, or fetched with ``geomap
    fetch``), see :func:`resolve_sources`.  The first is kept in ``source`` and the others
    in ``fallbacks``.
    """

    name: str = Field(pattern=_NAME)
    function: str
    source: SourceSpec
    fallbacks: list[SourceSpec] = Field(
        default_factory=list,
        description="Further sources, in order of preference, when 'source' is unavailable",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    transforms: list[TransformSpec] = Field(default_factory=list)
    regions: list[str] | None = Field(
        default=None, description="Build this layer only for these regions (default: all)"
    )
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _preference_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("source"), list):
            items = [{"dataset": x} if isinstance(x, str) else x for x in data["source"]]
            if not items:
                raise ValueError("source: an empty list; name at least one dataset")
            data = {
                **data,
                "source": items[0],
                "fallbacks": [*items[1:], *data.get("fallbacks", [])],
            }
        return data

    @property
    def sources(self) -> list[SourceSpec]:
        """Every source of the layer, in order of preference."""
        return [self.source, *self.fallbacks]


class TrainingSpec(_Strict):
    """Which occurrences are the known deposits (training and validation points)."""

    datasets: list[str] | None = Field(
        default=None, description="Occurrence datasets (default: every mirrored one)"
    )
    commodities: list[str] | None = None
    exclude_commodities: list[str] | None = None
    deposit_classes: list[str] | None = None
    exclude_deposit_classes: list[str] | None = None
    where: dict[str, WhereValue] = Field(default_factory=dict)
    path: str | None = Field(
        default=None, description="The user's own sites (CSV or point file) instead of datasets"
    )
    crs: str | None = Field(default=None, description="CRS of a sites CSV's coordinates")
    sha256: str | None = Field(default=None, description="Set by the build: sha256 of 'path'")


def _known_model_name(value: str) -> str:
    if value not in MODEL_NAMES:
        raise ValueError(f"unknown model {value!r}; use one of {', '.join(MODEL_NAMES)}")
    return value


class RegionModelSpec(_Strict):
    """A region's own model, replacing the recipe's default there (``model.regions``)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(
        default="",
        description="Why this region differs, and the validation that chose it",
    )

    _known_model = field_validator("name")(_known_model_name)


class ModelSpec(_Strict):
    """The default model: a name from :data:`MODEL_NAMES` and its parameters.

    ``regions`` maps a region id to its own model and parameters (e.g. where the default
    is shared with regions whose evidence differs); :meth:`Recipe.model_for` resolves it.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["greenfield", "brownfield"] = Field(
        default="greenfield",
        description=(
            "greenfield: evidence layers only; brownfield: also the distance to known "
            "occurrences, recomputed inside every validation fold"
        ),
    )
    regions: dict[str, RegionModelSpec] = Field(
        default_factory=dict,
        description="Per region: a model (name, params, reason) replacing the default there",
    )

    _known_model = field_validator("name")(_known_model_name)


class Recipe(_Strict):
    """A validated mineral-system recipe."""

    id: str = Field(pattern=_ID)
    name: str
    mineral_system: str
    commodities: list[str]
    regions: list[str] = Field(min_length=1)
    datasets: list[str] = Field(min_length=1)
    rationale: str
    references: list[str] = Field(min_length=1)
    evidence: list[LayerSpec] = Field(min_length=1)
    training: TrainingSpec
    model: ModelSpec
    end_use: str | None = Field(
        default=None,
        description=(
            "Default end use (geomap/data/geochem_indices.yaml, e.g. magnets): only the "
            "geochemistry layers whose elements it needs are built; 'all' keeps every layer"
        ),
    )
    path: str = Field(default="", description="Where the recipe was loaded from (set on load)")
    source_choices: dict[str, Any] = Field(
        default_factory=dict,
        description="Set by resolve_sources: per layer, the source used and those skipped",
    )

    @model_validator(mode="after")
    def _model_regions_known(self) -> Recipe:
        unknown = sorted(set(self.model.regions) - set(self.regions))
        if unknown:
            raise ValueError(
                f"model.regions names {unknown}, which are not regions of the recipe "
                f"({', '.join(self.regions)}); fix the region ids"
            )
        return self

    def layers_for(self, region: str) -> list[LayerSpec]:
        """Return the evidence layers built for ``region``."""
        return [s for s in self.evidence if s.regions is None or region in s.regions]

    def model_for(self, region: str | None) -> ModelSpec:
        """Return the model used in ``region``: its ``model.regions`` entry, else the default.

        The result carries no ``regions`` of its own; ``mode`` is the recipe's.
        """
        own = self.model.regions.get(region) if region is not None else None
        if own is None:
            return self.model.model_copy(update={"regions": {}})
        return ModelSpec(name=own.name, params=dict(own.params), mode=self.model.mode)

    def __repr__(self) -> str:
        return (
            f"Recipe({self.id!r}: {self.name}; regions {', '.join(self.regions)}; "
            f"{len(self.evidence)} evidence layers; model {self.model.name})"
        )

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td>{escape(s.function)}</td>"
            f"<td>{escape(', '.join(s.source.datasets))}</td><td>{escape(s.description)}</td></tr>"
            for s in self.evidence
        )
        return (
            f"<b>{escape(self.name)}</b> (<code>{escape(self.id)}</code>): commodities "
            f"{escape(', '.join(self.commodities))}; regions {escape(', '.join(self.regions))}; "
            f"model <code>{escape(self.model.name)}</code>"
            "<table><tr><th>layer</th><th>function</th><th>data</th><th>description</th></tr>"
            f"{rows}</table>"
        )
