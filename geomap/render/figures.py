"""Static figures at print resolution (matplotlib, Agg backend; no pyplot global state).

Two kinds of figure:

* :func:`plot_prospectivity`: the prospectivity surface in its own (equal-area) analysis CRS,
  with known occurrences, boundaries and target outlines on top, a colour bar and a scale bar;
* :func:`plot_validation_curves`: ROC, success-rate, prediction-rate and P–A curves from a
  validation result.

Both return a :class:`matplotlib.figure.Figure` and, when given a path, also write a PNG
(300 dpi by default) atomically (:func:`geomap.export.figures.save_figure`).  Nothing here
computes science: curves and surfaces are drawn as given.

Given the catalog ids of the datasets behind a figure (``datasets=``), the PNG credits them in
its text chunks (``Source``: id and title of each dataset; ``Copyright``: each licence and
:meth:`geomap.catalog.Catalog.attribution`), and the prospectivity map draws a small credit
line (dataset ids and licences) under the map.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import CRSError, DataError
from geomap.export.figures import PRINT_DPI, png_credit, save_figure

__all__ = [
    "CURVE_KINDS",
    "literal_text",
    "plot_prospectivity",
    "plot_validation_curves",
]

_CREDIT_LINE_CHARS = 190  # characters per line of the credit under a 7.5-inch map (5 pt)

# curve kind -> (title, accepted x columns, accepted y columns, x label, y label)
CURVE_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, str]] = {
    "roc": (
        "ROC",
        ("fpr", "false_positive_rate"),
        ("tpr", "true_positive_rate"),
        "False-positive rate",
        "True-positive rate",
    ),
    "success_rate": (
        "Success rate (training)",
        ("area_fraction", "area", "cumulative_area"),
        ("occurrence_fraction", "occurrences", "captured_fraction", "cumulative_occurrences"),
        "Fraction of area, ranked by prospectivity",
        "Fraction of occurrences captured",
    ),
    "prediction_rate": (
        "Prediction rate (held out)",
        ("area_fraction", "area", "cumulative_area"),
        ("occurrence_fraction", "occurrences", "captured_fraction", "cumulative_occurrences"),
        "Fraction of area, ranked by prospectivity",
        "Fraction of occurrences captured",
    ),
    "pa": (
        "P–A plot",
        ("threshold", "prospectivity", "cutoff"),
        ("prediction_rate", "occurrence_fraction", "occurrences"),
        "Prospectivity threshold",
        "Fraction",
    ),
}

_ALIASES = {
    "roc": "roc",
    "roc_curve": "roc",
    "success": "success_rate",
    "success_rate": "success_rate",
    "success_rate_curve": "success_rate",
    "prediction": "prediction_rate",
    "prediction_rate": "prediction_rate",
    "prediction_rate_curve": "prediction_rate",
    "pa": "pa",
    "p_a": "pa",
    "pa_plot": "pa",
    "p_a_plot": "pa",
    "prediction_area": "pa",
}

_PA_AREA_COLUMNS = ("area_fraction", "area", "occupied_area")
_GROUP_COLUMNS = ("fold", "model", "region", "label")


def _new_figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def literal_text(fig: Any) -> Any:
    """Show every text of ``fig`` as written: no mathtext, no LaTeX.

    Titles, legend entries and credits carry recipe names, region names and dataset titles;
    matplotlib would otherwise read ``$...$`` in them as mathtext (and run LaTeX on them when
    ``text.usetex`` is set), so a name could change the figure or break the drawing.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig``.
    """
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_usetex(False)
        text.set_parse_math(False)
    return fig


def _plain_log_ticks(axis: Any) -> None:
    r"""Label a log axis with plain numbers (``0.01``), not mathtext.

    :func:`literal_text` turns mathtext off on every text, so matplotlib's default log labels
    (``$\mathdefault{10^{-2}}$``) would be drawn as their raw source.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _credit_line(datasets: Sequence[str], catalog: Any) -> str:
    """Return the short credit drawn on a map: each dataset id with its licence."""
    text = "; ".join(f"{d} ({catalog.dataset(d).license.spdx})" for d in datasets)
    return f"Data: {text}. Full credits and citations in the PNG's Copyright text."


def _curves_mapping(curves: Any) -> dict[str, Any]:
    """Normalize a validation result, a mapping or a sequence of curves into ``{kind: table}``."""
    raw: dict[str, Any] = {}
    if isinstance(curves, Mapping):
        raw = dict(curves)
    elif hasattr(curves, "curves") and isinstance(curves.curves, Mapping):
        raw = dict(curves.curves)
    else:
        for name in _ALIASES:
            value = getattr(curves, name, None)
            if value is not None and not callable(value):
                raw.setdefault(name, value)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = _ALIASES.get(str(key).lower().replace("-", "_").replace(" ", "_"))
        if kind is None or value is None:
            continue
        out[kind] = value
    if not out:
        raise DataError(
            f"no validation curves found in {type(curves).__name__} "
            f"(keys/attributes {sorted(map(str, raw)) or 'none'}); give a mapping with any of "
            f"{sorted(CURVE_KINDS)} -> DataFrame"
        )
    return out


def _as_frame(kind: str, table: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, Mapping):
        return pd.DataFrame(dict(table))
    raise DataError(
        f"the {kind!r} curve is a {type(table).__name__}; give a pandas DataFrame "
        "(or a mapping of column -> values)"
    )


def _column(frame: pd.DataFrame, kind: str, accepted: Sequence[str], axis: str) -> str:
    for name in accepted:
        if name in frame.columns:
            return name
    raise DataError(
        f"the {kind!r} curve has columns {list(map(str, frame.columns))} but no {axis} column; "
        f"name it one of {list(accepted)}"
    )


def _groups(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    for name in _GROUP_COLUMNS:
        if name in frame.columns:
            return [
                (str(key).replace("_", " "), part) for key, part in frame.groupby(name, sort=True)
            ]
    return [(None, frame)]


def _auc_label(frame: pd.DataFrame, group: str | None) -> str:
    auc = frame.attrs.get("auc")
    if auc is None and "auc" in frame.columns and frame["auc"].notna().any():
        auc = frame["auc"].dropna().iloc[0]
    parts = [group] if group else []
    if auc is not None and np.isfinite(float(auc)):
        parts.append(f"AUC {float(auc):.2f}")
    return ", ".join(parts)


def _draw_rate_curve(ax: Any, kind: str, frame: pd.DataFrame) -> None:
    title, xs, ys, xlabel, ylabel = CURVE_KINDS[kind]
    xcol = _column(frame, kind, xs, "x")
    ycol = _column(frame, kind, ys, "y")
    for group, part in _groups(frame):
        label = _auc_label(part if group else frame, group) or None
        ax.plot(part[xcol].to_numpy(float), part[ycol].to_numpy(float), lw=1.6, label=label)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="random")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small", frameon=False)


def _draw_pa(ax: Any, frame: pd.DataFrame, point: Mapping[str, Any] | None = None) -> None:
    title, xs, ys, xlabel, ylabel = CURVE_KINDS["pa"]
    xcol = _column(frame, "pa", xs, "threshold")
    ycol = _column(frame, "pa", ys, "prediction-rate")
    acol = _column(frame, "pa", _PA_AREA_COLUMNS, "area")
    order = np.argsort(frame[xcol].to_numpy(float))
    x = frame[xcol].to_numpy(float)[order]
    positive = x[np.isfinite(x) & (x > 0)]
    # a skewed surface puts every threshold near 0 on a linear axis: use a log axis then
    log_axis = positive.size > 1 and positive.max() / positive.min() > 100
    ax.plot(x, frame[ycol].to_numpy(float)[order], lw=1.6, label="occurrences predicted")
    ax.plot(x, frame[acol].to_numpy(float)[order], lw=1.6, label="area occupied")
    if point and point.get("threshold") is not None and point.get("prediction_rate") is not None:
        px, py = float(point["threshold"]), float(point["prediction_rate"])
        ax.plot([px], [py], "o", color="black", ms=5, zorder=3)
        ax.annotate(
            f"{py:.0%} of occurrences in {1 - py:.0%} of area",
            (px, py),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize="x-small",
        )
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, ylim=(0, 1))
    if log_axis:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlim(max(positive.min(), positive.max() * 1e-4), positive.max())
        ax.set_xlabel(f"{xlabel} (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", frameon=False)


def plot_validation_curves(
    curves: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    dpi: int = PRINT_DPI,
    datasets: Sequence[str] | None = None,
    catalog: Any = None,
) -> Any:
    """Draw ROC, success-rate, prediction-rate and P–A curves side by side.

    Parameters
    ----------
    curves : mapping, or an object with curve attributes
        ``{"roc": df, "success_rate": df, "prediction_rate": df, "pa": df}`` (any subset,
        at least one), an object with those attributes, or one with a ``curves`` mapping.
        Column names:

        * ``roc``: ``fpr``, ``tpr``;
        * ``success_rate`` / ``prediction_rate``: ``area_fraction``, ``occurrence_fraction``
          (fraction of area ranked by decreasing prospectivity, fraction of occurrences inside);
        * ``pa``: ``threshold``, ``prediction_rate``, ``area_fraction``.

        A ``fold`` (or ``model``, ``region``, ``label``) column draws one line per group; an
        AUC in ``df.attrs["auc"]`` or an ``auc`` column is shown in the legend.  A
        :class:`geomap.models.ValidationReport` works as is (its ``curves``, its
        P–A intersection point and, without ``title``, its model and method).
    path : path-like, optional
        Write a PNG here (atomically).
    title : str, optional
        Figure title.
    dpi : int, default 300
        Resolution of the PNG.
    datasets : sequence of str, optional
        Catalog ids of the datasets behind the model; the PNG credits them in its ``Source``
        and ``Copyright`` text chunks (:func:`png_credit`).
    catalog : Catalog, optional
        For those credits; defaults to the project catalog.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        No curves, or a curve lacks the columns above (the message lists what it has).
    UnknownNameError
        A dataset in ``datasets`` is not in the catalog.

    Examples
    --------
    >>> import pandas as pd
    >>> roc = pd.DataFrame({"fpr": [0, 0.2, 1], "tpr": [0, 0.7, 1]})
    >>> fig = plot_validation_curves({"roc": roc})
    >>> [ax.get_title() for ax in fig.axes]
    ['ROC']
    """
    tables = {kind: _as_frame(kind, table) for kind, table in _curves_mapping(curves).items()}
    point = getattr(curves, "pa_intersection", None)
    if title is None and hasattr(curves, "model") and hasattr(curves, "method"):
        regions = [r for r in (getattr(curves, "train_region", None),) if r]
        test = getattr(curves, "test_region", None)
        if test and test not in regions:
            regions.append(f"tested on {test}")
        title = " — ".join([str(curves.model), str(curves.method).replace("_", " "), *regions])
    kinds = [k for k in CURVE_KINDS if k in tables]
    fig = _new_figure(3.4 * len(kinds), 3.6)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds, strict=True):
        if kind == "pa":
            _draw_pa(ax, tables[kind], point if isinstance(point, Mapping) else None)
        else:
            _draw_rate_curve(ax, kind, tables[kind])
    if title:
        fig.suptitle(textwrap.fill(title, width=int(14 * 3.4 * len(kinds))))
    literal_text(fig)
    if path is not None:
        save_figure(fig, path, dpi=dpi, metadata=png_credit(datasets or (), catalog=catalog))
    return fig


def _xy_extent(data: Any) -> tuple[float, float, float, float]:
    left, bottom, right, top = data.rio.bounds()
    return float(left), float(right), float(bottom), float(top)


def _km_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value / 1000:,.0f}")


def _scale_bar(ax: Any, width_m: float, crs: Any) -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    if unit not in ("metre", "meter"):
        return
    target = width_m / 5
    magnitude = 10 ** np.floor(np.log10(target))
    length = max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData, length, label, "lower left", frameon=False, size_vertical=width_m / 300
    )
    ax.add_artist(bar)


def plot_prospectivity(
    prospectivity: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    occurrences: Any = None,
    boundaries: Any = None,
    targets: Any = None,
    title: str | None = None,
    occurrences_label: str = "Occurrences",
    style: str = "classes",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    dpi: int = PRINT_DPI,
    max_pixels: int = 4_000_000,
    datasets: Sequence[str] | None = None,
    catalog: Any = None,
) -> Any:
    """Map a prospectivity surface in its analysis CRS with occurrences on top.

    Parameters
    ----------
    prospectivity : xarray.DataArray
        Dims ``("y", "x")`` with a projected CRS.  Dask-backed arrays larger than
        ``max_pixels`` are decimated (every n-th cell) before being read, for display only.
    path : path-like, optional
        Write a PNG here (atomically).
    occurrences, boundaries, targets : GeoDataFrame, optional
        Drawn on top; each must have a CRS and is reprojected to the raster's CRS for display.
        Occurrences on cells without data (outside the study area: a region's box reaches
        into neighbouring countries, and a model leaves such sites out) are grey crosses
        with their own legend entry and count, not white circles.
    title : str, optional
        Axes title (wrapped to the figure's width); defaults to the raster's ``long_name``.
    occurrences_label : str, default "Occurrences"
        Legend text of the occurrence markers (e.g. ``"Training occurrences"``).
    style : {"classes", "stretch", "linear"}, default "classes"
        ``"classes"``: classes by share of the study area (top 1, 5, 10, 20, 50 %, rest;
        :mod:`geomap.classes`), the same classes as the HTML map, the GeoPackage and the COG
        colour table; ``"stretch"``: continuous between the 2nd and 98th percentiles;
        ``"linear"``: ``vmin``..``vmax`` (default the data range).
    cmap : str, default "viridis"
        Matplotlib colormap of the continuous styles.
    vmin, vmax : float, optional
        Colour range of ``style="linear"``.
    dpi : int, default 300
        Resolution of the PNG.
    max_pixels : int, default 4,000,000
        Largest number of cells drawn.
    datasets : sequence of str, optional
        Catalog ids of the datasets behind the map: a small credit line (ids and licences)
        is drawn under it, and the PNG credits them in full in its ``Source`` and
        ``Copyright`` text chunks (:func:`png_credit`).
    catalog : Catalog, optional
        For those credits; defaults to the project catalog.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    CRSError
        The raster or a vector layer has no CRS.
    DataError
        The raster is not 2-D ``(y, x)``.
    UnknownNameError
        A dataset in ``datasets`` is not in the catalog.
    """
    data = _check_raster(prospectivity, "prospectivity")
    crs = data.rio.crs
    step = max(1, int(np.ceil(np.sqrt(data.size / max_pixels))))
    shown = data.isel(y=slice(None, None, step), x=slice(None, None, step)) if step > 1 else data
    values = np.asarray(shown.values, dtype="float64")
    left, right, bottom, top = _xy_extent(data)
    fig = _new_figure(7.5, 6.0)
    ax = fig.add_subplot()
    origin = "upper" if float(data.y[0]) > float(data.y[-1]) else "lower"
    label = str(data.attrs.get("long_name") or data.name or "prospectivity")
    units = data.attrs.get("units")
    if units in ("1", ""):
        units = None
    handles: list[Any] = []
    legend_title = "Share of the study area"
    if style == "classes":
        from matplotlib.colors import BoundaryNorm, ListedColormap
        from matplotlib.patches import Patch

        from geomap import styles
        from geomap.classes import area_share_classes

        classes = area_share_classes(data)
        # classified on the whole grid (the tie rule needs cell positions), then decimated
        codes = np.asarray(classes.classify(data)[::step, ::step], dtype="float64")
        codes[codes == 0] = np.nan
        if classes.tie_note:
            legend_title += "\n(equal values split by\nnearness to higher values)"
        colors = list(styles.PROSPECTIVITY_CLASS_COLORS)
        ax.imshow(
            np.ma.masked_invalid(codes),
            extent=(left, right, bottom, top),
            origin=origin,
            cmap=ListedColormap(colors),
            norm=BoundaryNorm(np.arange(0.5, len(colors) + 1.5), len(colors)),
            interpolation="nearest",
        )
        handles = [
            Patch(facecolor=c, edgecolor="0.5", linewidth=0.4, label=text)
            for c, text in zip(colors, classes.labels, strict=True)
        ]
    elif style in ("stretch", "linear"):
        if style == "stretch" and vmin is None and vmax is None:
            from geomap.classes import percentile_stretch

            vmin, vmax = percentile_stretch(values)
        image = ax.imshow(
            np.ma.masked_invalid(values),
            extent=(left, right, bottom, top),
            origin=origin,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"{label} ({units})" if units else label)
    else:
        raise DataError(f"style {style!r} is unknown; use 'classes', 'stretch' or 'linear'")
    if boundaries is not None and len(boundaries):
        _to_crs(boundaries, crs).plot(ax=ax, facecolor="none", edgecolor="0.35", linewidth=0.5)
    if targets is not None and len(targets):
        from matplotlib.patches import Patch

        from geomap import styles

        # outlines only, thin: a target is a few cells wide at print scale, and a thick
        # edge fills it in (it read as a black blot)
        target_color = str(styles.LAYER_STYLES["target"]["color"])
        _to_crs(targets, crs).plot(
            ax=ax, facecolor="none", edgecolor=target_color, linewidth=0.35, zorder=2
        )
        handles.append(
            Patch(facecolor="none", edgecolor=target_color, linewidth=0.8, label="Targets")
        )
    if occurrences is not None and len(occurrences):
        handles.extend(_plot_sites(ax, _to_crs(occurrences, crs), data, occurrences_label))
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="x-small",
            frameon=False,
            title=legend_title if style == "classes" else None,
            title_fontsize="x-small",
        )
    ax.set(xlim=(left, right), ylim=(bottom, top))
    ax.xaxis.set_major_formatter(_km_formatter())
    ax.yaxis.set_major_formatter(_km_formatter())
    ax.set_xlabel(f"Easting (km), {_pyproj_crs(crs).name}")
    ax.set_ylabel("Northing (km)")
    ax.tick_params(labelsize="small")
    ax.set_title(textwrap.fill(title or label, width=60), fontsize="medium")
    _scale_bar(ax, right - left, _pyproj_crs(crs))
    ids = list(dict.fromkeys(str(d) for d in datasets or ()))
    if ids and catalog is None:
        from geomap.catalog import load_catalog

        catalog = load_catalog()
    credit = png_credit(ids, catalog=catalog)
    if credit:
        text = textwrap.fill(_credit_line(ids, catalog), width=_CREDIT_LINE_CHARS)
        fig.supxlabel(text, x=0.01, ha="left", fontsize=5, color="0.35", linespacing=1.2)
    literal_text(fig)
    if path is not None:
        save_figure(fig, path, dpi=dpi, metadata=credit)
    return fig


def _plot_sites(ax: Any, sites: Any, raster: Any, label: str) -> list[Any]:
    """Draw sites as white circles, those off the raster's data as grey crosses.

    Sites on cells without data lie outside the study area (a region's box reaches into
    neighbouring countries); they get their own legend entry and count.
    """
    from matplotlib.lines import Line2D

    from geomap.export.sites import on_data_cells

    inside = on_data_cells(sites, raster)
    handles = []
    if inside.any():
        sites[inside].plot(
            ax=ax, markersize=9, color="white", edgecolor="#111111", linewidth=0.6, zorder=3
        )
        text = f"{label} ({int(inside.sum()):,})" if not inside.all() else label
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                markerfacecolor="white",
                markeredgecolor="#111111",
                label=text,
            )
        )
    if not inside.all():
        outside = sites[~inside]
        outside.plot(ax=ax, markersize=10, marker="x", color="0.45", linewidth=0.7, zorder=3)
        handles.append(
            Line2D(
                [],
                [],
                marker="x",
                ls="",
                color="0.45",
                label=f"{label}\noutside the study area ({len(outside):,})",
            )
        )
    return handles


def _pyproj_crs(crs: Any) -> Any:
    import pyproj

    return pyproj.CRS.from_user_input(crs)


def _check_raster(data: Any, what: str) -> Any:
    if getattr(data, "dims", None) != ("y", "x"):
        raise DataError(
            f"the {what} raster has dims {getattr(data, 'dims', None)}; give a DataArray with "
            "dims ('y', 'x')"
        )
    if data.rio.crs is None:
        raise CRSError(f"the {what} raster has no CRS; set one with .rio.write_crs()")
    return data


def _to_crs(frame: Any, crs: Any) -> Any:
    if frame.crs is None:
        raise CRSError(
            "a vector layer drawn on the figure has no CRS; set it with .set_crs() "
            "(geomap never assumes EPSG:4326)"
        )
    return frame.to_crs(crs)
