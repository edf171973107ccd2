"""Side panels of the map: title, credits, sources and licences, tables, the target rows."""

from __future__ import annotations

from typing import Any

from geomap.core.safe_text import escape_html as escape  # html.escape, braces too
from geomap.errors import UnknownNameError

__all__ = ["credit_line", "sources_html", "table_html", "target_rows", "title_html"]


def title_html(b: Any) -> str:
    """Return the map's title box (escaped)."""
    sub = f"<small>{escape(b.subtitle)}</small>" if b.subtitle else ""
    return f'<div class="geomap-title">{escape(b.title)}{sub}</div>'


def credit_line(b: Any) -> str:
    """Return the short credit line of the attribution control."""
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


def sources_html(b: Any) -> str:
    """Return the *Sources and licences* panel (escaped)."""
    from geomap.core.safe_text import http_url

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


def target_rows(shown: Any) -> list[dict[str, Any]]:
    """Return the rows of the target table (rank, area, mean prospectivity, centroid, place)."""
    from geomap.styles import human_number

    frame = shown
    rows: list[dict[str, Any]] = []
    if "rank" not in frame.columns:
        return []
    bounds = frame.geometry.bounds
    for i, row in enumerate(frame.itertuples(index=False)):
        centroid = frame.geometry.iloc[i].centroid
        if "centroid_lon" in frame.columns and "centroid_lat" in frame.columns:
            lon, lat = _float(row.centroid_lon), _float(row.centroid_lat)
        else:
            lon, lat = centroid.x, centroid.y
        place = ", ".join(
            str(p) for p in (getattr(row, "state", None), getattr(row, "country", None)) if p
        )
        rows.append(
            {
                "rank": str(row.rank),
                "area": (
                    f"{human_number(_float(row.area_km2))} km²"
                    if "area_km2" in frame.columns
                    else ""
                ),
                "mean": (
                    human_number(_float(row.mean_prospectivity))
                    if "mean_prospectivity" in frame.columns
                    else ""
                ),
                "centroid": f"{lat:.3f}, {(lon + 540) % 360 - 180:.3f}",
                "place": place,
                "bounds": [
                    [float(bounds.miny.iloc[i]), float(bounds.minx.iloc[i])],
                    [float(bounds.maxy.iloc[i]), float(bounds.maxx.iloc[i])],
                ],
            }
        )
    return rows


def _float(value: Any) -> float:
    try:
        return float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return float("nan")


def table_html(title: str, frame: Any) -> str:
    """Return a small table in a collapsible panel (escaped by pandas)."""
    table = frame.head(50).to_html(index=False, escape=True, border=0, na_rep="")
    more = f"<p>… {len(frame) - 50} more rows</p>" if len(frame) > 50 else ""
    return f"<details><summary>{escape(title)}</summary>{table}{more}</details>"
