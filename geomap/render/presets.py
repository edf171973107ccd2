"""One-call maps: :func:`prospectivity_map` (one region) and :func:`joint_map` (several)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from geomap.errors import DataError
from geomap.render._layers import MapPanel, _evidence_name, _named
from geomap.render.maps import MapBuilder

__all__ = ["joint_map", "prospectivity_map"]


def _fill(builder: MapBuilder, panel: MapPanel, *, prefixed: bool) -> None:
    if prefixed:
        builder.add_panel(panel)
        return
    if panel.region is not None:
        builder.add_region(panel.region)
    for kind in ("prospectivity", "uncertainty", "coverage"):
        data = getattr(panel, kind)
        if data is not None:
            builder.add_raster(data, name=kind.capitalize(), kind=kind)
    if panel.targets is not None:
        builder.add_targets(panel.targets)
    if panel.geology is not None:
        builder.add_geology(panel.geology)
    if panel.faults is not None:
        builder.add_faults(panel.faults)
    for name, frame in _named(panel.boundaries, "Boundaries"):
        builder.add_boundaries(frame, name=name)
    if panel.occurrences is not None:
        builder.add_occurrences(panel.occurrences)


def prospectivity_map(
    prospectivity: Any = None,
    *,
    uncertainty: Any = None,
    coverage: Any = None,
    evidence: Mapping[str, Any] | None = None,
    occurrences: Any = None,
    faults: Any = None,
    geology: Any = None,
    boundaries: Any = None,
    targets: Any = None,
    region: Any = None,
    datasets: Iterable[str] = (),
    title: str = "Mineral prospectivity",
    subtitle: str | None = None,
    path: str | os.PathLike[str] | None = None,
    training_sites: Any = None,
    **options: Any,
) -> Any:
    """Build (and optionally save) the interactive map of one region's results.

    Parameters
    ----------
    prospectivity, uncertainty, coverage : DataArray, optional
        Model rasters in the region's analysis CRS.
    evidence : mapping of str to DataArray, optional
        Evidence layers (hidden on opening).
    occurrences, faults, geology, targets : GeoDataFrame, optional
        Vector layers with a CRS.
    boundaries : GeoDataFrame or mapping of name to GeoDataFrame, optional
        Extra boundary layers.
    region : Region or str, optional
        Catalog region (or id): outline, view and basemap extent.
    datasets : iterable of str
        Catalog ids to credit besides those the layers name.
    title, subtitle : str
        Shown at the top.
    path : path-like, optional
        Save the map here (offline HTML, tiles beside it when needed).
    training_sites : GeoDataFrame, optional
        The training audit (:func:`geomap.training.training_audit`): every site the recipe
        considered, each popup saying whether it trained the model and why; hidden on opening.
        When ``occurrences`` carry the ``training`` flag, they ring the training sites (shown
        on opening, with the audit's reason in the popups) and this layer draws no rings of
        its own; otherwise this layer rings them.
    **options
        :class:`MapBuilder` options (``basemap``, ``online_basemaps``, ``max_embed_pixels``,
        ``catalog``...).

    Returns
    -------
    folium.Map
    """
    audited = training_sites is not None and len(training_sites) > 0
    if audited and "training" in getattr(occurrences, "columns", ()):
        # the flagged occurrences ring the sites that trained the model, shown on opening,
        # each popup with the audit's reason; the audit layer lists every site considered
        # (kept or dropped, and why) without a second set of the same rings
        occurrences = _with_audit_reasons(occurrences, training_sites)
        training_sites = training_sites.drop(columns="training")
    builder = MapBuilder(title=title, subtitle=subtitle, **options)
    builder.add_datasets(datasets)
    _fill(
        builder,
        MapPanel(
            label=title,
            region=region,
            prospectivity=prospectivity,
            uncertainty=uncertainty,
            coverage=coverage,
            occurrences=occurrences,
            faults=faults,
            geology=geology,
            boundaries=boundaries,
            targets=targets,
        ),
        prefixed=False,
    )
    for name, data in (evidence or {}).items():
        builder.add_raster(data, name=_evidence_name(name, data), kind="evidence")
    if audited:
        builder.add_occurrences(training_sites, name="Training sites", show=False)
    if path is not None:
        return builder.save(path)
    return builder.to_map()


def joint_map(
    panels: Sequence[MapPanel],
    *,
    title: str = "Joint survey planning",
    subtitle: str | None = None,
    datasets: Iterable[str] = (),
    summary: Any = None,
    path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Any:
    """One map showing several regions' results together (e.g. the US and Japan).

    Each panel's rasters stay in their own analysis CRS until drawn; layers are grouped
    per region in the layer control, and buttons zoom to each region.

    Parameters
    ----------
    panels : sequence of MapPanel
        One per region.
    title, subtitle : str
        Shown at the top.
    datasets : iterable of str
        Extra catalog ids to credit.
    summary : DataFrame, optional
        A summary table (e.g. targets of both countries) shown in a panel.
    path : path-like, optional
        Save the map here.
    **options
        :class:`MapBuilder` options.

    Returns
    -------
    folium.Map
    """
    if not panels:
        raise DataError("joint_map needs at least one MapPanel")
    labels = [p.label for p in panels]
    if len(set(labels)) != len(labels):
        raise DataError(f"panel labels {labels} must be distinct")
    builder = MapBuilder(title=title, subtitle=subtitle, **options)
    builder.add_datasets(datasets)
    for panel in panels:
        _fill(builder, panel, prefixed=True)
    if summary is not None:
        builder.add_table(summary, title="Summary")
    if path is not None:
        return builder.save(path)
    return builder.to_map()


def _with_audit_reasons(occurrences: Any, audit: Any) -> Any:
    """Return the occurrences with the audit's ``reason`` of each site considered (by site)."""
    if "reason" in occurrences.columns or not {"site_id", "reason"} <= set(audit.columns):
        return occurrences
    reasons = dict(zip(audit["site_id"].astype(str), audit["reason"], strict=True))
    found = occurrences["site_id"].astype(str).map(reasons)
    return occurrences.assign(reason=found.astype(object).where(found.notna(), None))
