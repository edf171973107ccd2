"""Interactive prospectivity maps that work offline (folium + branca).

Build a map with :class:`MapBuilder` (or the one-call :func:`prospectivity_map` and
:func:`joint_map`), show it in Jupyter as a :class:`folium.Map`, and save it with
:meth:`MapBuilder.save` / :func:`save_map`: the saved HTML embeds Leaflet, its plugins, the
rasters (as images, or a tile folder beside the page when a raster is too large) and a light
vector basemap, so it opens with no network.  Online basemaps (OpenStreetMap, USGS, GSI) are
optional layers.  Every dataset used is credited in the map's *Sources and licences* panel.

Examples
--------
>>> import numpy as np, rioxarray, xarray as xr
>>> da = xr.DataArray(np.random.default_rng(0).random((20, 30)).astype("float32"),
...                   dims=("y", "x"),
...                   coords={"y": 4.0e6 - 5e3 * np.arange(20), "x": 5e3 * np.arange(30)})
>>> da = da.rio.write_crs("EPSG:5070")
>>> builder = MapBuilder(title="Synthetic", basemap=False)
>>> builder = builder.add_raster(da, name="Prospectivity", kind="prospectivity")
>>> import folium
>>> isinstance(builder.to_map(), folium.Map)
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from geomap import styles
from geomap.errors import CRSError, DataError, ExportError
from geomap.render._html import _write_html, render_html, save_map
from geomap.render._layers import (
    _CLASS_COLUMNS,
    _FAULT_FIELDS,
    _NAME_COLUMNS,
    _RASTER_KINDS,
    GROUPS,
    MapPanel,
    _evidence_name,
    _first_column,
    _Layer,
    _named,
)

__all__ = [
    "GROUPS",
    "MapBuilder",
    "MapPanel",
    "joint_map",
    "prospectivity_map",
    "render_html",
    "save_map",
]


class MapBuilder:
    """Collect layers, then build a :class:`folium.Map` or save a self-contained HTML map.

    Every ``add_*`` method returns the builder, so calls chain.  Nothing is drawn until
    :meth:`to_map` or :meth:`save`.

    Parameters
    ----------
    title : str
        Shown at the top of the map.
    subtitle : str, optional
        A second line (e.g. model, resolution, date of the data).
    catalog : Catalog, optional
        For licences and credits; defaults to the project catalog.
    basemap : bool, default True
        Add the offline vector basemap (coastlines, countries, US states, Japanese
        prefectures) around the map's regions.
    online_basemaps : bool or sequence of str, default True
        Offer the online tile layers of :data:`geomap.render.basemap.ONLINE_BASEMAPS` (all, or
        those named) as optional base layers.  They are never shown on opening.
    max_embed_pixels : int, default 1,500,000
        Largest raster (in Web Mercator cells) embedded as an image; larger rasters become a
        tile folder beside the HTML when saved, or are shown decimated in a notebook.
    max_tile_pixels : int, default 16,000,000
        Largest raster tiled at full resolution; larger ones are decimated first.
    vector_tolerance : float, optional
        Simplification tolerance (degrees) for drawing lines and polygons; by default about
        1/2500 of the map's extent.
    probe_budget_bytes : int, default 1,000,000
        Bytes of HTML for the raster values embedded so that a click on the map reads every
        layer's value there, offline.  Values are embedded compressed at the resolution they
        are drawn at; when that does not fit, continuous layers are reduced to block means
        (the popup says so); class codes always stay at the drawn resolution.
    size_budget_bytes : int, default 10 MiB
        Saving warns when the HTML exceeds it; vector layers are generalised further to fit a
        share of it.
    """

    def __init__(
        self,
        *,
        title: str = "Mineral prospectivity",
        subtitle: str | None = None,
        catalog: Any = None,
        basemap: bool = True,
        online_basemaps: bool | Sequence[str] = True,
        max_embed_pixels: int = 1_500_000,
        max_tile_pixels: int = 16_000_000,
        vector_tolerance: float | None = None,
        size_budget_bytes: int = 10 * 2**20,
        probe_budget_bytes: int = 1_000_000,
    ) -> None:
        if max_embed_pixels < 1 or max_tile_pixels < 1:
            raise DataError(
                f"max_embed_pixels={max_embed_pixels} and max_tile_pixels={max_tile_pixels} "
                "must be positive"
            )
        self.title = title
        self.subtitle = subtitle
        self._catalog = catalog
        self.basemap = basemap
        self.online_basemaps = online_basemaps
        self.max_embed_pixels = int(max_embed_pixels)
        self.max_tile_pixels = int(max_tile_pixels)
        self.vector_tolerance = vector_tolerance
        self.size_budget_bytes = int(size_budget_bytes)
        self.probe_budget_bytes = int(probe_budget_bytes)
        self.legend_entries: list[tuple[str, str, str]] = []
        self._layers: list[_Layer] = []
        self._regions: list[tuple[str, tuple[float, float, float, float]]] = []
        self._datasets: dict[str, None] = {}
        self._tables: list[tuple[str, Any]] = []
        self.notes: list[str] = []
        self.layer_names: list[str] = []

    def __repr__(self) -> str:
        kinds = ", ".join(f"{layer.name!r}" for layer in self._layers)
        return f"MapBuilder(title={self.title!r}, layers=[{kinds}])"

    def _repr_html_(self) -> str:
        """Show the map in Jupyter from the offline page (no CDN needed), in an iframe."""
        from geomap.render.explore import iframe_html

        return iframe_html(render_html(self.to_map(), offline=True))

    # -- inputs --------------------------------------------------------------------------

    @property
    def catalog(self) -> Any:
        """The catalog used for credits (loaded on first use)."""
        if self._catalog is None:
            from geomap.catalog import load_catalog

            self._catalog = load_catalog()
        return self._catalog

    def add_datasets(self, dataset_ids: Iterable[str]) -> MapBuilder:
        """Credit these catalog datasets in the sources panel (besides those detected)."""
        for dataset_id in dataset_ids:
            self._datasets.setdefault(str(dataset_id), None)
        return self

    def _credit(self, obj: Any) -> None:
        from geomap.core.provenance import source_ids

        self.add_datasets(source_ids(obj))

    def add_region(self, region: Any, *, label: str | None = None) -> MapBuilder:
        """Draw a region's outline, fit the view to it and add a *zoom to* button.

        Parameters
        ----------
        region : Region or str
            A catalog :class:`~geomap.catalog.Region` or region id.
        label : str, optional
            Button and layer text; defaults to the region's name.
        """
        if isinstance(region, str):
            region = self.catalog.region(region)
        values = [float(v) for v in region.bbox]
        if len(values) != 4:
            raise DataError(f"region bbox {region.bbox!r} must be (west, south, east, north)")
        west, south, east, north = values
        self._regions.append((label or region.name, (west, south, east, north)))
        return self

    def add_raster(
        self,
        data: Any,
        *,
        name: str | None = None,
        kind: str = "prospectivity",
        group: str | None = None,
        colormap: str | None = None,
        vmin: float | None = None,
        vmax: float | None = None,
        opacity: float | None = None,
        show: bool | None = None,
        units: str | None = None,
        style: str | None = None,
        classes: Any = None,
        region_label: str | None = None,
    ) -> MapBuilder:
        """Add a raster drawn with a colour legend.

        Parameters
        ----------
        data : xarray.DataArray
            Dims ``("y", "x")`` with a CRS (any projected analysis CRS); NumPy or Dask.
        name : str, optional
            Layer name; defaults to ``long_name`` or the kind.
        kind : {"prospectivity", "uncertainty", "coverage", "evidence"}
            Sets the default colours, group and visibility; ``"coverage"`` is drawn as classes.
        group : str, optional
            Layer-control group.
        colormap : str, optional
            A ``branca.colormap.linear`` name.
        vmin, vmax : float, optional
            Colour range; defaults to the data range.
        opacity : float, optional
            0..1.
        show : bool, optional
            Visible on opening.
        units : str, optional
            Shown in the legend; defaults to ``attrs["units"]``.
        style : {"classes", "stretch", "linear"}, optional
            ``"classes"`` (the default for prospectivity): classes by share of the study area
            (top 1, 5, 10, 20, 50 %, rest; :mod:`geomap.classes`), comparable across models
            and regions; ``"stretch"`` (the default otherwise): a continuous ramp between the
            2nd and 98th percentiles; ``"linear"``: minimum to maximum (or ``vmin``/``vmax``).
        classes : AreaClasses, optional
            Class breaks to use with ``style="classes"`` (default: computed from ``data``).
        region_label : str, optional
            Region shown with the layer's value when the map is clicked.
        """
        if kind not in _RASTER_KINDS:
            raise DataError(f"raster kind {kind!r} is unknown; use one of {sorted(_RASTER_KINDS)}")
        from geomap.render._raster import _check

        _check(data, name or kind)
        cmap, default_opacity, default_show, group_key, categorical = _RASTER_KINDS[kind]
        style = style or ("classes" if kind == "prospectivity" else "stretch")
        if style not in ("classes", "stretch", "linear"):
            raise DataError(
                f"raster style {style!r} is unknown; use 'classes', 'stretch' or 'linear'"
            )
        if style == "classes" and classes is None:
            from geomap.classes import area_share_classes

            classes = area_share_classes(data)
        self._credit(data)
        self._layers.append(
            _Layer(
                kind="raster",
                name=name or str(data.attrs.get("long_name") or kind.capitalize()),
                group=group or GROUPS[group_key],
                show=default_show if show is None else show,
                data=data,
                options={
                    "colormap": colormap or cmap,
                    "vmin": vmin,
                    "vmax": vmax,
                    "opacity": default_opacity if opacity is None else opacity,
                    "categorical": categorical,
                    "units": units if units is not None else data.attrs.get("units"),
                    "classes": classes if style == "classes" else None,
                    "stretch": style == "stretch",
                    "kind": kind,
                    "short_name": name or kind.capitalize(),
                    "region_label": region_label,
                },
            )
        )
        return self

    def add_occurrences(
        self,
        occurrences: Any,
        *,
        name: str = "Occurrences",
        group: str | None = None,
        show: bool = True,
    ) -> MapBuilder:
        """Add mineral occurrences, one clustered layer per commodity group.

        Parameters
        ----------
        occurrences : GeoDataFrame
            The common occurrence schema (``name``, ``commodities``, ``deposit_type``,
            ``deposit_class``, ``dataset_id``, ``record_id``, ``site_id``, ``country``,
            ``state``; missing columns are left out of the popups) with a CRS.
        name : str
            Prefix of the layer names (``"Occurrences: Rare earth elements (12)"``).
        group : str, optional
            Layer-control group.
        show : bool
            Visible on opening.
        """
        self._check_vector(occurrences, "occurrences")
        self._credit(occurrences)
        self._layers.append(
            _Layer("occurrences", name, group or GROUPS["occurrences"], show, occurrences)
        )
        return self

    def add_vectors(
        self,
        frame: Any,
        *,
        name: str,
        kind: str,
        group: str | None = None,
        show: bool = True,
        color_by: str | None = None,
        fields: Sequence[str] | None = None,
        title_field: str | None = None,
        title_prefix: str | None = None,
    ) -> MapBuilder:
        """Add a vector layer styled by ``kind`` (see :data:`styles.LAYER_STYLES`).

        Parameters
        ----------
        frame : GeoDataFrame
            With a CRS.
        name : str
            Layer name.
        kind : str
            ``"fault"``, ``"geology"``, ``"boundary"``, ``"region"``, ``"target"``,
            ``"coastline"`` or ``"country"``.
        group : str, optional
            Layer-control group.
        show : bool
            Visible on opening.
        color_by : str, optional
            Column whose classes get their own colour (with a legend).
        fields : sequence of str, optional
            Columns shown in the popup (default: the first non-geometry columns).
        title_field : str, optional
            Column used as popup title and hover text.
        title_prefix : str, optional
            Text put before the title (e.g. ``"Target "``).
        """
        if kind not in styles.LAYER_STYLES:
            raise DataError(
                f"vector kind {kind!r} is unknown; use one of {sorted(styles.LAYER_STYLES)}"
            )
        self._check_vector(frame, name)
        for column in [c for c in (color_by, title_field) if c] + list(fields or ()):
            if column not in frame.columns:
                raise DataError(
                    f"layer {name!r} has no column {column!r}; its columns are "
                    f"{[c for c in frame.columns if c != frame.geometry.name]}"
                )
        self._credit(frame)
        default_group = {
            "fault": "geology",
            "geology": "geology",
            "target": "model",
        }.get(kind, "reference")
        self._layers.append(
            _Layer(
                "vector",
                name,
                group or GROUPS[default_group],
                show,
                frame,
                {
                    "style_kind": kind,
                    "color_by": color_by,
                    "fields": list(fields) if fields is not None else None,
                    "title_field": title_field,
                    "title_prefix": title_prefix,
                },
            )
        )
        return self

    def add_faults(
        self, faults: Any, *, name: str = "Faults", group: str | None = None, show: bool = True
    ) -> MapBuilder:
        """Add fault traces (popup: name, slip type, dip, rake, slip rate, source...)."""
        fields = [c for c in _FAULT_FIELDS if c in faults.columns] or None
        return self.add_vectors(
            faults,
            name=name,
            kind="fault",
            group=group,
            show=show,
            fields=fields,
            title_field=_first_column(faults, _NAME_COLUMNS),
        )

    def add_geology(
        self,
        geology: Any,
        *,
        name: str = "Geology",
        class_column: str | None = None,
        group: str | None = None,
        show: bool = False,
    ) -> MapBuilder:
        """Add geological map units coloured by lithology class.

        Classes of geomap's lithology vocabulary (``mafic_volcanic``...) are shown with their
        names and colours (``"Mafic volcanic"``); ``unknown`` units are outlined, not filled
        (a province layer would otherwise paint the sea).  Popups show the unit's name, type,
        lithology and area, with human labels.

        Parameters
        ----------
        class_column : str, optional
            Defaults to the first of ``lithology_class``, ``lithology``, ``class``, ``unit``.
        """
        column = class_column or _first_column(geology, _CLASS_COLUMNS)
        colors: dict[str, str] | None = None
        frame = geology
        if column is not None:
            from geomap.harmonize.lithology import load_lithology_vocabulary

            vocabulary = {c.id: c for c in load_lithology_vocabulary().classes}
            values = {str(v) for v in geology[column].dropna().tolist()}
            if values and values <= set(vocabulary):
                frame = geology.copy()
                label = "lithology_label"

                def short(class_id: Any) -> str | None:
                    if class_id is None or str(class_id) not in vocabulary:
                        return None
                    return vocabulary[str(class_id)].name.split(" (")[0]

                frame[label] = [short(v) for v in geology[column].tolist()]
                colors = {
                    short(v) or "": ("transparent" if v == "unknown" else vocabulary[v].color)
                    for v in sorted(values)
                }
                column = label
        fields = [
            c
            for c in ("prov_name", "name", "prov_type", "unit", "crust_type", column, "area")
            if c and c in frame.columns
        ]
        title = _first_column(frame, ("prov_name", "name", "unit_name", "unit")) or column
        self.add_vectors(
            frame,
            name=name,
            kind="geology",
            group=group,
            show=show,
            color_by=column,
            title_field=title,
            fields=list(dict.fromkeys(fields)) or None,
        )
        if colors is not None:
            self._layers[-1].options["class_colors"] = colors
        return self

    def add_boundaries(
        self,
        boundaries: Any,
        *,
        name: str = "Boundaries",
        group: str | None = None,
        show: bool = True,
        kind: str = "boundary",
    ) -> MapBuilder:
        """Add administrative or region boundaries (outlines, name on hover)."""
        title = _first_column(boundaries, _NAME_COLUMNS)
        return self.add_vectors(
            boundaries,
            name=name,
            kind=kind,
            group=group,
            show=show,
            title_field=title,
            fields=[c for c in boundaries.columns if c != boundaries.geometry.name][:6],
        )

    def add_targets(
        self, targets: Any, *, name: str = "Targets", group: str | None = None, show: bool = True
    ) -> MapBuilder:
        """Add ranked target polygons (popup: rank, area, prospectivity, centroid, place...).

        Commodities are shown only for targets that hold a known occurrence (otherwise they
        would only repeat the recipe's commodities).
        """
        if "n_occurrences" in targets.columns:
            targets = targets.copy()
            empty = targets["n_occurrences"].fillna(0).astype(float) == 0
            for column in ("commodities", "supply_chains", "occurrences"):
                if column in targets.columns:
                    targets[column] = targets[column].astype(object).where(~empty, None)
        return self.add_vectors(
            targets,
            fields=[c for c in targets.columns if c != targets.geometry.name],
            name=name,
            kind="target",
            group=group,
            show=show,
            title_field="rank" if "rank" in targets.columns else None,
            title_prefix="Target " if "rank" in targets.columns else None,
        )

    def add_table(self, frame: Any, *, title: str) -> MapBuilder:
        """Show a small table (e.g. a summary of targets) in a collapsible panel."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"add_table needs a pandas DataFrame, not {type(frame).__name__}")
        self._tables.append((title, frame))
        return self

    def add_panel(self, panel: MapPanel) -> MapBuilder:
        """Add one region's results: short layer names in groups named after its label."""
        label = panel.label

        def grp(key: str) -> str:
            return f"{label}: {GROUPS[key]}"

        if panel.region is not None:
            self.add_region(panel.region, label=label)
        for kind, data in (
            ("prospectivity", panel.prospectivity),
            ("uncertainty", panel.uncertainty),
            ("coverage", panel.coverage),
        ):
            if data is not None:
                self.add_raster(
                    data,
                    name=kind.capitalize(),
                    kind=kind,
                    group=grp("model"),
                    region_label=label,
                )
        for ename, data in (panel.evidence or {}).items():
            self.add_raster(
                data,
                name=_evidence_name(ename, data),
                kind="evidence",
                group=grp("evidence"),
                region_label=label,
            )
        if panel.targets is not None:
            self.add_targets(panel.targets, name="Targets", group=grp("model"))
        if panel.geology is not None:
            self.add_geology(panel.geology, name="Geology", group=grp("geology"))
        if panel.faults is not None:
            self.add_faults(panel.faults, name="Faults", group=grp("geology"))
        for bname, frame in _named(panel.boundaries, "Boundaries"):
            self.add_boundaries(frame, name=bname, group=grp("reference"))
        if panel.occurrences is not None:
            self.add_occurrences(panel.occurrences, name="Occurrences", group=grp("occurrences"))
        return self

    @staticmethod
    def _check_vector(frame: Any, what: str) -> None:
        if not hasattr(frame, "geometry") or not hasattr(frame, "crs"):
            raise DataError(f"the {what} layer must be a GeoDataFrame, not {type(frame).__name__}")
        if frame.crs is None:
            raise CRSError(
                f"the {what} layer has no CRS; set it with .set_crs() "
                "(geomap never assumes EPSG:4326)"
            )

    # -- building ------------------------------------------------------------------------

    def _view_bounds(self) -> tuple[float, float, float, float] | None:
        boxes = [bbox for _label, bbox in self._regions]
        if not boxes:
            return None
        shift = self._shift_east()
        wests, souths, easts, norths = [], [], [], []
        for west, south, east, north in boxes:
            if west > east:
                east += 360
            elif shift and east < 0:
                west, east = west + 360, east + 360
            wests.append(west)
            easts.append(east)
            souths.append(south)
            norths.append(north)
        return min(wests), min(souths), max(easts), max(norths)

    def _shift_east(self) -> bool:
        """Draw longitudes west of 0° as +360 (a Pacific-centred map).

        When a region crosses the antimeridian (Alaska), or when the regions are closer across
        the Pacific than across Greenwich (the United States and Japan).
        """
        boxes = [bbox for _label, bbox in self._regions]
        if any(west > east for west, _s, east, _n in boxes):
            return True
        if len(boxes) < 2:
            return False
        plain = max(b[2] for b in boxes) - min(b[0] for b in boxes)
        moved = [(w + 360, e + 360) if e < 0 else (w, e) for w, _s, e, _n in boxes]
        shifted = max(e for _w, e in moved) - min(w for w, _e in moved)
        return shifted < plain

    def _tolerance(self, bounds: tuple[float, float, float, float] | None) -> float:
        if self.vector_tolerance is not None:
            return float(self.vector_tolerance)
        if bounds is None:
            return 0.005
        extent = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
        return max(extent / 2500.0, 1e-4)

    def _needs_tiles(self) -> bool:
        from geomap.render._raster import display_size

        return any(
            layer.kind == "raster" and display_size(layer.data) > self.max_embed_pixels
            for layer in self._layers
        )

    def to_map(
        self, *, tile_root: str | os.PathLike[str] | None = None, tile_url: str = "tiles"
    ) -> Any:
        """Build the :class:`folium.Map`.

        Parameters
        ----------
        tile_root : path-like, optional
            Folder where rasters larger than ``max_embed_pixels`` are written as XYZ tiles;
            without it they are embedded decimated (and a note says so).
        tile_url : str
            URL of ``tile_root`` relative to the page.

        Returns
        -------
        folium.Map
        """
        self.notes = []
        from geomap.render._folium_render import FoliumMapRenderer

        context = FoliumMapRenderer(
            builder=self,
            bounds=self._view_bounds(),
            shift_east=self._shift_east(),
            tile_root=Path(tile_root) if tile_root is not None else None,
            tile_url=tile_url,
        )
        return context.build()

    def save(
        self, path: str | os.PathLike[str], *, offline: bool = True, overwrite: bool = True
    ) -> Any:
        """Write the map as one HTML file (plus a tile folder when a raster needs one).

        Parameters
        ----------
        path : path-like
            The ``.html`` file; a tile folder ``<stem>_tiles`` is written beside it when a
            raster exceeds ``max_embed_pixels``.  Both appear only when complete.
        offline : bool, default True
            Inline Leaflet and the plugins so the page needs no network.
        overwrite : bool, default True
            Replace an existing file.

        Returns
        -------
        folium.Map
            The map that was written.

        Raises
        ------
        ExportError
            The file cannot be written, or an asset cannot be inlined.
        """
        from geomap.core.atomic import atomic_dir

        final = Path(path)
        if final.suffix.lower() not in (".html", ".htm"):
            raise ExportError(
                f"map path {final} must end in .html; rename it, e.g. {final.stem}.html"
            )
        if final.exists() and not overwrite:
            from geomap.errors import OutputExistsError

            raise OutputExistsError(f"{final} already exists; pass overwrite=True to replace it")
        if not self._needs_tiles():
            m = self.to_map()
            _write_html(m, final, offline=offline, budget=self.size_budget_bytes)
            return m
        tiles_name = f"{final.stem}_tiles"
        with atomic_dir(final.parent / tiles_name, overwrite=True) as tile_root:
            m = self.to_map(tile_root=tile_root, tile_url=tiles_name)
            _write_html(m, final, offline=offline, budget=self.size_budget_bytes)
        return m


from geomap.render.presets import joint_map, prospectivity_map  # noqa: E402  (re-export)
