"""Rendering: offline interactive maps (folium + branca) and static figures (matplotlib).

Nothing here computes science: it draws rasters, vectors and curves produced by the other
stages.  Web Mercator appears only inside this package.  Heavy libraries (folium,
matplotlib) are imported on first use of a name.
"""

from __future__ import annotations

from geomap._lazy import lazy_exports

# public name -> module that defines it
_LAZY = {
    "MapBuilder": "geomap.render.maps",
    "MapPanel": "geomap.render.maps",
    "prospectivity_map": "geomap.render.maps",
    "joint_map": "geomap.render.maps",
    "save_map": "geomap.render.maps",
    "explore": "geomap.render.explore",
    "render_html": "geomap.render._html",
    "offline_basemap": "geomap.render.basemap",
    "ONLINE_BASEMAPS": "geomap.render.basemap",
    "plot_prospectivity": "geomap.render.figures",
    "plot_validation_curves": "geomap.render.figures",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
