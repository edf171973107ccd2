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

import base64
import functools
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geomap import styles
from geomap.core.safe_text import escape_html as escape  # html.escape, braces too
from geomap.errors import CRSError, DataError, ExportError, UnknownNameError

__all__ = [
    "GROUPS",
    "MapBuilder",
    "MapPanel",
    "joint_map",
    "prospectivity_map",
    "save_map",
]

GROUPS = {
    "model": "Model results",
    "evidence": "Evidence layers",
    "occurrences": "Known occurrences",
    "geology": "Geology and structure",
    "reference": "Boundaries and reference",
}
"""Layer-control groups of the HTML map: key -> heading."""

# raster kind -> (branca colormap, opacity, shown on opening, group, categorical)
_RASTER_KINDS: dict[str, tuple[str, float, bool, str, bool]] = {
    "prospectivity": ("viridis", 0.8, True, "model", False),
    "uncertainty": ("Purples_09", 0.8, False, "model", False),
    "coverage": ("YlGnBu_09", 0.7, False, "model", True),
    "evidence": ("plasma", 0.75, False, "evidence", False),
}
_OCCURRENCE_FIELDS = (
    ("commodities", "Commodities"),
    ("deposit_type", "Deposit type"),
    ("deposit_class", "Deposit class"),
    ("deposit_class_rule", "Type rule (confidence)"),
    ("reason", "Training audit"),
    ("dataset_id", "Source dataset"),
    ("record_id", "Record id"),
    ("location", "Location"),
)
_FAULT_FIELDS = (
    "name",
    "fz_name",
    "slip_type",
    "slip_class",
    "average_dip",
    "average_rake",
    "net_slip_rate",
    "activity_confidence",
    "catalog_name",
    "reference",
    "dataset_id",
    "record_id",
)
_NAME_COLUMNS = ("name", "site_name", "nam", "NAME", "name_en", "fz_name", "label", "title")
_CLASS_COLUMNS = ("lithology_class", "lithology", "litho_class", "class", "unit", "map_unit")
_MAX_POPUP_FIELDS = 14
_MAX_LEGEND_CLASSES = 24


@dataclass
class _Layer:
    kind: str  # "raster" | "occurrences" | "vector"
    name: str
    group: str
    show: bool
    data: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class MapPanel:
    """One region's results for :func:`joint_map` (each in its own analysis CRS).

    Parameters
    ----------
    label : str
        Shown in layer names and the zoom buttons, e.g. ``"United States"``.
    region : Region or str, optional
        Catalog region (or id): drawn as an outline; the map can zoom to it.
    prospectivity, uncertainty, coverage : DataArray, optional
        Model rasters.
    occurrences, faults, geology, targets : GeoDataFrame, optional
        Vector layers.
    boundaries : GeoDataFrame or mapping of name to GeoDataFrame, optional
        Extra boundary layers.
    """

    label: str
    region: Any = None
    prospectivity: Any = None
    uncertainty: Any = None
    coverage: Any = None
    occurrences: Any = None
    faults: Any = None
    geology: Any = None
    boundaries: Any = None
    targets: Any = None


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
        page = render_html(self.to_map(), offline=True)
        return (
            f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;height:600px;'
            'border:none" sandbox="allow-scripts allow-downloads allow-popups"></iframe>'
        )

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
        """
        if kind not in _RASTER_KINDS:
            raise DataError(f"raster kind {kind!r} is unknown; use one of {sorted(_RASTER_KINDS)}")
        from geomap.render._raster import _check

        _check(data, name or kind)
        cmap, default_opacity, default_show, group_key, categorical = _RASTER_KINDS[kind]
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

        Parameters
        ----------
        class_column : str, optional
            Defaults to the first of ``lithology_class``, ``lithology``, ``class``, ``unit``.
        """
        column = class_column or _first_column(geology, _CLASS_COLUMNS)
        return self.add_vectors(
            geology,
            name=name,
            kind="geology",
            group=group,
            show=show,
            color_by=column,
            title_field=column,
        )

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
        """Add ranked target polygons (popup: every column: rank, area, prospectivity...)."""
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
        """Add one region's results, with layer names and groups prefixed by its label."""
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
                self.add_raster(data, name=f"{label}: {kind}", kind=kind, group=grp("model"))
        if panel.targets is not None:
            self.add_targets(panel.targets, name=f"{label}: targets", group=grp("model"))
        if panel.geology is not None:
            self.add_geology(panel.geology, name=f"{label}: geology", group=grp("geology"))
        if panel.faults is not None:
            self.add_faults(panel.faults, name=f"{label}: faults", group=grp("geology"))
        for bname, frame in _named(panel.boundaries, "boundaries"):
            self.add_boundaries(frame, name=f"{label}: {bname}", group=grp("reference"))
        if panel.occurrences is not None:
            self.add_occurrences(
                panel.occurrences, name=f"{label}: occurrences", group=grp("occurrences")
            )
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
        context = _BuildContext(
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


def _named(value: Any, default: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items() if v is not None]
    return [(default, value)]


def _first_column(frame: Any, candidates: Sequence[str]) -> str | None:
    columns = set(frame.columns)
    return next((c for c in candidates if c in columns), None)


@dataclass
class _BuildContext:
    builder: MapBuilder
    bounds: tuple[float, float, float, float] | None
    shift_east: bool
    tile_root: Path | None
    tile_url: str
    legends: list[tuple[Any, str]] = field(default_factory=list)
    groups: dict[str, list[Any]] = field(default_factory=dict)
    extents: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return self.builder.notes

    def build(self) -> Any:
        import folium
        from folium import plugins

        from geomap.render import _elements as el

        b = self.builder
        m = _OfflineMap(
            location=None,
            zoom_start=2,
            tiles=None,
            control_scale=True,
            prefer_canvas=True,
            world_copy_jump=False,
            maxZoom=18,  # the map option (folium's max_zoom only reaches tile layers)
            minZoom=1,
        )
        el.PageHelpers().add_to(m)
        if self.bounds is not None:  # the view first: layers then load at their final zoom
            el.InitialView(_leaflet_bounds(self.bounds)).add_to(m)
        base_layers: list[Any] = [folium.FeatureGroup(name="No basemap (offline)", overlay=False)]
        base_layers[0].add_to(m)
        for label, provider in self._online_providers():
            layer = folium.TileLayer(
                tiles=provider.build_url(),
                attr=provider.html_attribution,
                name=label,
                overlay=False,
                show=False,
                max_zoom=19,
                max_native_zoom=provider.get("max_zoom", 18),
            )
            layer.add_to(m)
            base_layers.append(layer)
        tolerance = b._tolerance(self.bounds)
        if b.basemap:
            self._add_basemap(m, tolerance)
        for label, bbox in b._regions:
            self._add_region_outline(m, label, bbox)
        order = {"raster": 0, "vector": 1, "occurrences": 2}
        vector_order = {"geology": 0, "boundary": 1, "country": 1, "coastline": 1, "region": 1}
        layers = sorted(
            b._layers,
            key=lambda layer: (
                order[layer.kind],
                vector_order.get(layer.options.get("style_kind", ""), 2),
            ),
        )
        for spec in layers:
            if spec.kind == "raster":
                self._add_raster(m, spec)
            elif spec.kind == "occurrences":
                self._add_occurrences(m, spec)
            else:
                self._add_vector(m, spec, tolerance)
        control = el.GroupedLayers(base_layers, self._ordered_groups(), collapsed=True)
        control.add_to(m)
        b.layer_names = control.labels()
        if self.legends:
            el.MapLegend(self.legends).add_to(m)
        plugins.Fullscreen(position="topleft").add_to(m)
        plugins.MeasureControl(
            position="topleft",
            primary_length_unit="kilometers",
            secondary_length_unit="miles",
            primary_area_unit="hectares",
            secondary_area_unit="sqmiles",
        ).add_to(m)
        plugins.Draw(
            export=True,
            filename="survey_areas.geojson",
            position="topleft",
            draw_options={
                "polyline": False,
                "circle": False,
                "circlemarker": False,
                "marker": True,
                "polygon": True,
                "rectangle": True,
            },
        ).add_to(m)
        plugins.MousePosition(
            position="bottomleft",
            separator=" | ",
            prefix="lat | lon:",
            num_digits=4,
            # longitudes of a Pacific-centred map are shown in -180..180
            lng_formatter="function (n) { return (((n + 540) % 360) - 180).toFixed(4); }",
        ).add_to(m)
        if b.basemap:
            self._add_minimap(m)
        if len(b._regions) > 1:
            el.ZoomToButtons(
                [(label, _leaflet_bounds(self._region_box(bbox))) for label, bbox in b._regions]
            ).add_to(m)
        m.get_root().html.add_child(el.LiteralElement(self._title_html()))
        el.HtmlPanel(self._sources_html(), position="bottomleft").add_to(m)
        el.AttributionLine(self._credit_line()).add_to(m)
        for title, frame in b._tables:
            el.HtmlPanel(_table_html(title, frame), position="bottomleft").add_to(m)
        m.get_root().header.add_child(
            el.LiteralElement(f"<title>{escape(b.title)}</title>"), name="geomap_title"
        )
        if self.bounds is None and self.extents:
            m.fit_bounds(_leaflet_bounds(_union(self.extents)))  # type: ignore[arg-type]
        el.stable_ids(m.get_root())
        return m

    # -- pieces --------------------------------------------------------------------------

    def _online_providers(self) -> list[tuple[str, Any]]:
        from geomap.render.basemap import ONLINE_BASEMAPS

        wanted = self.builder.online_basemaps
        if wanted is False:
            return []
        if wanted is True:
            return list(ONLINE_BASEMAPS.items())
        unknown = [w for w in wanted if w not in ONLINE_BASEMAPS]
        if unknown:
            raise UnknownNameError(
                f"unknown online basemap(s) {unknown}; choose from {list(ONLINE_BASEMAPS)}"
            )
        return [(w, ONLINE_BASEMAPS[w]) for w in wanted]

    def _group(self, name: str, layer: Any) -> None:
        self.groups.setdefault(name, []).append(layer)

    def _ordered_groups(self) -> dict[str, list[Any]]:
        first_seen = {name: i for i, name in enumerate(self.groups)}
        panels = list(dict.fromkeys(name.split(": ")[0] for name in self.groups if ": " in name))

        def rank(name: str) -> tuple[int, int, int]:
            kind = next(
                (
                    i
                    for i, key in enumerate(
                        ("model", "evidence", "occurrences", "geology", "reference")
                    )
                    if name.endswith(GROUPS[key])
                ),
                len(GROUPS),
            )
            prefix = name.split(": ")[0] if ": " in name else ""
            panel = panels.index(prefix) if prefix in panels else len(panels)
            return (kind, panel, first_seen[name])

        return {name: self.groups[name] for name in sorted(self.groups, key=rank)}

    def _region_box(self, bbox: tuple[float, float, float, float]) -> tuple[float, ...]:
        west, south, east, north = bbox
        if west > east:
            east += 360
        elif self.shift_east and east < 0:
            west, east = west + 360, east + 360
        return (west, south, east, north)

    def _add_region_outline(
        self, m: Any, label: str, bbox: tuple[float, float, float, float]
    ) -> None:
        import shapely

        from geomap.render import _elements as el

        west, south, east, north = self._region_box(bbox)
        xs = np.linspace(west, east, 61)
        ring = (
            [(x, south) for x in xs]
            + [(east, north)]
            + [(x, north) for x in xs[::-1]]
            + [(west, south)]
        )
        geometry = shapely.Polygon(ring)
        data = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(geometry),
                    "properties": {"name": label},
                }
            ],
        }
        layer = el.GeoJsonOverlay(
            data,
            name=f"Region: {label}",
            style=styles.LAYER_STYLES["region"],
            popup_fields=[("name", "Region")],
            tooltip_field="name",
            show=True,
        )
        layer.add_to(m)
        self._group(GROUPS["reference"], layer)

    def _add_basemap(self, m: Any, tolerance: float) -> None:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection, to_display_lonlat
        from geomap.render.basemap import BASEMAP_DATASETS, offline_basemap

        bounds = self.bounds
        if bounds is None:
            self.notes.append("no region given: the offline basemap was not added")
            return
        west, south, east, north = bounds
        bbox = (((west + 180) % 360) - 180, south, ((east + 180) % 360) - 180, north)
        if east - west >= 360:
            bbox = (-180.0, south, 180.0, north)
        layers = offline_basemap(bbox, catalog=self.builder.catalog)
        self.builder.add_datasets(
            d
            for d in BASEMAP_DATASETS
            if any(f.attrs.get("geomap_source") == d for f in layers.values())
        )
        spec = {
            "coastline": ("Coastline", "coastline", None, True),
            "countries": ("Countries", "country", "NAME", True),
            "states": ("States and provinces", "boundary", "name", True),
            "japan_prefectures": ("Japanese prefectures", "boundary", "nam", True),
        }
        for key, frame in layers.items():
            if not len(frame):
                continue
            label, style_kind, name_col, show = spec[key]
            shown = to_display_lonlat(
                frame, what=label, notes=self.notes, shift_east=self.shift_east, tolerance=tolerance
            )
            fields = [name_col] if name_col else []
            if key == "japan_prefectures":
                fields = ["nam", "nam_ja"]
            layer = el.GeoJsonOverlay(
                feature_collection(shown, fields),
                name=label,
                style=styles.LAYER_STYLES[style_kind],
                popup_fields=[
                    (f, "Name" if i == 0 else "Name (Japanese)") for i, f in enumerate(fields)
                ],
                title_field=name_col,
                tooltip_field=name_col,
                show=show,
            )
            layer.add_to(m)
            self._group(GROUPS["reference"], layer)

    def _add_minimap(self, m: Any) -> None:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection, to_display_lonlat
        from geomap.render.basemap import world_outline

        world = to_display_lonlat(
            world_outline(catalog=self.builder.catalog),
            what="overview map",
            notes=self.notes,
            tolerance=0.3,
            precision=2,
        )
        data = feature_collection(world, [])
        if self.shift_east:  # a second copy east of 180° so a Pacific-centred overview is whole
            import shapely

            moved = world.set_geometry(
                shapely.transform(world.geometry.to_numpy(), lambda xy: xy + np.array([360.0, 0.0]))
            )
            data["features"] += feature_collection(moved, [])["features"]
        el.VectorMiniMap(data).add_to(m)

    def _add_raster(self, m: Any, layer: _Layer) -> None:
        import folium

        from geomap.render import _elements as el
        from geomap.render import _raster as rr

        b = self.builder
        options = layer.options
        native = rr.display_size(layer.data)
        tiled = native > b.max_embed_pixels and self.tile_root is not None
        limit = b.max_tile_pixels if tiled else b.max_embed_pixels
        shown = rr.prepare_display_raster(layer.data, max_pixels=limit, what=layer.name)
        if self.shift_east:
            shown = rr.shift_east(shown)
        valid = np.isfinite(shown.values)
        if not valid.any():
            self.notes.append(f"{layer.name}: no cells with data; layer not drawn")
            return
        reduced = shown.values.size < native * 0.95
        if reduced:
            self.notes.append(
                f"{layer.name}: shown at reduced resolution ({shown.shape[1]} × {shown.shape[0]} "
                f"display cells for ~{native:,} at full resolution)"
            )
        palette, legend = self._palette(layer, shown.values, valid)
        west, south, east, north = shown.bounds_lonlat
        bounds = [[south, west], [north, east]]
        self.extents.append((west, south, east, north))
        if tiled and self.tile_root is not None:
            slug = _slug(layer.name, len(self.extents))
            zooms = rr.tile_zoom_range(shown)
            ranges = rr.write_tiles(shown, self.tile_root / slug, palette, zoom_range=zooms)
            overlay: Any = el.LocalTileLayer(
                f"{self.tile_url}/{slug}/{{z}}/{{x}}/{{y}}.png",
                ranges,
                name=layer.name,
                opacity=options["opacity"],
                show=layer.show,
            )
            count = sum((r[1] - r[0] + 1) * (r[3] - r[2] + 1) for r in ranges.values())
            self.notes.append(f"{layer.name}: {count} tiles in {self.tile_url}/{slug}")
        else:
            png = rr.encode_png(palette.indices(shown.values, valid), palette)
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            overlay = folium.raster_layers.ImageOverlay(
                uri,
                bounds=bounds,
                name=layer.name,
                opacity=options["opacity"],
                show=layer.show,
                pixelated=True,
                interactive=False,
                class_name="geomap-raster",
            )
        overlay.add_to(m)
        self._group(layer.group, overlay)
        units = options.get("units")
        title = escape(layer.name + (f" ({units})" if units else ""))
        self.legends.append((overlay, f'<div class="geomap-legend-title">{title}</div>{legend}'))

    def _palette(self, layer: _Layer, values: np.ndarray, valid: np.ndarray) -> tuple[Any, str]:
        from geomap.render._elements import svg_colorbar
        from geomap.render._raster import Palette

        options = layer.options
        data = values[valid]
        classes = np.unique(data)
        integer_valued = bool(np.all(np.equal(np.mod(classes, 1), 0)))
        if options["categorical"] and integer_valued and len(classes) <= 64:
            rgb = styles.colormap_stops(options["colormap"], max(2, len(classes)))
            palette = Palette(colors=rgb[: len(classes)], classes=[float(c) for c in classes])
            items = "".join(
                f'<div><span class="geomap-swatch" style="background:{_hex(c)}"></span>'
                f"{escape(_class_label(v, layer))}</div>"
                for c, v in zip(palette.colors, classes, strict=True)
            )
            return palette, items
        vmin = float(options["vmin"]) if options["vmin"] is not None else float(data.min())
        vmax = float(options["vmax"]) if options["vmax"] is not None else float(data.max())
        if not vmax > vmin:
            vmax = vmin + (abs(vmin) * 1e-6 or 1e-6)
        rgb = styles.colormap_stops(options["colormap"], 255)
        palette = Palette(colors=rgb, vmin=vmin, vmax=vmax)
        hexes = [_hex(c) for c in styles.colormap_stops(options["colormap"], 9)]
        return palette, svg_colorbar(hexes, vmin, vmax)

    def _add_occurrences(self, m: Any, layer: _Layer) -> None:
        import shapely

        from geomap.render import _elements as el
        from geomap.render._vectors import display_text, to_display_lonlat

        frame = to_display_lonlat(
            layer.data, what=layer.name, notes=self.notes, shift_east=self.shift_east, precision=5
        )
        if not len(frame):
            self.notes.append(f"{layer.name}: no occurrences with a location")
            return
        geoms = frame.geometry.to_numpy()
        not_points = shapely.get_type_id(geoms) != 0
        if not_points.any():
            self.notes.append(
                f"{layer.name}: {int(not_points.sum())} non-point feature(s) drawn at a point "
                "inside them"
            )
            geoms = np.where(not_points, shapely.point_on_surface(geoms), geoms)
        lon = shapely.get_x(geoms)
        lat = shapely.get_y(geoms)
        columns = frame.columns
        n = len(frame)

        def column(name: str) -> list[str | None]:
            if name not in columns:
                return [None] * n
            return [display_text(v) for v in frame[name].tolist()]

        names = column("name")
        fallback = column("site_id") if "site_id" in columns else column("record_id")
        titles = [
            a if a else (f or "Unnamed occurrence") for a, f in zip(names, fallback, strict=True)
        ]
        state, country = column("state"), column("country")
        location = [
            ", ".join(p for p in (s, c) if p) or None for s, c in zip(state, country, strict=True)
        ]
        data: dict[str, list[Any]] = {
            "title": titles,
            "commodities": column("commodities"),
            "deposit_type": column("deposit_type"),
            "deposit_class": column("deposit_class"),
            "deposit_class_rule": _rule_text(frame),
            "reason": column("reason"),
            "dataset_id": column("dataset_id"),
            "record_id": column("record_id"),
            "location": location,
        }
        raw = frame["commodities"].tolist() if "commodities" in columns else [None] * n
        groups = np.array([styles.commodity_group(v) for v in raw], dtype=object)
        fields = [f for f in _OCCURRENCE_FIELDS if any(v is not None for v in data[f[0]])]
        order: list[str] = [
            *styles.COMMODITY_GROUPS,
            styles.OTHER_GROUP[0],
            styles.UNKNOWN_GROUP[0],
        ]
        for group in order:
            idx = np.flatnonzero(groups == group)
            if not len(idx):
                continue
            columns_out: dict[str, list[Any]] = {
                "lat": np.round(lat[idx], 5).tolist(),
                "lon": np.round(lon[idx], 5).tolist(),
            }
            for key, values in data.items():
                columns_out[key] = [values[i] for i in idx]
            color = styles.commodity_group_color(group)
            overlay = el.OccurrenceClusters(
                columns_out,
                fields=fields,
                color=color,
                name=f"{layer.name}: {group} ({len(idx):,})",
                show=layer.show,
            )
            overlay.add_to(m)
            self._group(layer.group, overlay)
            self.legends.append(
                (
                    overlay,
                    f'<span class="geomap-swatch" style="background:{color};border-radius:50%">'
                    f"</span>{escape(group)}",
                )
            )
        self.extents.append(
            (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        )

    def _add_vector(self, m: Any, layer: _Layer, tolerance: float) -> None:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection, to_display_lonlat

        options = layer.options
        style_kind = options["style_kind"]
        frame = layer.data
        geometry_name = frame.geometry.name
        fields = options["fields"]
        if fields is None:
            fields = [c for c in frame.columns if c != geometry_name][:_MAX_POPUP_FIELDS]
        color_by = options["color_by"]
        keep = list(dict.fromkeys([*fields, *[c for c in (color_by, options["title_field"]) if c]]))
        budget = self.builder.size_budget_bytes // 4
        data: dict[str, Any] = {}
        size = 0
        for attempt in range(4):
            shown = to_display_lonlat(
                frame[[*keep, geometry_name]],
                what=layer.name,
                notes=self.notes if attempt == 0 else [],
                shift_east=self.shift_east,
                tolerance=tolerance * 4**attempt if style_kind != "target" else None,
            )
            data = feature_collection(shown, keep)
            from geomap.render._elements import safe_json

            size = len(safe_json(data))
            if size <= budget or style_kind == "target":
                break
        if size > budget:
            self.notes.append(f"{layer.name}: {size / 2**20:.1f} MiB even after generalisation")
        elif attempt:
            self.notes.append(
                f"{layer.name}: generalised to {tolerance * 4**attempt:.3g}° to fit the size budget"
            )
        if not data["features"]:
            self.notes.append(f"{layer.name}: nothing to draw")
            return
        colors: dict[str, str] = {}
        legend = ""
        if color_by:
            from geomap.render._vectors import display_text

            values = [display_text(v) for v in frame[color_by].tolist()]
            colors = styles.categorical_colors([v for v in values if v is not None])
            shown_classes = list(colors.items())[:_MAX_LEGEND_CLASSES]
            legend = "".join(
                f'<div><span class="geomap-swatch" style="background:{c}"></span>{escape(v)}</div>'
                for v, c in shown_classes
            )
            if len(colors) > len(shown_classes):
                legend += f"<div>… and {len(colors) - len(shown_classes)} more classes</div>"
        style = styles.LAYER_STYLES[style_kind]
        overlay = el.GeoJsonOverlay(
            data,
            name=layer.name,
            style=style,
            popup_fields=[(f, _label(f)) for f in fields],
            title_field=options["title_field"],
            tooltip_field=options["title_field"],
            title_prefix=options["title_prefix"],
            color_by=color_by,
            colors=colors,
            show=layer.show,
        )
        overlay.add_to(m)
        self._group(layer.group, overlay)
        swatch_color = style.get("fillColor") or style.get("color")
        if legend:
            legend = f'<div class="geomap-legend-title">{escape(layer.name)}</div>{legend}'
        else:
            legend = (
                f'<span class="geomap-swatch" style="background:{swatch_color}"></span>'
                f"{escape(layer.name)}"
            )
        if style_kind in ("fault", "target", "geology"):
            self.legends.append((overlay, legend))
        from geomap.render._vectors import lonlat_bounds

        extent = lonlat_bounds(shown)
        if extent is not None:
            self.extents.append(extent)

    # -- panels --------------------------------------------------------------------------

    def _title_html(self) -> str:
        b = self.builder
        sub = f"<small>{escape(b.subtitle)}</small>" if b.subtitle else ""
        return f'<div class="geomap-title">{escape(b.title)}{sub}</div>'

    def _credit_line(self) -> str:
        b = self.builder
        publishers: list[str] = []
        for dataset_id in b._datasets:
            try:
                publisher = b.catalog.dataset(dataset_id).publisher
            except (KeyError, UnknownNameError):
                publisher = dataset_id
            short = publisher if len(publisher) <= 28 else publisher[:27].rstrip(" ,;(") + "…"
            if short not in publishers:
                publishers.append(short)
        if not publishers:
            return "Data: none credited | geomap"
        shown = "; ".join(publishers[:2])
        if len(publishers) > 2:
            shown += f" +{len(publishers) - 2} more"
        return f"Data: {shown} — credits and licences under Sources | geomap"

    def _sources_html(self) -> str:
        from geomap.core.safe_text import http_url

        b = self.builder
        parts = []
        for dataset_id in b._datasets:
            try:
                ds = b.catalog.dataset(dataset_id)
            except (KeyError, UnknownNameError):
                parts.append(
                    f"<h4>{escape(dataset_id)}</h4><p>Not in the data catalog: licence unknown; "
                    "check before redistributing.</p>"
                )
                continue
            lic = ds.license
            name = escape(f"{lic.name} ({lic.spdx})")
            if http_url(lic.url):  # only http(s) links, never javascript: or data:
                name = f'<a href="{escape(lic.url)}" target="_blank" rel="noopener">{name}</a>'
            parts.append(
                f"<h4>{escape(ds.title)}</h4>"
                f"<p>{escape(ds.publisher)}. Licence: {name}.<br>{escape(lic.attribution)}<br>"
                f"<i>Cite:</i> {escape(ds.citation)}<br><code>{escape(ds.id)}</code></p>"
            )
        if b.notes:
            parts.append(
                "<h4>Notes</h4><ul>" + "".join(f"<li>{escape(n)}</li>" for n in b.notes) + "</ul>"
            )
        parts.append(
            "<p>Online basemaps, when switched on, carry their own credits (OpenStreetMap "
            "contributors; U.S. Geological Survey, The National Map; 地理院タイル, GSI Japan; "
            "geology tiles: Seamless Digital Geological Map of Japan V2, GSJ, AIST). "
            "Map made with geomap, Leaflet and folium.</p>"
        )
        count = len(b._datasets)
        return (
            f"<details><summary>Sources and licences ({count} dataset"
            f"{'s' if count != 1 else ''})</summary>{''.join(parts)}</details>"
        )


@functools.cache
def _offline_map_class() -> Any:
    import folium
    from folium import folium as folium_module

    leaflet_js = dict(folium_module._default_js)["leaflet"]
    leaflet_css = dict(folium_module._default_css)["leaflet_css"]

    class OfflineMap(folium.Map):
        """A folium Map that loads only Leaflet itself (no jQuery, Bootstrap, fonts)."""

        default_js = [("leaflet", leaflet_js)]  # noqa: RUF012
        default_css = [("leaflet_css", leaflet_css)]  # noqa: RUF012

    return OfflineMap


def _OfflineMap(**kwargs: Any) -> Any:  # noqa: N802 - behaves as a class
    return _offline_map_class()(**kwargs)


def _leaflet_bounds(bbox: Sequence[float]) -> list[list[float]]:
    west, south, east, north = bbox
    return [[float(south), float(west)], [float(north), float(east)]]


def _union(
    boxes: Sequence[tuple[float, float, float, float]],
) -> tuple[float, float, float, float] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def _class_label(value: float, layer: _Layer) -> str:
    text = f"{int(value)}" if float(value).is_integer() else f"{value:g}"
    if "coverage" in layer.name.lower() or layer.options.get("categorical"):
        return f"{text} evidence layer{'s' if value != 1 else ''} with data"
    return text


def _label(column: str) -> str:
    return column.replace("_", " ").capitalize()


def _slug(name: str, index: int) -> str:
    import re

    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "raster"
    return f"{index:02d}_{text[:40]}"


def _table_html(title: str, frame: Any) -> str:
    table = frame.head(50).to_html(index=False, escape=True, border=0, na_rep="")
    more = f"<p>… {len(frame) - 50} more rows</p>" if len(frame) > 50 else ""
    return f"<details><summary>{escape(title)}</summary>{table}{more}</details>"


def render_html(m: Any, *, offline: bool = True) -> str:
    """Render a folium map to one HTML page, inlining Leaflet and plugins when ``offline``."""
    from geomap.render._assets import inline_assets, remote_references

    html = m.get_root().render()
    if offline:
        html = inline_assets(html)
        left = remote_references(html)
        if left:
            raise ExportError(f"could not inline {left}; the map would need the network")
    return str(html)


def _write_html(m: Any, final: Path, *, offline: bool, budget: int) -> None:
    from geomap.core.atomic import atomic_path

    html = render_html(m, offline=offline).encode("utf-8")
    if len(html) > budget:
        warnings.warn(
            f"{final.name} is {len(html) / 2**20:.1f} MiB, over the {budget / 2**20:.0f} MiB "
            "budget; lower max_embed_pixels, drop layers or raise vector_tolerance",
            stacklevel=3,
        )
    with atomic_path(final) as tmp:
        tmp.write_bytes(html)


def save_map(
    m: Any, path: str | os.PathLike[str], *, offline: bool = True, overwrite: bool = True
) -> Path:
    """Write a map to one self-contained HTML file, atomically.

    Parameters
    ----------
    m : folium.Map or MapBuilder
        A builder is saved with :meth:`MapBuilder.save` (tile folder when needed).
    path : path-like
        The ``.html`` file.
    offline : bool, default True
        Inline Leaflet and the plugins (the page then needs no network for its data layers).
    overwrite : bool, default True
        Replace an existing file.

    Returns
    -------
    Path
    """
    final = Path(path)
    if isinstance(m, MapBuilder):
        m.save(final, offline=offline, overwrite=overwrite)
        return final
    if final.exists() and not overwrite:
        from geomap.errors import OutputExistsError

        raise OutputExistsError(f"{final} already exists; pass overwrite=True to replace it")
    _write_html(m, final, offline=offline, budget=10 * 2**20)
    return final


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
    **options
        :class:`MapBuilder` options (``basemap``, ``online_basemaps``, ``max_embed_pixels``,
        ``catalog``...).

    Returns
    -------
    folium.Map
    """
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
        builder.add_raster(data, name=name, kind="evidence")
    if training_sites is not None and len(training_sites):
        builder.add_occurrences(training_sites, name="Training sites", show=False)
    if path is not None:
        return builder.save(path)
    return builder.to_map()


def _rule_text(frame: Any) -> list[str | None]:
    """``rule (confidence)`` of each site's deposit type, None where there is none."""
    if "deposit_class_rule" not in frame.columns:
        return [None] * len(frame)
    conf = (
        frame["deposit_class_confidence"].tolist()
        if "deposit_class_confidence" in frame.columns
        else [None] * len(frame)
    )
    out: list[str | None] = []
    for rule, c in zip(frame["deposit_class_rule"].tolist(), conf, strict=True):
        text = rule if isinstance(rule, str) and rule else None
        if text and isinstance(c, float) and c == c:
            text = f"{text} ({c:.2f})"
        out.append(text)
    return out


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
