"""Vector layers of the folium map: occurrences by commodity group, training sites, vectors.

:class:`VectorLayers` holds the drawing methods of
:class:`~geomap.render._folium_render.FoliumMapRenderer` for point and vector layers (moved
here to keep the renderer's module small); the renderer inherits them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geomap import styles
from geomap.core.safe_text import escape_html as escape  # html.escape, braces too
from geomap.render._layers import (
    _MAX_LEGEND_CLASSES,
    _MAX_POPUP_FIELDS,
    _OCCURRENCE_FIELDS,
    _Layer,
)
from geomap.render._panels import target_rows

if TYPE_CHECKING:
    from geomap.render.maps import MapBuilder

__all__ = ["VectorLayers"]


class VectorLayers:
    """Drawing of occurrences, training sites and vector layers (a renderer mixin)."""

    if TYPE_CHECKING:  # provided by FoliumMapRenderer
        builder: MapBuilder
        shift_east: bool
        legends: list[tuple[Any, str]]
        extents: list[tuple[float, float, float, float]]
        legend_entries: list[tuple[str, str, str]]
        target_rows: list[dict[str, Any]]

        @property
        def notes(self) -> list[str]: ...

        def _group(self, name: str, layer: Any) -> None: ...

    def _add_occurrences(self, m: Any, layer: _Layer) -> None:
        import shapely

        from geomap.render import _elements as el
        from geomap.render._vectors import display_text, to_display_lonlat

        source = layer.data
        if "training" in source.columns:
            outside = self._outside_study_area(source)
            if outside is not None:
                source = source.assign(outside_study_area=outside)
        frame = to_display_lonlat(
            source, what=layer.name, notes=self.notes, shift_east=self.shift_east, precision=5
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
            short = styles.COMMODITY_GROUP_SHORT.get(group, group)
            overlay = el.OccurrenceClusters(
                columns_out,
                fields=fields,
                color=color,
                name=f"{short} {_lower_default(layer.name)} ({len(idx):,})",
                show=layer.show,
            )
            overlay.add_to(m)
            self._group(layer.group, overlay)
            self.legend_entries.append(("occurrences", group, color))
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
        if "training" in columns:
            self._add_training_sites(m, layer, frame, data, fields)

    def _outside_study_area(self, sites: Any) -> np.ndarray | None:
        """Flag sites on no prospectivity raster's data (None: the map has no such raster).

        A region's sites are read in its box, which reaches into neighbouring countries (the
        conterminous-US box holds carbonatites of Ontario and Quebec); the model leaves sites
        on cells without data out, so the map must not show them as training it.
        """
        from geomap.export.sites import on_data_cells

        surfaces = [
            layer.data
            for layer in self.builder._layers
            if layer.kind == "raster" and layer.options.get("kind") == "prospectivity"
        ]
        if not surfaces or sites.crs is None:
            return None
        inside = np.zeros(len(sites), dtype=bool)
        for surface in surfaces:
            if surface.rio.crs is not None:
                inside |= on_data_cells(sites, surface)
        return ~inside

    def _add_training_sites(
        self, m: Any, layer: _Layer, frame: Any, data: dict[str, list[Any]], fields: Any
    ) -> None:
        """White rings over the occurrences that trained the model (``training`` column).

        Sites the training selection kept but that lie outside the study area (no data on
        the prospectivity raster: the model left them out) are dashed, faint rings in a layer
        of their own, their popup saying why.
        """
        flags = frame["training"].fillna(False).astype(bool).to_numpy()
        outside = np.zeros(len(frame), dtype=bool)
        if "outside_study_area" in frame.columns:
            outside = frame["outside_study_area"].to_numpy(dtype=bool)
        used, left_out = flags & ~outside, flags & outside
        if used.any():
            overlay = self._training_overlay(
                m, layer, frame, data, fields, used, f"Training sites ({int(used.sum()):,})"
            )
            color = styles.TRAINING_SITE_COLOR
            self.legend_entries.append(("training", "Training sites", color))
            self.legends.append(
                (
                    overlay,
                    f'<span class="geomap-swatch" style="background:{color};border-radius:50%;'
                    'border:2px solid #111"></span>Training sites (used to fit the model)',
                )
            )
        if left_out.any():
            n = int(left_out.sum())
            reason = (
                "kept by the training selection, but outside the study area (no evidence "
                "data on its cell): the model leaves it out"
            )
            data = {
                **data,
                "reason": [
                    reason if x else r for x, r in zip(left_out, data["reason"], strict=True)
                ],
            }
            if not any(f[0] == "reason" for f in fields):
                fields = [*fields, next(f for f in _OCCURRENCE_FIELDS if f[0] == "reason")]
            overlay = self._training_overlay(
                m,
                layer,
                frame,
                data,
                fields,
                left_out,
                f"Training sites outside the study area ({n:,}, not used)",
                style={**styles.LAYER_STYLES["training"], "dashArray": "3 3", "fillOpacity": 0.3},
            )
            self.notes.append(
                f"{layer.name}: {n} training site(s) outside the study area, drawn apart"
            )
            self.legends.append(
                (
                    overlay,
                    '<span class="geomap-swatch" style="background:rgba(255,255,255,.3);'
                    'border-radius:50%;border:2px dashed #111"></span>Training sites outside '
                    "the study area (not used)",
                )
            )

    def _training_overlay(
        self,
        m: Any,
        layer: _Layer,
        frame: Any,
        data: dict[str, list[Any]],
        fields: Any,
        rows: np.ndarray,
        name: str,
        style: Any = None,
    ) -> Any:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection

        shown = frame.loc[rows].copy()
        for key, values in data.items():
            shown[key] = [values[i] for i in np.flatnonzero(rows)]
        shown = shown.set_geometry(shown.geometry.representative_point())
        keys = list(data)
        overlay = el.GeoJsonOverlay(
            feature_collection(shown[[*keys, shown.geometry.name]], keys),
            name=name,
            style=style or styles.LAYER_STYLES["training"],
            popup_fields=[tuple(f) for f in fields],
            title_field="title",
            tooltip_field="title",
            title_prefix="Training site: ",
            show=layer.show,
        )
        overlay.add_to(m)
        self._group(layer.group, overlay)
        return overlay

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
            colors = options.get("class_colors") or styles.categorical_colors(
                [v for v in values if v is not None]
            )
            shown_classes = [(v, c) for v, c in colors.items() if c != "transparent"]
            shown_classes = shown_classes[:_MAX_LEGEND_CLASSES]
            if style_kind in ("geology", "fault", "target"):
                self.legend_entries.extend((style_kind, v, c) for v, c in shown_classes)
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
            popup_fields=[(f, styles.column_label(f)) for f in fields],
            title_field=options["title_field"],
            tooltip_field=options["title_field"],
            title_prefix=options["title_prefix"],
            color_by=color_by,
            colors=colors,
            show=layer.show,
        )
        overlay.add_to(m)
        self._group(layer.group, overlay)
        swatch_color = str(style.get("color"))
        if legend:
            legend = f'<div class="geomap-legend-title">{escape(layer.name)}</div>{legend}'
        elif style_kind == "target":
            legend = (
                f'<span class="geomap-swatch" style="background:transparent;border:2px solid '
                f'{swatch_color}"></span>Targets (outlined)'
            )
            self.legend_entries.append(("target", "Targets", swatch_color))
            self.target_rows.extend(target_rows(shown))
        else:
            height = "3px;vertical-align:3px" if style_kind == "fault" else "12px"
            legend = (
                f'<span class="geomap-swatch" style="background:{swatch_color};height:{height}">'
                f"</span>{escape(layer.name)}"
            )
            if style_kind == "fault":
                self.legend_entries.append(("fault", "Faults", swatch_color))
        if style_kind in ("fault", "target", "geology"):
            self.legends.append((overlay, legend))
        from geomap.render._vectors import lonlat_bounds

        extent = lonlat_bounds(shown)
        if extent is not None:
            self.extents.append(extent)


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


def _lower_default(name: str) -> str:
    """``"Occurrences"`` (the default layer name) reads "REE occurrences"; other names stay."""
    return "occurrences" if name == "Occurrences" else name
